"""Appending events, signing checkpoints, proofs and queries.

Imports nothing of the domains: callers describe the actor and resource in
plain values. An event is appended as the last statement of the unit of work
it records, under a transaction-scoped lock, so sequence order is commit order.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import rfc8785
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.audit import merkle, note
from app.audit.models import AuditCheckpoint, AuditEvent
from app.audit.vocabulary import AuditAction, Outcome, purpose_of

__all__ = ["AuditAction", "Outcome", "Trail"]
from app.core.db import db_now
from app.crypto.signing import Signer

TRAIL = "audit_trail"
ADVISORY_LOCK_ID = 0x7E571_0A0D17  # any constant shared by every writer of this database
ENTRY_VERSION = 3  # 2 added the credential (which session or token acted); 3 the claimed and new ones


@dataclass(frozen=True)
class Trail:
    """What the current unit of work will record when it ends."""

    action: AuditAction
    actor: str = "anonymous"
    actor_roles: tuple[str, ...] = ()
    credential: str | None = None
    """session:<id> or token:<id>: which credential acted, for following up a stolen one."""
    claimed_credential: str | None = None
    """The credential a refused request presented, never taken as its actor (a forged request
    would otherwise log its victim's session as acting)."""
    new_credential: str | None = None
    """The session or token this event created: a login, a renewal (step-up, 2FA, password), a token."""
    resource_type: str | None = None
    resource_id: str | None = None
    case_id: uuid.UUID | None = None
    request_id: str | None = None
    client: str | None = None
    failed_action: AuditAction | None = None
    """Recorded instead of action when the attempt fails (auth.login -> auth.login_failed)."""
    extra: dict[str, str] = field(default_factory=dict)


def begin(session: Session, trail: Trail) -> None:
    session.info[TRAIL] = trail


def current(session: Session) -> Trail | None:
    trail: Trail | None = session.info.get(TRAIL)
    return trail


def touch(
    session: Session,
    *,
    resource_id: uuid.UUID | str | None = None,
    case_id: uuid.UUID | None = None,
    actor: str | None = None,
    actor_roles: tuple[str, ...] | None = None,
    new_credential: str | None = None,
) -> None:
    """Services name what they actually read or changed (e.g. the id they just created)."""
    trail = current(session)
    if trail is None:
        return
    changes: dict[str, object] = {}
    if resource_id is not None:
        changes["resource_id"] = str(resource_id)
    if case_id is not None:
        changes["case_id"] = case_id
    if actor is not None:
        changes["actor"] = actor
    if actor_roles is not None:
        changes["actor_roles"] = actor_roles
    if new_credential is not None:
        changes["new_credential"] = new_credential
    session.info[TRAIL] = replace(trail, **changes)  # type: ignore[arg-type]


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_ID})
    # SQLite: every transaction began with BEGIN IMMEDIATE and holds the write lock.


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_fields(event: AuditEvent, version: int = ENTRY_VERSION) -> dict[str, Any]:
    """The queryable columns as they must appear in the stored bytes of an entry of that version."""
    fields: dict[str, Any] = {
        "seq": event.seq,
        "at": _iso(event.at),
        "actor": event.actor,
        "actor_roles": event.actor_roles.split(",") if event.actor_roles else [],
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "case_id": str(event.case_id) if event.case_id else None,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "status": event.status,
        "request_id": event.request_id,
        "client": event.client,
    }
    if version >= 2:
        fields["credential"] = event.credential
    if version >= 3:
        fields["claimed_credential"] = event.claimed_credential
        fields["new_credential"] = event.new_credential
    return fields


def append(session: Session, trail: Trail, outcome: Outcome, status: int | None = None) -> AuditEvent:
    """Append one event in the caller's transaction; call it last, just before commit."""
    session.flush()
    _lock(session)
    last = session.scalar(select(func.max(AuditEvent.seq)))
    action = trail.failed_action if outcome is not Outcome.ALLOWED and trail.failed_action else trail.action
    event = AuditEvent(
        seq=0 if last is None else last + 1,
        at=db_now(session),
        actor=trail.actor,
        actor_roles=",".join(sorted(trail.actor_roles)),
        action=action.value,
        resource_type=trail.resource_type,
        resource_id=trail.resource_id,
        case_id=trail.case_id,
        purpose=purpose_of(action).value,
        outcome=outcome.value,
        status=status,
        request_id=trail.request_id,
        client=trail.client,
        credential=trail.credential,
        claimed_credential=trail.claimed_credential,
        new_credential=trail.new_credential,
    )
    event.entry = rfc8785.dumps({"v": ENTRY_VERSION, **entry_fields(event)})
    session.add(event)
    session.flush()
    session.info.pop(TRAIL, None)
    return event


# Reading back -----------------------------------------------------------------


def size(session: Session) -> int:
    last = session.scalar(select(func.max(AuditEvent.seq)))
    return 0 if last is None else last + 1


def iter_entries(session: Session, upto: int | None = None, batch: int = 5000) -> Iterator[bytes]:
    """Stored bytes in sequence order, streamed in batches."""
    after = -1
    while True:
        stmt = select(AuditEvent.seq, AuditEvent.entry).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
        if upto is not None:
            stmt = stmt.where(AuditEvent.seq < upto)
        rows = session.execute(stmt.limit(batch)).all()
        if not rows:
            return
        for seq, entry in rows:
            yield entry
            after = seq


def leaf_hashes(session: Session, upto: int) -> list[bytes]:
    return [merkle.leaf_hash(e) for e in iter_entries(session, upto)]


# Checkpoints ------------------------------------------------------------------


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)).first()


def checkpoint_at(session: Session, tree_size: int) -> AuditCheckpoint | None:
    return session.get(AuditCheckpoint, tree_size)


def all_checkpoints(session: Session) -> list[AuditCheckpoint]:
    return list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size)))


def column_problems(session: Session) -> list[str]:
    """Queryable columns that disagree with the stored bytes they were derived from."""
    problems = []
    for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        try:
            stored = json.loads(row.entry)
        except ValueError:
            problems.append(f"event {row.seq}: stored bytes are not JSON")
            continue
        version = stored.get("v", ENTRY_VERSION) if isinstance(stored, dict) else ENTRY_VERSION
        expected = {"v": version, **entry_fields(row, version if isinstance(version, int) else 0)}
        if stored != expected:
            differing = sorted(k for k in expected.keys() | stored.keys() if stored.get(k) != expected.get(k))
            problems.append(f"event {row.seq}: columns differ from the stored bytes ({', '.join(differing)})")
    return problems


def make_checkpoint(
    session: Session, signer: Signer, origin: str, progress: Callable[[int], None] = lambda n: None
) -> AuditCheckpoint | None:
    """Sign the tree as it stands; None when nothing was appended since the last checkpoint."""
    _lock(session)
    n = size(session)
    latest = latest_checkpoint(session)
    if n == 0 or (latest is not None and latest.size >= n):
        return None
    builder = merkle.TreeBuilder()
    for i, entry in enumerate(iter_entries(session, n)):
        builder.append(merkle.leaf_hash(entry))
        if i % 10000 == 9999:
            progress(10000)
    progress(n % 10000)
    root_hash = builder.root()
    text_note = note.sign_checkpoint(note.Checkpoint(origin=origin, size=n, root_hash=root_hash), signer, origin)
    row = AuditCheckpoint(size=n, root_hash=root_hash, note=text_note, key_id=signer.key_id, created_at=db_now(session))
    session.add(row)
    session.flush()
    return row


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
