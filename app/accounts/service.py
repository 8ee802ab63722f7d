"""Managing accounts, and the two-person kinds of request about them."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.auth import revoke_all
from app.access.models import CaseMember, RecoveryCode, User
from app.access.principal import Principal
from app.access.roles import Role, incompatible
from app.accounts.schemas import UserChange, UserCreate, UserRead, UserUpdate
from app.audit import service as audit
from app.confirmations import service as confirmations
from app.confirmations.models import Confirmation
from app.confirmations.schemas import ConfirmationRead
from app.core.db import db_now, new_id
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def _check_roles(roles: frozenset[Role]) -> None:
    problem = incompatible(roles)
    if problem:
        raise ValidationFailed(problem, fields=["roles"])


def _set_roles(session: Session, user: User, roles: frozenset[Role]) -> None:
    """Give an account its roles; one whose roles no longer join case teams leaves every team,
    so that a later grant never silently brings back the cases it had."""
    user.roles = sorted(roles)
    if not policy.may_join_team(roles):
        session.execute(delete(CaseMember).where(CaseMember.user_id == user.id))


def _load_account(
    session: Session, principal: Principal, action: policy.Action, user_id: uuid.UUID, *, lock: bool = False
) -> User:
    """The account to act on, named in the event: a command names it by username, with no id in a path."""
    user = policy.load(session, principal, action, User, user_id, lock=lock)
    audit.touch(session, resource_id=user.id)
    return user


def _get_user(session: Session, user_id: uuid.UUID) -> User:
    """An account, for applying a confirmed request (the engine has authorised the decision)."""
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
    user = User(
        id=new_id(),
        username=data.username,
        display_name=data.display_name,
        roles=sorted(roles) if policy.acts_at_once(principal) else [],
        active=True,
        password_hash="",  # set by _issue_one_time_password below, before anything is written
        password_change_required=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    audit.touch(session, resource_id=user.id)
    payload: dict[str, object] = {"roles": sorted(roles), "from_roles": []}
    return _issue_one_time_password(session, runtime, principal, user, CREATE_ACCOUNT, payload)


def reset_password(session: Session, runtime: Runtime, principal: Principal, user_id: uuid.UUID) -> UserChange:
    """End every session and token of an account and give it a new one-time password, split
    between two admins as at creation (whole at once from the command line)."""
    # The account row is held: a waiting request is checked for and opened as one step.
    user = _load_account(session, principal, policy.Action.USER_RESET_PASSWORD, user_id, lock=True)
    policy.not_self(principal, user.id, "password through an admin reset")
    now = db_now(session)
    policy.require_step_up(principal, policy.Action.USER_RESET_PASSWORD, now)
    if not policy.acts_at_once(principal) and any(
        confirmations.pending(session, kind, user.id) for kind in CREDENTIAL_REQUESTS
    ):
        raise Conflict("a one-time password for this account is already waiting for a second admin")
    revoke_all(session, user.id)
    if not user.password_change_required:
        # The owner's own password, perhaps the one that leaked; a one-time password replaced by
        # a second reset is not kept, so the owner's password stays the one refused.
        user.replaced_password_hash = user.password_hash
    user.password_change_required = True
    user.updated_at = now
    return _issue_one_time_password(session, runtime, principal, user, RESET_PASSWORD, {})


def _issue_one_time_password(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    user: User,
    kind: confirmations.Kind,
    payload: dict[str, object],
) -> UserChange:
    """Give the account a one-time password under the activation rule: whole to the command line;
    through the API in two halves, the first to the requester and the second sealed with a request
    of ``kind`` for the admin who confirms it."""
    if policy.acts_at_once(principal):
        password = one_time_password()
        user.password_hash = runtime.passwords.hash(password)
        session.flush()
        return UserChange(user=UserRead.model_validate(user), one_time_password=password)
    half, second = password_halves()
    user.password_hash = runtime.passwords.hash(half + second)
    session.flush()
    asked = confirmations.request_confirmation(session, runtime, principal, kind, user.id, payload, secret=second)
    return UserChange(user=UserRead.model_validate(user), one_time_password_half=half, pending_confirmation=asked)


def list_users(session: Session, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[UserRead]:
    """Accounts by username."""
    policy.require(principal, policy.Action.USER_READ)
    rows, cursor = keyset(session, select(User), User.username, page, str, lambda u: u.username)
    return Page[UserRead](items=[UserRead.model_validate(u) for u in rows], next_cursor=cursor)


def get_user(session: Session, principal: Principal, user_id: uuid.UUID) -> UserRead:
    """One account, as the list shows it."""
    return UserRead.model_validate(_load_account(session, principal, policy.Action.USER_READ, user_id))


def update_user(
    session: Session, runtime: Runtime, principal: Principal, user_id: uuid.UUID, data: UserUpdate
) -> UserChange:
    # The account row is held: a waiting request is checked for and opened as one step.
    user = _load_account(session, principal, policy.Action.USER_UPDATE, user_id, lock=True)
    now = db_now(session)
    asked: list[ConfirmationRead] = []
    current = frozenset(Role(r) for r in user.roles)
    changes_roles = data.roles is not None and frozenset(data.roles) != current
    changes_active = data.active is not None and data.active != user.active
    if changes_roles or changes_active:
        policy.not_self(principal, user.id, "roles or account status")
        # Any change of roles or of whether the account works needs a fresh second factor.
        policy.require_step_up(principal, policy.Action.USER_UPDATE, now)
    if changes_roles and data.roles is not None:
        new = frozenset(data.roles)
        _check_roles(new)
        if policy.needing_second_admin(new - current) and not policy.acts_at_once(principal):
            asked.append(_grant_request(session, runtime, principal, user, new))
        else:
            _set_roles(session, user, new)
    if data.display_name is not None:
        user.display_name = data.display_name
    if changes_active and data.active:
        # Re-enabling an account that can read content, or administer, needs a second admin.
        if policy.needing_second_admin(current) and not policy.acts_at_once(principal):
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
    user = _load_account(session, principal, policy.Action.USER_REVOKE, user_id)
    revoke_all(session, user.id)
    return UserRead.model_validate(user)


def reset_second_factor(session: Session, principal: Principal, user_id: uuid.UUID) -> UserRead:
    """Remove a user's 2FA so they enrol again at next login; their sessions end."""
    user = _load_account(session, principal, policy.Action.USER_RESET_2FA, user_id)
    policy.not_self(principal, user.id, "second factor")
    policy.require_step_up(principal, policy.Action.USER_RESET_2FA, db_now(session))
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(code)
    revoke_all(session, user.id)
    user.updated_at = db_now(session)
    return UserRead.model_validate(user)


# Two-person requests ----------------------------------------------------------


def _grant_request(
    session: Session, runtime: Runtime, principal: Principal, user: User, roles: frozenset[Role]
) -> ConfirmationRead:
    if confirmations.pending(session, GRANT_ROLES, user.id):
        raise Conflict("a role change for this account is already waiting for a second admin")
    payload: dict[str, object] = {"roles": sorted(roles), "from_roles": sorted(user.roles)}
    return confirmations.request_confirmation(session, runtime, principal, GRANT_ROLES, user.id, payload)


def _enable_request(session: Session, runtime: Runtime, principal: Principal, user: User) -> ConfirmationRead:
    if confirmations.pending(session, ENABLE_ACCOUNT, user.id):
        raise Conflict("re-enabling this account is already waiting for a second admin")
    return confirmations.request_confirmation(
        session, runtime, principal, ENABLE_ACCOUNT, user.id, {"roles": sorted(user.roles)}
    )


# Two-person kinds of request about accounts ---------------------------------


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _roles_of(row: Confirmation) -> list[str]:
    return sorted(str(r) for r in _as_list(row.payload.get("roles")))


def _account(session: Session, row: Confirmation) -> confirmations.Subject:
    return confirmations.Subject(user_id=row.target_id, roles=_roles_of(row) if "roles" in row.payload else None)


def _grant_asked_roles(session: Session, row: Confirmation, now: datetime, held: list[str] | None) -> str | None:
    """Give the account the roles the request asked for, if it is still as it was when asked
    (``held``: its roles then; None for a request made before they were recorded)."""
    user = _get_user(session, row.target_id)
    if not user.active:
        return "the account was disabled while the request waited"
    if held is not None and sorted(user.roles) != held:
        return "the account's roles changed while the request waited"
    roles = frozenset(Role(r) for r in _roles_of(row))
    _check_roles(roles)
    _set_roles(session, user, roles)
    user.updated_at = now
    return None


def _apply_create(session: Session, row: Confirmation, now: datetime) -> str | None:
    return _grant_asked_roles(session, row, now, held=[])


def _apply_reset(session: Session, row: Confirmation, now: datetime) -> str | None:
    # A password may be reset while the account is disabled (after a lost device, before it is
    # re-enabled): confirming only releases the second half, which the engine does.
    _get_user(session, row.target_id).updated_at = now
    return None


def _apply_enable(session: Session, row: Confirmation, now: datetime) -> str | None:
    user = _get_user(session, row.target_id)
    if user.active:
        return "the account was enabled while the request waited"
    if sorted(user.roles) != _roles_of(row):
        return "the account's roles changed while the request waited"
    user.active = True
    user.updated_at = now
    return None


def _apply_grant(session: Session, row: Confirmation, now: datetime) -> str | None:
    asked_from = row.payload.get("from_roles")
    held = sorted(str(r) for r in _as_list(asked_from)) if asked_from is not None else None
    return _grant_asked_roles(session, row, now, held)


CREATE_ACCOUNT = confirmations.register(confirmations.Kind("user.create", _apply_create, _account))
RESET_PASSWORD = confirmations.register(confirmations.Kind("user.reset_password", _apply_reset, _account))
ENABLE_ACCOUNT = confirmations.register(confirmations.Kind("user.enable", _apply_enable, _account))
GRANT_ROLES = confirmations.register(confirmations.Kind("user.grant_roles", _apply_grant, _account))
# Requests that hold the second half of a one-time password: one at a time per account.
CREDENTIAL_REQUESTS = (CREATE_ACCOUNT, RESET_PASSWORD)


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
