"""The one place that decides who may do what.

``authorize`` (one object) and ``scope`` (a list query) sit side by side and
read the same tables, so they cannot drift. Services call them; nothing else
checks roles. Order: the role check comes first (403 for a function the role
never has), then the object check (404, so forbidden and missing look alike).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import QueryableAttribute

from app.access.principal import Principal, TokenScope, Via
from app.access.roles import CONTENT_ROLES, Role
from app.core.errors import Forbidden, NotFound

STEP_UP_WINDOW = timedelta(minutes=5)


class Action(StrEnum):
    ME_READ = "me.read"
    PASSWORD_CHANGE = "me.password"  # noqa: S105 - an action name
    TOTP_ENROL = "me.totp"
    TOKEN_MANAGE = "token.manage"  # noqa: S105 - an action name
    USER_READ = "user.read"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_REVOKE = "user.revoke"
    USER_RESET_2FA = "user.reset_2fa"
    USER_RESET_PASSWORD = "user.reset_password"  # noqa: S105 - an action name
    CASE_CREATE = "case.create"
    CASE_READ = "case.read"
    CASE_MEMBERS = "case.members"
    CONFIRMATION_READ = "confirmation.read"
    CONFIRMATION_DECIDE = "confirmation.decide"
    KEYS_MANAGE = "keys.manage"
    AUDIT_READ = "audit.read"
    FORMS_READ = "forms.read"
    PERSON_CREATE = "person.create"
    PERSON_READ = "person.read"
    PERSON_UPDATE = "person.update"
    CONSENT_RECORD = "consent.record"
    CONSENT_READ = "consent.read"
    DUPLICATE_REVIEW = "duplicate.review"


EVERYONE = frozenset(
    {Action.ME_READ, Action.PASSWORD_CHANGE, Action.TOTP_ENROL, Action.TOKEN_MANAGE, Action.FORMS_READ}
)
# A restricted login (password change or 2FA enrolment pending) may do only this.
WHILE_RESTRICTED = frozenset({Action.ME_READ, Action.PASSWORD_CHANGE, Action.TOTP_ENROL})
READ_ONLY = frozenset(
    {
        Action.ME_READ,
        Action.USER_READ,
        Action.CASE_READ,
        Action.CONFIRMATION_READ,
        Action.AUDIT_READ,
        Action.FORMS_READ,
        Action.PERSON_READ,
        Action.CONSENT_READ,
    }
)

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.DOCUMENTER: frozenset(
        {
            Action.CASE_READ,
            Action.PERSON_CREATE,
            Action.PERSON_READ,
            Action.PERSON_UPDATE,
            Action.CONSENT_RECORD,
            Action.CONSENT_READ,
        }
    ),
    Role.LEGAL: frozenset({Action.CASE_READ}),
    Role.CUSTODIAN: frozenset({Action.CASE_READ, Action.DUPLICATE_REVIEW}),
    Role.AUDITOR: frozenset({Action.AUDIT_READ}),
    Role.ADMIN: frozenset(
        {
            Action.USER_READ,
            Action.USER_CREATE,
            Action.USER_UPDATE,
            Action.USER_REVOKE,
            Action.USER_RESET_2FA,
            Action.USER_RESET_PASSWORD,
            Action.CASE_CREATE,
            Action.CASE_READ,
            Action.CASE_MEMBERS,
            Action.CONFIRMATION_READ,
            Action.CONFIRMATION_DECIDE,
            Action.KEYS_MANAGE,
        }
    ),
}

# Roles whose grants reach only the cases whose team the user is on.
CASE_SCOPED = frozenset({Role.DOCUMENTER, Role.LEGAL})

# What the CLI operator may do: administration, never content.
SYSTEM_ACTIONS = ROLE_ACTIONS[Role.ADMIN] | {Action.AUDIT_READ, Action.FORMS_READ}

# Actions that need a fresh second factor in a browser session (never a bearer token);
# a user update needs it when it changes roles or whether the account is active.
STEP_UP = frozenset({Action.USER_UPDATE, Action.USER_RESET_2FA, Action.USER_RESET_PASSWORD, Action.CONFIRMATION_DECIDE})


class CaseResource(Protocol):
    """Anything that belongs to one case."""

    @property
    def case_id(self) -> uuid.UUID: ...


@dataclass(frozen=True)
class CaseRef:
    """A case itself, as a resource for authorize()."""

    case_id: uuid.UUID


def _granting_roles(principal: Principal, action: Action) -> list[Role]:
    return [role for role in principal.roles if action in ROLE_ACTIONS.get(role, frozenset())]


def require(principal: Principal, action: Action) -> None:
    """The role check: 403 when no role of the principal ever has this function."""
    if principal.is_system:
        if action not in SYSTEM_ACTIONS:
            raise Forbidden("the command line cannot do this")
        return
    if principal.must_change_password and action not in WHILE_RESTRICTED:
        raise Forbidden("choose a new password first (POST /api/v1/me/password)", code="password_change_required")
    if principal.must_enrol_totp and action not in WHILE_RESTRICTED:
        raise Forbidden("enrol a second factor first (POST /api/v1/me/totp)", code="totp_enrolment_required")
    if principal.via is Via.TOKEN and principal.token_scope is TokenScope.READ and action not in READ_ONLY:
        raise Forbidden("this token is read-only")
    if action in EVERYONE:
        return
    if not _granting_roles(principal, action):
        raise Forbidden("your role does not allow this")


def allows(principal: Principal, action: Action) -> bool:
    """Whether require() would let this principal do it (for showing only what one may act on)."""
    try:
        require(principal, action)
    except Forbidden:
        return False
    return True


def _org_wide(principal: Principal, action: Action) -> bool:
    if principal.is_system:
        return True
    return any(role not in CASE_SCOPED for role in _granting_roles(principal, action))


def authorize(principal: Principal, action: Action, resource: CaseResource | None = None) -> None:
    """Role check, then object check: a case-scoped object outside the user's cases is 404."""
    require(principal, action)
    if resource is None or _org_wide(principal, action):
        return
    if resource.case_id not in principal.case_ids:
        raise NotFound


S = TypeVar("S", bound=Select[Any])


def scope(
    principal: Principal,
    action: Action,
    statement: S,
    case_column: ColumnElement[uuid.UUID] | QueryableAttribute[uuid.UUID],
) -> S:
    """The list form of authorize(): restrict a query to what the principal may see."""
    require(principal, action)
    if _org_wide(principal, action):
        return statement
    return statement.where(case_column.in_(principal.case_ids))


def require_step_up(principal: Principal, action: Action, now: datetime) -> None:
    """A second factor proven in this browser session within the last five minutes."""
    if action not in STEP_UP:
        raise ValueError(f"{action} is not a step-up action")
    if principal.is_system:
        return
    if principal.via is not Via.SESSION:
        raise Forbidden("this action needs a browser session with a fresh second factor", code="step_up_required")
    fresh = principal.second_factor_at is not None and now - principal.second_factor_at <= STEP_UP_WINDOW
    if not fresh:
        raise Forbidden(
            "confirm your second factor first (POST /api/v1/auth/step-up), then retry",
            code="step_up_required",
        )


def may_join_team(roles: frozenset[Role]) -> bool:
    """Only roles that reach content through a case team join one (documenters, legal, custodians)."""
    return bool(roles & CONTENT_ROLES)


def needing_second_admin(roles: frozenset[Role]) -> frozenset[Role]:
    """The roles whose grant needs a second admin's confirmation: content-reading roles, and admin.

    Admin is included so one admin cannot make a second admin of their own to confirm
    their requests; the first admins are made with `testimony users add` on the server.
    """
    return roles & (CONTENT_ROLES | {Role.ADMIN})
