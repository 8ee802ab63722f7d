"""HTTP adapters for cases and teams."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.cases import service
from app.cases.schemas import CaseCreate, CaseRead, MemberAdd, MemberChange, MemberRead
from app.core.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1/cases", route_class=UnitOfWorkRoute, tags=["cases"])


@router.post("", response_model=CaseRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.CASE_CREATE, "case")
def create_case(data: CaseCreate, principal: CurrentPrincipal, session: DbSession) -> CaseRead:
    return service.create_case(session, principal, data)


@router.get("", response_model=Page[CaseRead])
@audited(AuditAction.CASE_LIST, "case")
def list_cases(principal: CurrentPrincipal, session: DbSession, page: PageQuery) -> Page[CaseRead]:
    return service.list_cases(session, principal, page)


@router.get("/{case_id}", response_model=CaseRead)
@audited(AuditAction.CASE_READ, "case", id_param="case_id")
def get_case(case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> CaseRead:
    return service.get_case(session, principal, case_id)


@router.get("/{case_id}/members", response_model=Page[MemberRead])
@audited(AuditAction.CASE_MEMBERS_READ, "case", id_param="case_id")
def list_members(
    case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[MemberRead]:
    return service.list_members(session, principal, case_id, page)


@router.post("/{case_id}/members", response_model=MemberChange, status_code=status.HTTP_202_ACCEPTED)
@audited(AuditAction.CASE_MEMBER_ADD, "user")
def add_member(
    case_id: uuid.UUID,
    data: MemberAdd,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    response: Response,
) -> MemberChange:
    change = service.add_member(session, runtime, principal, case_id, data)
    if change.member is not None:
        response.status_code = status.HTTP_201_CREATED
    return change


@router.delete("/{case_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
@audited(AuditAction.CASE_MEMBER_REMOVE, "user", id_param="user_id")
def remove_member(case_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> None:
    service.remove_member(session, principal, case_id, user_id)
