"""Admins manage accounts: the list, a new account, roles and whether it works, a password or second-factor
reset and ending sessions. The same services as /api/v1/users: a role that reads content, a new account and
a password reset wait for a second admin, and the one-time password is shown in two halves, once each."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.access.deps import RuntimeDep
from app.access.principal import Principal
from app.accounts import service as accounts
from app.accounts.schemas import UserCreate, UserUpdate
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.confirmations import service as confirmations
from app.confirmations.schemas import Status
from app.core.pagination import PageQuery
from app.web import admin, render
from app.web.deps import Lists, PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

USERS = "/admin/users"
USER = "/admin/users/{user_id}"


def user_url(user_id: uuid.UUID, done: str = "") -> str:
    return admin.at(USER.format(user_id=user_id), done)


def _users(request: Request, session: Session, principal: Principal, page: PageQuery) -> dict[str, Any]:
    listed = accounts.list_users(session, principal, page)
    return admin.common(request, session, principal, USERS) | {
        "users": listed.items,
        "next_cursor": listed.next_cursor,
        "created": None,
        "values": {},
    }


@router.get(USERS)
@audited(AuditAction.USER_LIST, "user")
def users_page(request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery) -> Response:
    """Every account, and the form for a new one."""
    return render.page(request, "admin_users.html", _users(request, session, principal, page))


@router.post(USERS)
@audited(AuditAction.USER_CREATE, "user")
def create_user(
    request: Request,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    values: Posted,
    lists: Lists,
) -> Response:
    """A new account with no role yet: the first half of its one-time password is shown here, once; the
    second admin who confirms the request sees the second half."""
    context = _users(request, session, principal, page)
    kept = {k: values.get(k, "") for k in ("username", "display_name")} | {"roles": lists.get("roles", [])}
    on_error(request, "admin_users.html", **(context | {"values": kept}))
    data = parse(
        UserCreate,
        username=values.get("username", "").strip(),
        display_name=values.get("display_name", ""),
        roles=lists.get("roles", []),
    )
    created = accounts.create_user(session, runtime, principal, data)
    return render.page(request, "admin_users.html", _users(request, session, principal, page) | {"created": created})


def _user(request: Request, session: Session, principal: Principal, user_id: uuid.UUID) -> dict[str, Any]:
    user = accounts.get_user(session, principal, user_id)
    pending = confirmations.list_confirmations(session, principal, status=Status.PENDING, limit=confirmations.MAX_PAGE)
    return admin.common(request, session, principal, user_url(user_id), step_up=True) | {
        "user": user,
        "waiting": [admin.kind_of(request, c) for c in pending.items if c.target_id == user.id],
        "saved": None,
        "reset": None,
    }


@router.get(USER)
@audited(AuditAction.USER_LIST, "user", id_param="user_id")
def user_page(
    request: Request, user_id: uuid.UUID, principal: PagePrincipal, session: DbSession, done: str = ""
) -> Response:
    """One account: its roles and status, and the actions on it."""
    context = _user(request, session, principal, user_id) | {"saved": done or None}
    return render.page(request, "admin_user.html", context)


@router.post(USER)
@audited(AuditAction.USER_UPDATE, "user", id_param="user_id")
def update_user(
    request: Request,
    user_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
    lists: Lists,
) -> Response:
    """Name, roles and whether the account works; a role that reads content, admin, or re-enabling such an
    account waits for a second admin. Changing roles or status needs a fresh second factor."""
    on_error(request, "admin_user.html", **_user(request, session, principal, user_id))
    data = parse(
        UserUpdate,
        display_name=values.get("display_name") or None,
        roles=lists.get("roles", []),
        active=values.get("active") == "yes",
    )
    change = accounts.update_user(session, runtime, principal, user_id, data)
    return render.redirect(user_url(user_id, "asked" if change.pending_confirmation else "saved"))


@router.post(f"{USER}/reset-password")
@audited(AuditAction.USER_RESET_PASSWORD, "user", id_param="user_id")
def reset_password(
    request: Request, user_id: uuid.UUID, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep
) -> Response:
    """Every session of the account ends; the first half of a new one-time password is shown here, once."""
    on_error(request, "admin_user.html", **_user(request, session, principal, user_id))
    reset = accounts.reset_password(session, runtime, principal, user_id)
    return render.page(request, "admin_user.html", _user(request, session, principal, user_id) | {"reset": reset})


@router.post(f"{USER}/reset-2fa")
@audited(AuditAction.USER_RESET_2FA, "user", id_param="user_id")
def reset_second_factor(request: Request, user_id: uuid.UUID, principal: PagePrincipal, session: DbSession) -> Response:
    """The account enrols a second factor again at its next login; its sessions end."""
    on_error(request, "admin_user.html", **_user(request, session, principal, user_id))
    accounts.reset_second_factor(session, principal, user_id)
    return render.redirect(user_url(user_id, "second_factor"))


@router.post(f"{USER}/revoke-sessions")
@audited(AuditAction.USER_REVOKE, "user", id_param="user_id")
def revoke_sessions(request: Request, user_id: uuid.UUID, principal: PagePrincipal, session: DbSession) -> Response:
    """Every session and API token of the account ends (a lost device, a worry)."""
    on_error(request, "admin_user.html", **_user(request, session, principal, user_id))
    accounts.revoke_sessions(session, principal, user_id)
    return render.redirect(user_url(user_id, "sessions"))
