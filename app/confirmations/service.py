"""The two-person engine. Each domain registers its kinds of request: how to apply one, what it
concerns, who may confirm it, and whether that needs a fresh second factor. The engine keeps
the rules every kind shares: never the requester, never a change to one's own access, one
decision, a deadline, and a secret shown once to the person who confirms.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.models import User
from app.access.principal import Principal
from app.audit import service as audit
from app.confirmations.models import Confirmation
from app.confirmations.schemas import ConfirmationPage, ConfirmationRead, Person, Status
from app.core.db import db_now, new_id, on_failure
from app.core.errors import Conflict, Forbidden, NotFound
from app.crypto import aead
from app.keys import datakeys

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

MAX_PAGE = 200


@dataclass(frozen=True)
class Subject:
    """What a request concerns, for the people who decide it."""

    user_id: uuid.UUID | None = None
    case_code: str | None = None
    roles: list[str] | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    apply: Callable[[Session, Confirmation, datetime], str | None]
    """Carry out a confirmed request; or return why it no longer applies (it is closed as void)."""
    subject: Callable[[Session, Confirmation], Subject]
    decide_action: policy.Action = policy.Action.CONFIRMATION_DECIDE
    """Who may confirm: today a second admin; later issues register kinds for custodians."""
    step_up: bool = True
    on_expire: Callable[[Session, Confirmation], None] | None = None
    """What happens when it expires unanswered, besides closing it (the sealed secret is always erased)."""


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.name in _KINDS and _KINDS[kind.name] != kind:
        raise ValueError(f"a confirmation kind named {kind.name} is registered already")
    _KINDS[kind.name] = kind
    return kind


def _kind(row: Confirmation) -> Kind | None:
    return _KINDS.get(row.action)


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
    kind: Kind,
    target_id: uuid.UUID,
    payload: dict[str, object],
    *,
    secret: str | None = None,
) -> ConfirmationRead:
    """Open a two-person request of a registered kind.

    A secret (the second half of a one-time password) is sealed with the request and shown
    only to the person who confirms it, once.
    """
    assert principal.user_id is not None
    if _KINDS.get(kind.name) is not kind:
        raise ValueError(f"{kind.name} is not a registered confirmation kind")
    now = db_now(session)
    close_expired(session, now)
    row_id = new_id()
    row = Confirmation(
        id=row_id,
        action=kind.name,
        target_id=target_id,
        payload=payload,
        requested_by=principal.user_id,
        created_at=now,
        expires_at=now + timedelta(hours=runtime.settings.session.confirmation_hours),
        status=Status.PENDING,
        secret=_seal_secret(session, runtime, row_id, secret) if secret is not None else None,
    )
    session.add(row)
    session.flush()
    return _reads(session, [row], now)[0]


def pending(session: Session, kind: Kind, target_id: uuid.UUID) -> list[Confirmation]:
    """The requests of a kind about one target still waiting for a decision."""
    now = db_now(session)
    rows = session.scalars(
        select(Confirmation).where(
            Confirmation.action == kind.name,
            Confirmation.target_id == target_id,
            Confirmation.status == Status.PENDING,
            Confirmation.expires_at > now,
        )
    )
    return list(rows)


def close_expired(session: Session, now: datetime) -> None:
    """Close requests past their deadline: status expired, secret erased, the kind's own effect.

    Done by writes (a new request, a decision), never by reading.
    """
    rows = session.scalars(
        select(Confirmation)
        .where(Confirmation.status == Status.PENDING, Confirmation.expires_at <= now)
        .with_for_update(skip_locked=True)
    )
    for row in rows:
        row.status = Status.EXPIRED
        row.secret = None
        kind = _kind(row)
        if kind is not None and kind.on_expire is not None:
            kind.on_expire(session, row)
    session.flush()


def _status(row: Confirmation, now: datetime) -> Status:
    """A pending request past its time reads as expired, though nothing was written yet."""
    return Status.EXPIRED if row.status == Status.PENDING and row.expires_at <= now else Status(row.status)


def _reads(
    session: Session, rows: list[Confirmation], now: datetime, half: str | None = None
) -> list[ConfirmationRead]:
    subjects = {row.id: kind.subject(session, row) for row in rows if (kind := _kind(row)) is not None}
    ids = {r.requested_by for r in rows} | {r.decided_by for r in rows if r.decided_by}
    ids |= {s.user_id for s in subjects.values() if s.user_id}
    people = {
        u.id: Person(id=u.id, username=u.username, display_name=u.display_name)
        for u in session.scalars(select(User).where(User.id.in_(ids)))
    }
    reads = []
    for row in rows:
        subject = subjects.get(row.id, Subject())
        reads.append(
            ConfirmationRead(
                id=row.id,
                action=row.action,
                target_id=row.target_id,
                payload=row.payload,
                requested_by=row.requested_by,
                requester=people.get(row.requested_by),
                target_user=people.get(subject.user_id) if subject.user_id else None,
                case_code=subject.case_code,
                roles=subject.roles,
                created_at=row.created_at,
                expires_at=row.expires_at,
                status=_status(row, now),
                decided_by=row.decided_by,
                decider=people.get(row.decided_by) if row.decided_by else None,
                decided_at=row.decided_at,
                one_time_password_half=half,
            )
        )
    return reads


def list_confirmations(
    session: Session,
    principal: Principal,
    *,
    status: Status | None = None,
    cursor: uuid.UUID | None = None,
    limit: int = 50,
) -> ConfirmationPage:
    """Newest first, only the kinds this principal may decide; ``cursor`` is the last id seen."""
    policy.require(principal, policy.Action.CONFIRMATION_READ)
    now = db_now(session)
    kinds = [k.name for k in _KINDS.values() if policy.allows(principal, k.decide_action)]
    stmt = select(Confirmation).where(Confirmation.action.in_(kinds)).order_by(Confirmation.id.desc())
    if status is Status.PENDING:
        stmt = stmt.where(Confirmation.status == Status.PENDING, Confirmation.expires_at > now)
    elif status is Status.EXPIRED:
        stmt = stmt.where(
            (Confirmation.status == Status.EXPIRED)
            | and_(Confirmation.status == Status.PENDING, Confirmation.expires_at <= now)
        )
    elif status is not None:
        stmt = stmt.where(Confirmation.status == status)
    if cursor is not None:
        stmt = stmt.where(Confirmation.id < cursor)
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    page = rows[:limit]
    more = len(rows) > limit
    return ConfirmationPage(items=_reads(session, page, now), next_cursor=str(page[-1].id) if more else None)


def decide_confirmation(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    confirmation_id: uuid.UUID,
    confirm: bool,
    *,
    action: policy.Action = policy.Action.CONFIRMATION_DECIDE,
) -> ConfirmationRead:
    """A second eligible user confirms (or rejects) a pending request; never the requester.

    ``action`` is what the deciding face checks: the admins' confirmations route decides the kinds decided by
    ``confirmation.decide``, a domain's own route (an export's second approval) the kinds registered with its
    action; a request of another kind is not found. The row is locked first, so two people deciding at once
    cannot both apply it.
    """
    row = policy.load(session, principal, action, Confirmation, confirmation_id, lock=True)
    kind = _kind(row)
    if kind is not None and (kind.decide_action is not action or not policy.allows(principal, kind.decide_action)):
        raise NotFound
    now = db_now(session)
    status = _status(row, now)
    if status is not Status.PENDING:
        if status is Status.EXPIRED:
            on_failure(session, lambda s: close_expired(s, now))  # the refusal still closes it
        raise Conflict(f"this request is {status.value}")
    if row.requested_by == principal.user_id:
        raise Forbidden("a second person must confirm this request", code="same_person")
    subject = kind.subject(session, row) if kind is not None else Subject()
    if subject.user_id == principal.user_id:
        raise Forbidden("no one confirms a change to their own access", code="self_change")
    if kind is None or kind.step_up:
        policy.require_step_up(principal, policy.Action.CONFIRMATION_DECIDE, now)
    audit.touch(session, resource_id=row.id)
    void_reason = None
    if confirm:
        void_reason = kind.apply(session, row, now) if kind else "this kind of request is not known to this version"
    # A request the account has outgrown while it waited is closed as void, not applied.
    row.status = Status.VOID if void_reason else Status.CONFIRMED if confirm else Status.REJECTED
    if void_reason:
        row.payload = {**row.payload, "void_reason": void_reason}
    half = _open_secret(session, runtime, row) if row.status == Status.CONFIRMED else None
    row.secret = None  # shown once, to the person who confirms, and then gone
    row.decided_by = principal.user_id
    row.decided_at = now
    session.flush()
    return _reads(session, [row], now, half)[0]
