"""HTTP adapters for accounts (admins)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.accounts import service
from app.accounts.schemas import UserChange, UserCreate, UserRead, UserUpdate
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.http import accepted_when_pending
from app.core.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute)


@router.get("/users", response_model=Page[UserRead])
@audited(AuditAction.USER_LIST, "user")
def list_users(principal: CurrentPrincipal, session: DbSession, page: PageQuery) -> Page[UserRead]:
    return service.list_users(session, principal, page)


@router.post(
    "/users",
    response_model=UserChange,
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": UserChange, "description": "Made; waits for a second admin"}},
)
@audited(AuditAction.USER_CREATE, "user")
def create_user(
    data: UserCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, response: Response
) -> UserChange:
    return accepted_when_pending(response, service.create_user(session, runtime, principal, data))


@router.post(
    "/users/{user_id}/reset-password",
    response_model=UserChange,
    status_code=status.HTTP_202_ACCEPTED,
)
@audited(AuditAction.USER_RESET_PASSWORD, "user", id_param="user_id")
def reset_password(
    user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> UserChange:
    return service.reset_password(session, runtime, principal, user_id)


@router.patch("/users/{user_id}", response_model=UserChange)
@audited(AuditAction.USER_UPDATE, "user", id_param="user_id")
def update_user(
    user_id: uuid.UUID,
    data: UserUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    response: Response,
) -> UserChange:
    return accepted_when_pending(response, service.update_user(session, runtime, principal, user_id, data))


@router.post("/users/{user_id}/revoke-sessions", response_model=UserRead)
@audited(AuditAction.USER_REVOKE, "user", id_param="user_id")
def revoke_sessions(user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> UserRead:
    return service.revoke_sessions(session, principal, user_id)


@router.post("/users/{user_id}/reset-2fa", response_model=UserRead)
@audited(AuditAction.USER_RESET_2FA, "user", id_param="user_id")
def reset_2fa(user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> UserRead:
    return service.reset_second_factor(session, principal, user_id)
