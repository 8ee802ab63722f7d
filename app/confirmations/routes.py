"""HTTP adapters for two-person confirmations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.confirmations import service
from app.confirmations.schemas import ConfirmationDecision, ConfirmationPage, ConfirmationRead, Status

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["confirmations"])


@router.get("/confirmations", response_model=ConfirmationPage)
@audited(AuditAction.CONFIRMATION_LIST, "confirmation")
def list_confirmations(
    principal: CurrentPrincipal,
    session: DbSession,
    status: Status | None = None,
    cursor: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> ConfirmationPage:
    return service.list_confirmations(session, principal, status=status, cursor=cursor, limit=limit)


@router.post("/confirmations/{confirmation_id}", response_model=ConfirmationRead)
@audited(AuditAction.CONFIRMATION_DECIDE, "confirmation", id_param="confirmation_id")
def decide(
    confirmation_id: uuid.UUID,
    data: ConfirmationDecision,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> ConfirmationRead:
    return service.decide_confirmation(session, runtime, principal, confirmation_id, data.decision == "confirm")
