"""HTTP adapters for legal holds and erasure requests."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.erasure import holds, service
from app.erasure.schemas import (
    DecisionIn,
    ErasureIn,
    ErasureRead,
    ErasureState,
    LegalHoldIn,
    LegalHoldRead,
    LiftIn,
    RefuseIn,
)

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["erasure"])


@router.post("/people/{person_id}/legal-hold", response_model=LegalHoldRead, status_code=status.HTTP_202_ACCEPTED)
@audited(AuditAction.LEGAL_HOLD_REQUEST, "person", id_param="person_id")
def request_hold(
    person_id: uuid.UUID, data: LegalHoldIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> LegalHoldRead:
    """A custodian asks for a legal hold; it holds once a second custodian confirms it."""
    return holds.request_hold(session, runtime, principal, person_id, data)


@router.delete("/people/{person_id}/legal-hold", response_model=LegalHoldRead)
@audited(AuditAction.LEGAL_HOLD_LIFT, "person", id_param="person_id")
def lift_hold(
    person_id: uuid.UUID, data: LiftIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> LegalHoldRead:
    return holds.lift_hold(session, runtime, principal, person_id, data)


@router.post("/legal-holds/{hold_id}/decision", response_model=LegalHoldRead)
@audited(AuditAction.LEGAL_HOLD_CONFIRM, "legal_hold", id_param="hold_id")
def decide_hold(
    hold_id: uuid.UUID, data: DecisionIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> LegalHoldRead:
    return holds.decide_hold(session, runtime, principal, hold_id, data)


@router.post("/people/{person_id}/erase", response_model=ErasureRead, status_code=status.HTTP_202_ACCEPTED)
@audited(AuditAction.ERASURE_REQUEST, "person", id_param="person_id")
def request_erasure(
    person_id: uuid.UUID, data: ErasureIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ErasureRead:
    """A custodian asks for the person's erasure; it is carried out once a second custodian confirms it."""
    return service.request_erasure(session, runtime, principal, person_id, data)


@router.get("/erasures", response_model=Page[ErasureRead])
@audited(AuditAction.ERASURE_LIST, "erasure")
def list_erasures(
    principal: CurrentPrincipal, session: DbSession, page: PageQuery, state: ErasureState | None = None
) -> Page[ErasureRead]:
    return service.list_erasures(session, principal, state, page)


@router.post("/erasures/{erasure_id}/decision", response_model=ErasureRead)
@audited(AuditAction.ERASURE_CONFIRM, "erasure", id_param="erasure_id")
def decide_erasure(
    erasure_id: uuid.UUID, data: DecisionIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ErasureRead:
    return service.decide_erasure(session, runtime, principal, erasure_id, data)


@router.post("/erasures/{erasure_id}/refuse", response_model=ErasureRead)
@audited(AuditAction.ERASURE_REFUSE, "erasure", id_param="erasure_id")
def refuse_erasure(
    erasure_id: uuid.UUID, data: RefuseIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ErasureRead:
    return service.refuse_erasure(session, runtime, principal, erasure_id, data)
