"""HTTP adapters for the recipient registry and the deny-list."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent.vocabulary import RecipientClass
from app.core.http import accepted_when_pending
from app.core.pagination import Page, PageQuery
from app.recipients import deny_list, service
from app.recipients.schemas import (
    DenyListChange,
    DenyListRead,
    DenyListUpdate,
    RecipientChange,
    RecipientCreate,
    RecipientRead,
    RecipientUpdate,
)

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["recipients"])


@router.get("/recipients", response_model=Page[RecipientRead])
@audited(AuditAction.RECIPIENT_LIST, "recipient")
def list_recipients(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    recipient_class: RecipientClass | None = None,
    active: bool | None = None,
) -> Page[RecipientRead]:
    return service.list_recipients(session, principal, page, recipient_class=recipient_class, active=active)


@router.post(
    "/recipients",
    response_model=RecipientChange,
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": RecipientChange, "description": "Asked; registered when a second admin confirms"}},
)
@audited(AuditAction.RECIPIENT_CREATE, "recipient")
def create_recipient(
    data: RecipientCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, response: Response
) -> RecipientChange:
    return accepted_when_pending(response, service.create_recipient(session, runtime, principal, data))


@router.get("/recipients/{recipient_id}", response_model=RecipientRead)
@audited(AuditAction.RECIPIENT_READ, "recipient", id_param="recipient_id")
def get_recipient(recipient_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> RecipientRead:
    return service.get_recipient(session, principal, recipient_id)


@router.patch(
    "/recipients/{recipient_id}",
    response_model=RecipientChange,
    responses={202: {"model": RecipientChange, "description": "Class, jurisdiction or key wait for a second admin"}},
)
@audited(AuditAction.RECIPIENT_UPDATE, "recipient", id_param="recipient_id")
def update_recipient(
    recipient_id: uuid.UUID,
    data: RecipientUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    response: Response,
) -> RecipientChange:
    return accepted_when_pending(response, service.update_recipient(session, runtime, principal, recipient_id, data))


@router.get("/deny-list", response_model=DenyListRead)
@audited(AuditAction.DENY_LIST_READ, "deny_list")
def get_deny_list(principal: CurrentPrincipal, session: DbSession) -> DenyListRead:
    return deny_list.get_deny_list(session, principal)


@router.put(
    "/deny-list",
    response_model=DenyListChange,
    responses={202: {"model": DenyListChange, "description": "Asked; in force when a second admin confirms"}},
)
@audited(AuditAction.DENY_LIST_UPDATE, "deny_list")
def set_deny_list(
    data: DenyListUpdate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, response: Response
) -> DenyListChange:
    return accepted_when_pending(response, deny_list.set_deny_list(session, runtime, principal, data))
