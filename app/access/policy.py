"""The one place that decides who may do what.

``load`` (one object) and ``scope`` (a list query) sit side by side and read
the same rules, so they cannot drift. Services call them; nothing else checks
roles. Order: the role check comes first (403 for a function the role never
has), then the lookup and the object check (404, so forbidden and missing look
alike). The other rules about who may do what live here too: which roles must
enrol a second factor, which may join a case team, what needs a browser
session or a fresh second factor, the self-change rule, and what the command
line may do at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, inspect, select
from sqlalchemy.orm import QueryableAttribute, Session

from app.access.principal import Principal, TokenScope, Via
from app.access.roles import CONTENT_ROLES, TOTP_REQUIRED_ROLES, Role
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
    CONSENT_WITHDRAW = "consent.withdraw"
    CONSENT_INVALIDATE = "consent.invalidate"
    CONSENT_LOOKUP = "consent.lookup"
    DUPLICATE_REVIEW = "duplicate.review"
    INTERVIEW_CREATE = "interview.create"
    INTERVIEW_READ = "interview.read"
    INTERVIEW_UPDATE = "interview.update"
    STATEMENT_CONFIRM = "statement.confirm"
    REDACTION_PREPARE = "redaction.prepare"
    REDACTION_READ = "redaction.read"
    REDACTION_REVIEW = "redaction.review"
    ATTACHMENT_UPLOAD = "attachment.upload"
    ATTACHMENT_READ = "attachment.read"
    CUSTODY_PROOF = "custody.proof"
    RECIPIENT_READ = "recipient.read"
    RECIPIENT_MANAGE = "recipient.manage"
    DENY_LIST_READ = "deny_list.read"
    DENY_LIST_MANAGE = "deny_list.manage"
    EXPORT_REQUEST = "export.request"
    EXPORT_READ = "export.read"
    EXPORT_APPROVE = "export.approve"
    EXPORT_DOWNLOAD = "export.download"
    EXPORT_REBUILD = "export.rebuild"
    """Run a failed build of an approved export again: the command line only (never an approval)."""
    RECALL_READ = "recall.read"
    RECALL_MANAGE = "recall.manage"
    LEDGER_SUBMIT = "ledger.submit"
    EXPORT_SWEEP = "export.sweep"
    DISCLOSURE_FEEDBACK = "disclosure_feedback"
    DISCLOSURE_FEEDBACK_OVERSEE = "disclosure_feedback_oversee"
    RETENTION_REVIEW = "retention.review"
    RETENTION_RUN = "retention.run"
    RECONSENT_READ = "reconsent.read"
    LEDGER_READ = "ledger.read"
    DISCLOSURE_REPORT = "disclosure.report"
    LEGAL_HOLD_MANAGE = "legal_hold.manage"
    ERASURE_READ = "erasure.read"
    ERASURE_MANAGE = "erasure.manage"


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
        Action.CONSENT_LOOKUP,
        Action.INTERVIEW_READ,
        Action.ATTACHMENT_READ,
        Action.REDACTION_READ,
        Action.REDACTION_REVIEW,
        Action.RECIPIENT_READ,
        Action.DENY_LIST_READ,
        Action.EXPORT_READ,
        Action.RECALL_READ,
        Action.DISCLOSURE_FEEDBACK_OVERSEE,
        Action.RECONSENT_READ,
        Action.LEDGER_READ,
        Action.DISCLOSURE_REPORT,
        Action.ERASURE_READ,
    }
)
# The recipient registry and the deny-list name organisations and states, never a survivor: every
# role that records grants, prepares disclosures or reviews them reads them (auditors read the log).
REGISTRY_READERS = frozenset({Action.RECIPIENT_READ, Action.DENY_LIST_READ})

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.DOCUMENTER: frozenset(
        {
            Action.CASE_READ,
            Action.PERSON_CREATE,
            Action.PERSON_READ,
            Action.PERSON_UPDATE,
            Action.CONSENT_RECORD,
            Action.CONSENT_READ,
            Action.CONSENT_WITHDRAW,
            Action.CONSENT_LOOKUP,
            Action.INTERVIEW_CREATE,
            Action.INTERVIEW_READ,
            Action.INTERVIEW_UPDATE,
            Action.STATEMENT_CONFIRM,
            Action.ATTACHMENT_UPLOAD,
            Action.ATTACHMENT_READ,
            Action.REDACTION_PREPARE,
            Action.REDACTION_READ,
            # Telling a survivor, through their safe channel, that an export carrying them was approved or recalled.
            Action.DISCLOSURE_FEEDBACK,
            # Minors of the case who came of age and must be asked again.
            Action.RECONSENT_READ,
        }
    )
    | REGISTRY_READERS,
    # Legal asks for exports (and previews them) for the cases whose team they are on, and reads their own
    # requests; they never browse testimonies.
    # They download the bundles of their own ready requests, and see the recall notices of their own exports.
    Role.LEGAL: frozenset(
        {Action.CASE_READ, Action.EXPORT_REQUEST, Action.EXPORT_READ, Action.EXPORT_DOWNLOAD, Action.RECALL_READ}
    )
    | REGISTRY_READERS,
    # A custodian takes a withdrawal the survivor made through any channel (with a fresh second factor), and
    # invalidates a record found to be given under pressure; neither reads what the record says. A custodian
    # finds the record a survivor calls about by its reference code and their code word (the lookup). A
    # custodian reviews the redacted version of a statement that a de-identified export would send, never the
    # statement itself.
    Role.CUSTODIAN: frozenset(
        {
            Action.CASE_READ,
            Action.REDACTION_REVIEW,
            Action.DUPLICATE_REVIEW,
            Action.CONSENT_WITHDRAW,
            Action.CONSENT_INVALIDATE,
            Action.CONSENT_LOOKUP,
            # Exports: every request, organisation-wide, and deciding those they did not ask for.
            Action.EXPORT_READ,
            Action.EXPORT_APPROVE,
            # Recalls: every notice; marking it sent and acknowledged, and a ledger row submitted to proceedings.
            Action.RECALL_READ,
            Action.RECALL_MANAGE,
            Action.LEDGER_SUBMIT,
            # Which survivors are still to be told of an approval or a recall, and by whom: read only; the
            # documenter who owns a task records how telling went.
            Action.DISCLOSURE_FEEDBACK_OVERSEE,
            # Retention: what comes due, marked reviewed (so the run may delete it) or kept with a reason.
            Action.RETENTION_REVIEW,
            # On the case team only (TEAM_ONLY): minors come of age, and a survivor's own data report.
            Action.RECONSENT_READ,
            Action.DISCLOSURE_REPORT,
            # Legal holds (set by two custodians) and erasure (carried out by two): never by bearer token.
            Action.LEGAL_HOLD_MANAGE,
            Action.ERASURE_READ,
            Action.ERASURE_MANAGE,
        }
    )
    | REGISTRY_READERS,
    # Auditors read the log and the disclosure ledger (ids, codes, categories, levels: never content).
    Role.AUDITOR: frozenset({Action.AUDIT_READ, Action.LEDGER_READ}),
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
            Action.RECIPIENT_MANAGE,
            Action.DENY_LIST_MANAGE,
        }
    )
    | REGISTRY_READERS,
}

# Roles whose grants reach only the cases whose team the user is on.
CASE_SCOPED = frozenset({Role.DOCUMENTER, Role.LEGAL})

# Actions that reach only the cases whose team the user is on, whatever the role: a custodian, organisation-wide
# elsewhere, reads a survivor's data report or the minors come of age only for a case they work on.
TEAM_ONLY = frozenset({Action.RECONSENT_READ, Action.DISCLOSURE_REPORT})

# What the CLI operator may do: administration, never content.
# A custody proof holds a digest and its salt, never content: a custodian makes it for a court.
# Retention lists and deletes what is due (ids and categories, never content); the survivor's data report
# names recipients, categories and dates, never content.
SYSTEM_ACTIONS = ROLE_ACTIONS[Role.ADMIN] | {
    Action.AUDIT_READ,
    Action.FORMS_READ,
    Action.CUSTODY_PROOF,
    Action.RETENTION_REVIEW,
    Action.RETENTION_RUN,
    Action.DISCLOSURE_REPORT,
    Action.EXPORT_READ,  # `testimony exports list`: status and counts, no content
    Action.EXPORT_REBUILD,
    Action.EXPORT_SWEEP,
}

# Actions that need a fresh second factor in a browser session (never a bearer token);
# a user update needs it when it changes roles or whether the account is active.
STEP_UP = frozenset(
    {
        Action.USER_UPDATE,
        Action.USER_RESET_2FA,
        Action.USER_RESET_PASSWORD,
        Action.CONFIRMATION_DECIDE,
        Action.CONSENT_WITHDRAW,
        Action.CONSENT_INVALIDATE,
        Action.EXPORT_APPROVE,
        Action.LEDGER_SUBMIT,
        Action.LEGAL_HOLD_MANAGE,
        Action.ERASURE_MANAGE,
        Action.KEYS_MANAGE,
    }
)


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
    if action in TEAM_ONLY:
        return False
    return any(role not in CASE_SCOPED for role in _granting_roles(principal, action))


M = TypeVar("M")

_BY_ID: dict[type[Any], Select[Any] | None] = {}
"""Statements only, one per model, built on first use: ``session.get`` builds its select, and SQLAlchemy's
cache key of it, again on every call, which cost a request more than the database's answer. No row is kept."""


def _by_id(model: type[Any]) -> Select[Any] | None:
    """``SELECT model WHERE its primary key = :object_id``, or None for a model with a composite key."""
    if model not in _BY_ID:
        key = inspect(model).primary_key
        _BY_ID[model] = select(model).where(key[0] == bindparam("object_id")) if len(key) == 1 else None
    return _BY_ID[model]


def load(
    session: Session,
    principal: Principal,
    action: Action,
    model: type[M],
    object_id: object,
    *,
    lock: bool = False,
) -> M:
    """The one way to fetch an object to act on: the role check (403 for a function the role
    never has), then the lookup, then the object check, where a missing object and one the
    principal may not see both answer 404.

    The object check: an object with a ``case_id`` (a case itself, a person...) must be in one of
    the principal's cases unless a role grants the action organisation-wide; an object with an
    ``owner_id`` (an API token) must be the principal's own; an object with a ``requester_id`` (an
    export request) must be the principal's own unless a role grants the action organisation-wide.
    ``lock`` holds the row until the transaction ends.
    """
    require(principal, action)
    by_id = None if lock else _by_id(model)
    if by_id is None:
        row = session.get(model, object_id, with_for_update=lock or None)
    else:
        row = session.scalars(by_id, {"object_id": object_id}).one_or_none()
    if row is None:
        raise NotFound
    owner = getattr(row, "owner_id", None)
    if owner is not None and not principal.is_system and owner != principal.user_id:
        raise NotFound
    case_id = getattr(row, "case_id", None)
    if case_id is not None and not _org_wide(principal, action) and case_id not in principal.case_ids:
        raise NotFound
    requester = getattr(row, "requester_id", None)
    if requester is not None and not _org_wide(principal, action) and requester != principal.user_id:
        raise NotFound
    return row


S = TypeVar("S", bound=Select[Any])


def scope(
    principal: Principal,
    action: Action,
    statement: S,
    case_column: ColumnElement[uuid.UUID] | QueryableAttribute[uuid.UUID] | None = None,
    *,
    requester_column: ColumnElement[uuid.UUID] | QueryableAttribute[uuid.UUID] | None = None,
) -> S:
    """The list form of load(): restrict a query to what the principal may see (their cases, their own
    requests), unless a role grants the action organisation-wide."""
    require(principal, action)
    if _org_wide(principal, action):
        return statement
    if requester_column is not None:
        statement = statement.where(requester_column == principal.user_id)
    if case_column is not None:
        statement = statement.where(case_column.in_(principal.case_ids))
    return statement


def require_step_up(principal: Principal, action: Action, now: datetime) -> None:
    """A second factor proven in this browser session within the last five minutes."""
    if action not in STEP_UP:
        raise ValueError(f"{action} is not a step-up action")
    if principal.is_system:
        return
    if principal.via is not Via.SESSION:
        raise Forbidden("this action needs a browser session with a fresh second factor", code="step_up_required")
    if not second_factor_fresh(principal, now):
        raise Forbidden(
            "confirm your second factor first (POST /api/v1/auth/step-up), then retry",
            code="step_up_required",
        )


def second_factor_fresh(principal: Principal, now: datetime) -> bool:
    """Whether a step-up action would pass now: a browser session whose second factor was proven within
    the window (pages show the step-up prompt when it would not)."""
    if principal.is_system:
        return True
    at = principal.second_factor_at
    return principal.via is Via.SESSION and at is not None and now - at <= STEP_UP_WINDOW


def withdrawal_needs_step_up(principal: Principal, case_id: uuid.UUID) -> bool:
    """A documenter on the person's case team takes a withdrawal as it comes; anyone else allowed to (a
    custodian, organisation-wide) confirms a fresh second factor first."""
    if principal.is_system:
        return False
    return not (Role.DOCUMENTER in principal.roles and case_id in principal.case_ids)


def may_join_team(roles: frozenset[Role]) -> bool:
    """Only roles that reach content through a case team join one (documenters, legal, custodians)."""
    return bool(roles & CONTENT_ROLES)


def require_on_every_case(principal: Principal, case_ids: Iterable[object]) -> None:
    """A requester acts on what they asked for only while still on the team of every case it covers (a
    lawyer taken off a case gets nothing more of it): 403 ``requester_not_entitled``."""
    if not principal.is_system and not all(uuid.UUID(str(c)) in principal.case_ids for c in case_ids):
        raise Forbidden("you are no longer on every case of this export", code="requester_not_entitled")


def may_interview(roles: frozenset[Role]) -> bool:
    """Only documenters are named as an interview's interviewers: the others on a case team cannot read it."""
    return Role.DOCUMENTER in roles


def must_enrol_totp(roles: frozenset[Role], documenter_totp_required: bool) -> bool:
    """Every role needs a second factor; development mode may relax it for documenters only."""
    if roles & TOTP_REQUIRED_ROLES:
        return True
    return Role.DOCUMENTER in roles and documenter_totp_required


def not_self(principal: Principal, user_id: uuid.UUID | None, what: str) -> None:
    """No one changes their own roles, status, second factor, password by reset or team memberships."""
    if user_id is not None and principal.user_id == user_id:
        raise Forbidden(f"no one changes their own {what}", code="self_change")


def records_export_review(principal: Principal) -> bool:
    """Whether reading an export's review records it as the review approval needs: only from a browser session,
    the kind that can approve. A token may read the review, but a script reading it is not a custodian seeing
    the redacted text."""
    return principal.via is Via.SESSION


def require_browser_session(principal: Principal, what: str) -> None:
    """Some things are done only from a browser session: never from an API token."""
    if principal.via is not Via.SESSION:
        raise Forbidden(f"{what} needs a browser session", code="step_up_required")


def acts_at_once(principal: Principal) -> bool:
    """The command line acts as the system, with shell access on the server: it is not held to the
    two-person rules and is shown whole one-time passwords. Everyone else waits for a second person."""
    return principal.is_system


def needing_second_admin(roles: frozenset[Role]) -> frozenset[Role]:
    """The roles whose grant needs a second admin's confirmation: content-reading roles, and admin.

    Admin is included so one admin cannot make a second admin of their own to confirm
    their requests; the first admins are made with `testimony users add` on the server.
    """
    return roles & (CONTENT_ROLES | {Role.ADMIN})
