"""Managing accounts, and two-person confirmations."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.auth import revoke_all
from app.access.models import Confirmation, RecoveryCode, User
from app.access.principal import Principal
from app.access.roles import CONTENT_ROLES, Role, incompatible
from app.access.schemas import ConfirmationRead, UserChange, UserCreate, UserRead, UserUpdate
from app.audit import service as audit
from app.cases.models import CaseMember
from app.db import db_now, new_id
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.runtime import Runtime

GRANT_ROLES = "user.grant_roles"
ADD_MEMBER = "case.add_member"


def _check_roles(roles: frozenset[Role]) -> None:
    problem = incompatible(roles)
    if problem:
        raise ValidationFailed(problem, fields=["roles"])


def _not_self(principal: Principal, user_id: uuid.UUID, what: str) -> None:
    if principal.user_id == user_id:
        raise Forbidden(f"no one changes their own {what}", code="self_change")


def _get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound
    return user


def one_time_password() -> str:
    return secrets.token_urlsafe(15)


def create_user(session: Session, runtime: Runtime, principal: Principal, data: UserCreate) -> UserChange:
    """A new account with a one-time password. Content-reading roles wait for a second admin
    (the command line, acting with shell access, grants them at once)."""
    policy.require(principal, policy.Action.USER_CREATE)
    roles = frozenset(data.roles)
    _check_roles(roles)
    if session.scalars(select(User.id).where(User.username == data.username)).first() is not None:
        raise Conflict("that username is taken", fields=["username"])
    now = db_now(session)
    deferred = bool(policy.needing_second_admin(roles)) and not principal.is_system
    password = one_time_password()
    user = User(
        id=new_id(),
        username=data.username,
        display_name=data.display_name,
        roles=sorted(roles - policy.needing_second_admin(roles)) if deferred else sorted(roles),
        active=True,
        password_hash=runtime.passwords.hash(password),
        password_change_required=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    audit.touch(session, resource_id=user.id)
    asked = _grant_request(session, runtime, principal, user, roles) if deferred else None
    return UserChange(user=UserRead.model_validate(user), one_time_password=password, pending_confirmation=asked)


def list_users(session: Session, principal: Principal) -> list[UserRead]:
    policy.require(principal, policy.Action.USER_READ)
    return [UserRead.model_validate(u) for u in session.scalars(select(User).order_by(User.username))]


def update_user(
    session: Session, runtime: Runtime, principal: Principal, user_id: uuid.UUID, data: UserUpdate
) -> UserChange:
    policy.require(principal, policy.Action.USER_UPDATE)
    user = _get_user(session, user_id)
    now = db_now(session)
    pending = None
    if data.roles is not None or data.active is False:
        _not_self(principal, user.id, "roles or account status")
    if data.roles is not None and frozenset(data.roles) != frozenset(Role(r) for r in user.roles):
        policy.require_step_up(principal, policy.Action.USER_UPDATE, now)
        new = frozenset(data.roles)
        _check_roles(new)
        added = new - frozenset(Role(r) for r in user.roles)
        if policy.needing_second_admin(added) and not principal.is_system:
            pending = _grant_request(session, runtime, principal, user, new)
        else:
            user.roles = sorted(new)
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.active is not None and data.active != user.active:
        user.active = data.active
        if not data.active:
            revoke_all(session, user.id)
    user.updated_at = now
    session.flush()
    return UserChange(user=UserRead.model_validate(user), pending_confirmation=pending)


def revoke_sessions(session: Session, principal: Principal, user_id: uuid.UUID) -> UserRead:
    """End every session and token of a user, e.g. after a lost device."""
    policy.require(principal, policy.Action.USER_REVOKE)
    user = _get_user(session, user_id)
    revoke_all(session, user.id)
    return UserRead.model_validate(user)


def reset_second_factor(session: Session, principal: Principal, user_id: uuid.UUID) -> UserRead:
    """Remove a user's 2FA so they enrol again at next login; their sessions end."""
    policy.require(principal, policy.Action.USER_RESET_2FA)
    user = _get_user(session, user_id)
    _not_self(principal, user.id, "second factor")
    policy.require_step_up(principal, policy.Action.USER_RESET_2FA, db_now(session))
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(code)
    revoke_all(session, user.id)
    user.updated_at = db_now(session)
    return UserRead.model_validate(user)


# Two-person actions ---------------------------------------------------------


def _grant_request(
    session: Session, runtime: Runtime, principal: Principal, user: User, roles: frozenset[Role]
) -> ConfirmationRead:
    if pending(session, GRANT_ROLES, user.id):
        raise Conflict("a role change for this account is already waiting for a second admin")
    payload: dict[str, object] = {"roles": sorted(roles), "from_roles": sorted(user.roles)}
    return request_confirmation(session, runtime, principal, GRANT_ROLES, user.id, payload)


def request_confirmation(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    action: str,
    target_id: uuid.UUID,
    payload: dict[str, object],
) -> ConfirmationRead:
    """Open a two-person request; other domains use this for their own two-person rules."""
    assert principal.user_id is not None
    now = db_now(session)
    row = Confirmation(
        id=new_id(),
        action=action,
        target_id=target_id,
        payload=payload,
        requested_by=principal.user_id,
        created_at=now,
        expires_at=now + timedelta(hours=runtime.settings.session.confirmation_hours),
        status="pending",
    )
    session.add(row)
    session.flush()
    return ConfirmationRead.model_validate(row)


def _expire(row: Confirmation, now: datetime) -> None:
    if row.status == "pending" and row.expires_at <= now:
        row.status = "expired"


def list_confirmations(session: Session, principal: Principal, status: str | None = None) -> list[ConfirmationRead]:
    policy.require(principal, policy.Action.CONFIRMATION_READ)
    now = db_now(session)
    rows = session.scalars(select(Confirmation).order_by(Confirmation.created_at.desc())).all()
    for row in rows:
        _expire(row, now)
    return [ConfirmationRead.model_validate(r) for r in rows if status is None or r.status == status]


def decide(session: Session, principal: Principal, confirmation_id: uuid.UUID, confirm: bool) -> ConfirmationRead:
    """A second eligible user confirms (or rejects) a pending request; never the requester."""
    policy.require(principal, policy.Action.CONFIRMATION_DECIDE)
    row = session.get(Confirmation, confirmation_id)
    if row is None:
        raise NotFound
    now = db_now(session)
    _expire(row, now)
    if row.status != "pending":
        raise Conflict(f"this request is {row.status}")
    if row.requested_by == principal.user_id:
        raise Forbidden("a second person must confirm this request", code="same_person")
    if _affected_user(row) == principal.user_id:
        raise Forbidden("no one confirms a change to their own access", code="self_change")
    policy.require_step_up(principal, policy.Action.CONFIRMATION_DECIDE, now)
    void_reason = _apply(session, row, now) if confirm else None
    # A request the account has outgrown while it waited is closed as void, not applied.
    row.status = "void" if void_reason else "confirmed" if confirm else "rejected"
    if void_reason:
        row.payload = {**row.payload, "void_reason": void_reason}
    row.decided_by = principal.user_id
    row.decided_at = now
    session.flush()
    return ConfirmationRead.model_validate(row)


def team_member_problem(user: User | None) -> str | None:
    """Why this account cannot join a case team, or None."""
    if user is None or not user.active:
        return "no active user with that id"
    if not frozenset(Role(r) for r in user.roles) & CONTENT_ROLES:
        return "only documenters, legal and custodians join case teams"
    return None


def pending(session: Session, action: str, target_id: uuid.UUID) -> list[Confirmation]:
    rows = session.scalars(
        select(Confirmation).where(
            Confirmation.action == action, Confirmation.target_id == target_id, Confirmation.status == "pending"
        )
    ).all()
    now = db_now(session)
    return [r for r in rows if r.expires_at > now]


def _affected_user(row: Confirmation) -> uuid.UUID:
    if row.action == ADD_MEMBER:
        return uuid.UUID(str(row.payload["user_id"]))
    return row.target_id


def _apply(session: Session, row: Confirmation, now: datetime) -> str | None:
    """Carry out a confirmed request; or say why it no longer applies."""
    if row.action == GRANT_ROLES:
        user = _get_user(session, row.target_id)
        if not user.active:
            return "the account was disabled while the request waited"
        asked_from = row.payload.get("from_roles")
        if asked_from is not None and sorted(user.roles) != sorted(str(r) for r in _as_list(asked_from)):
            return "the account's roles changed while the request waited"
        roles = frozenset(Role(str(r)) for r in _as_list(row.payload.get("roles")))
        _check_roles(roles)
        user.roles = sorted(roles)
        user.updated_at = now
        return None
    if row.action == ADD_MEMBER:
        user_id = uuid.UUID(str(row.payload["user_id"]))
        problem = team_member_problem(session.get(User, user_id))
        if problem:
            return problem
        if session.get(CaseMember, (row.target_id, user_id)) is None:
            session.add(CaseMember(case_id=row.target_id, user_id=user_id, added_at=now, added_by=row.requested_by))
        return None
    return "this kind of request is not known to this version"


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


FIRST_ADMIN = "admin"


def create_first_admin(session: Session, runtime: Runtime, principal: Principal) -> UserChange | None:
    """The first admin account, made by `testimony init` when there is no account at all."""
    policy.require(principal, policy.Action.USER_CREATE)
    if session.scalars(select(User.id).limit(1)).first() is not None:
        return None
    data = UserCreate(username=FIRST_ADMIN, display_name="First administrator", roles=[Role.ADMIN])
    return create_user(session, runtime, principal, data)


def user_id_by_name(session: Session, principal: Principal, username: str) -> uuid.UUID:
    policy.require(principal, policy.Action.USER_READ)
    user_id = session.scalars(select(User.id).where(User.username == username.casefold())).first()
    if user_id is None:
        raise NotFound(f"no account named {username}")
    return user_id


def usernames(session: Session, principal: Principal, user_ids: list[uuid.UUID]) -> list[str]:
    policy.require(principal, policy.Action.USER_READ)
    return list(session.scalars(select(User.username).where(User.id.in_(user_ids))))
