"""Managing accounts, and two-person confirmations."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.auth import revoke_all
from app.access.models import CaseMember, Confirmation, RecoveryCode, User
from app.access.principal import Principal
from app.access.roles import CONTENT_ROLES, Role, incompatible
from app.access.schemas import ConfirmationRead, UserChange, UserCreate, UserRead, UserUpdate
from app.audit import service as audit
from app.core.db import db_now, new_id
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.crypto import aead
from app.keys import datakeys

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

GRANT_ROLES = "user.grant_roles"
CREATE_ACCOUNT = "user.create"
RESET_PASSWORD = "user.reset_password"  # noqa: S105 - a request kind
ENABLE_ACCOUNT = "user.enable"
ADD_MEMBER = "case.add_member"
# Requests that hold the second half of a one-time password: one at a time per account.
CREDENTIAL_REQUESTS = (CREATE_ACCOUNT, RESET_PASSWORD)


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


HALF_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
HALF_LENGTH = 12  # 60 bits a half, 120 bits together


def one_time_password() -> str:
    return secrets.token_urlsafe(15)


def password_halves() -> tuple[str, str]:
    """Two halves of a one-time password; the owner types the first, then the second."""
    return tuple("".join(secrets.choice(HALF_ALPHABET) for _ in range(HALF_LENGTH)) for _ in range(2))  # type: ignore[return-value]


def create_user(session: Session, runtime: Runtime, principal: Principal, data: UserCreate) -> UserChange:
    """A new account whose one-time password no single admin ever holds.

    Through the API the account is made with no role and a one-time password in two halves:
    the requesting admin is shown the first, and the second is sealed until another admin
    confirms the request, is shown to that admin alone and then erased; the roles apply on
    confirmation. The command line (shell access on the server) gets the whole password and
    the roles at once.
    """
    policy.require(principal, policy.Action.USER_CREATE)
    roles = frozenset(data.roles)
    _check_roles(roles)
    if session.scalars(select(User.id).where(User.username == data.username)).first() is not None:
        raise Conflict("that username is taken", fields=["username"])
    now = db_now(session)
    if principal.is_system:
        password, half = one_time_password(), None
    else:
        half, second = password_halves()
        password = half + second
    user = User(
        id=new_id(),
        username=data.username,
        display_name=data.display_name,
        roles=sorted(roles) if principal.is_system else [],
        active=True,
        password_hash=runtime.passwords.hash(password),
        password_change_required=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    audit.touch(session, resource_id=user.id)
    if half is None:
        return UserChange(user=UserRead.model_validate(user), one_time_password=password)
    payload: dict[str, object] = {"roles": sorted(roles), "from_roles": []}
    asked = request_confirmation(session, runtime, principal, CREATE_ACCOUNT, user.id, payload, secret=second)
    return UserChange(user=UserRead.model_validate(user), one_time_password_half=half, pending_confirmation=asked)


def reset_password(session: Session, runtime: Runtime, principal: Principal, user_id: uuid.UUID) -> UserChange:
    """End every session and token of an account and give it a new one-time password, split
    between two admins as at creation (whole at once from the command line)."""
    policy.require(principal, policy.Action.USER_RESET_PASSWORD)
    user = _get_user(session, user_id)
    _not_self(principal, user.id, "password through an admin reset")
    now = db_now(session)
    policy.require_step_up(principal, policy.Action.USER_RESET_PASSWORD, now)
    if not principal.is_system and any(pending(session, kind, user.id) for kind in CREDENTIAL_REQUESTS):
        raise Conflict("a one-time password for this account is already waiting for a second admin")
    revoke_all(session, user.id)
    user.password_change_required = True
    user.updated_at = now
    if principal.is_system:
        password = one_time_password()
        user.password_hash = runtime.passwords.hash(password)
        return UserChange(user=UserRead.model_validate(user), one_time_password=password)
    half, second = password_halves()
    user.password_hash = runtime.passwords.hash(half + second)
    asked = request_confirmation(session, runtime, principal, RESET_PASSWORD, user.id, {}, secret=second)
    return UserChange(user=UserRead.model_validate(user), one_time_password_half=half, pending_confirmation=asked)


def list_users(session: Session, principal: Principal) -> list[UserRead]:
    policy.require(principal, policy.Action.USER_READ)
    return [UserRead.model_validate(u) for u in session.scalars(select(User).order_by(User.username))]


def update_user(
    session: Session, runtime: Runtime, principal: Principal, user_id: uuid.UUID, data: UserUpdate
) -> UserChange:
    policy.require(principal, policy.Action.USER_UPDATE)
    user = _get_user(session, user_id)
    now = db_now(session)
    asked: list[ConfirmationRead] = []
    current = frozenset(Role(r) for r in user.roles)
    changes_roles = data.roles is not None and frozenset(data.roles) != current
    changes_active = data.active is not None and data.active != user.active
    if changes_roles or changes_active:
        _not_self(principal, user.id, "roles or account status")
        # Any change of roles or of whether the account works needs a fresh second factor.
        policy.require_step_up(principal, policy.Action.USER_UPDATE, now)
    if changes_roles and data.roles is not None:
        new = frozenset(data.roles)
        _check_roles(new)
        if policy.needing_second_admin(new - current) and not principal.is_system:
            asked.append(_grant_request(session, runtime, principal, user, new))
        else:
            user.roles = sorted(new)
    if data.display_name is not None:
        user.display_name = data.display_name
    if changes_active and data.active:
        # Re-enabling an account that can read content, or administer, needs a second admin.
        if policy.needing_second_admin(current) and not principal.is_system:
            asked.append(_enable_request(session, runtime, principal, user))
        else:
            user.active = True
    elif changes_active:
        user.active = False
        revoke_all(session, user.id)
    if len(asked) > 1:
        raise ValidationFailed("change the roles and re-enable the account in two requests", fields=["active"])
    user.updated_at = now
    session.flush()
    return UserChange(user=UserRead.model_validate(user), pending_confirmation=asked[0] if asked else None)


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


def _enable_request(session: Session, runtime: Runtime, principal: Principal, user: User) -> ConfirmationRead:
    if pending(session, ENABLE_ACCOUNT, user.id):
        raise Conflict("re-enabling this account is already waiting for a second admin")
    return request_confirmation(session, runtime, principal, ENABLE_ACCOUNT, user.id, {"roles": sorted(user.roles)})


def _seal_secret(session: Session, runtime: Runtime, row_id: uuid.UUID, secret: str) -> bytes:
    key = datakeys.service_key(session, runtime.keys)
    return aead.seal(key, secret.encode(), table="confirmations", column="secret", row_id=row_id, person_id=None)


def _open_secret(session: Session, runtime: Runtime, row: Confirmation) -> str | None:
    if row.secret is None:
        return None
    key = datakeys.service_key(session, runtime.keys)
    return aead.open(key, row.secret, table="confirmations", column="secret", row_id=row.id, person_id=None).decode()


def request_confirmation(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    action: str,
    target_id: uuid.UUID,
    payload: dict[str, object],
    *,
    secret: str | None = None,
) -> ConfirmationRead:
    """Open a two-person request; other domains use this for their own two-person rules.

    A secret (the second half of a one-time password) is sealed with the request and shown
    only to the person who confirms it, once.
    """
    assert principal.user_id is not None
    now = db_now(session)
    row_id = new_id()
    row = Confirmation(
        id=row_id,
        action=action,
        target_id=target_id,
        payload=payload,
        requested_by=principal.user_id,
        created_at=now,
        expires_at=now + timedelta(hours=runtime.settings.session.confirmation_hours),
        status="pending",
        secret=_seal_secret(session, runtime, row_id, secret) if secret is not None else None,
    )
    session.add(row)
    session.flush()
    return _read(row, now)


def _status(row: Confirmation, now: datetime) -> str:
    """A pending request past its time reads as expired; reading never writes."""
    return "expired" if row.status == "pending" and row.expires_at <= now else row.status


def _read(row: Confirmation, now: datetime, half: str | None = None) -> ConfirmationRead:
    return ConfirmationRead.model_validate(
        {
            **{c: getattr(row, c) for c in ConfirmationRead.model_fields if hasattr(row, c)},
            "status": _status(row, now),
            "one_time_password_half": half,
        }
    )


def list_confirmations(session: Session, principal: Principal, status: str | None = None) -> list[ConfirmationRead]:
    policy.require(principal, policy.Action.CONFIRMATION_READ)
    now = db_now(session)
    rows = session.scalars(select(Confirmation).order_by(Confirmation.created_at.desc())).all()
    return [r for r in (_read(row, now) for row in rows) if status is None or r.status == status]


def decide_confirmation(
    session: Session, runtime: Runtime, principal: Principal, confirmation_id: uuid.UUID, confirm: bool
) -> ConfirmationRead:
    """A second eligible user confirms (or rejects) a pending request; never the requester.

    The row is locked first, so two admins deciding at once cannot both apply it.
    """
    policy.require(principal, policy.Action.CONFIRMATION_DECIDE)
    row = session.get(Confirmation, confirmation_id, with_for_update=True)
    if row is None:
        raise NotFound
    now = db_now(session)
    if _status(row, now) != "pending":
        raise Conflict(f"this request is {_status(row, now)}")
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
    half = _open_secret(session, runtime, row) if row.status == "confirmed" else None
    row.secret = None  # shown once, to the confirming admin, and then gone
    row.decided_by = principal.user_id
    row.decided_at = now
    session.flush()
    return _read(row, now, half)


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
    if row.action in (CREATE_ACCOUNT, RESET_PASSWORD, ENABLE_ACCOUNT):
        user = _get_user(session, row.target_id)
        # A password may be reset while the account is disabled (after a lost device, before it is
        # re-enabled); a new account that was disabled meanwhile is not activated.
        if row.action == CREATE_ACCOUNT and not user.active:
            return "the account was disabled while the request waited"
        if row.action == CREATE_ACCOUNT:
            if user.roles:
                return "the account's roles changed while the request waited"
            roles = frozenset(Role(str(r)) for r in _as_list(row.payload.get("roles")))
            _check_roles(roles)
            user.roles = sorted(roles)
        if row.action == ENABLE_ACCOUNT:
            if user.active:
                return "the account was enabled while the request waited"
            if sorted(user.roles) != sorted(str(r) for r in _as_list(row.payload.get("roles"))):
                return "the account's roles changed while the request waited"
            user.active = True
        user.updated_at = now
        return None
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
