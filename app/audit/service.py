"""Appending events, signing checkpoints, proofs and queries.

Imports nothing of the domains: callers describe the actor and resource in
plain values. An event is appended as the last statement of the unit of work
it records, under a transaction-scoped lock, so sequence order is commit order.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

import rfc8785
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from app.audit import merkle, note
from app.audit.entries import CUSTODY_ENTRY_VERSION, custody_entry, custody_problems, encode_plain
from app.audit.models import AuditCheckpoint, AuditEvent
from app.audit.verify import Report, verify_dump
from app.audit.vocabulary import AuditAction, Outcome, purpose_of

__all__ = ["AuditAction", "Outcome", "Trail"]
from app.core.db import Prepared, db_now, db_time
from app.crypto.signing import ChainError, Signer, follow_chain

TRAIL = "audit_trail"
ADVISORY_LOCK_ID = 0x7E571_0A0D17  # any constant shared by every writer of this database
ENTRY_VERSION = 3  # 2 added the credential (which session or token acted); 3 the claimed and new ones
# Version 4 is the custody commitment entry (app/audit/entries.py); events are still written as version 3.

# The columns of a custody commitment entry, which names no actor, resource, case, request or client.
CUSTODY_COLUMNS: dict[str, object] = {
    "actor": "",
    "actor_roles": "",
    "resource_type": None,
    "resource_id": None,
    "case_id": None,
    "purpose": purpose_of(AuditAction.CUSTODY_COMMIT).value,
    "outcome": Outcome.ALLOWED.value,
    "status": None,
    "request_id": None,
    "client": None,
    "credential": None,
    "claimed_credential": None,
    "new_credential": None,
}


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
    failed_action: AuditAction | None = None,
) -> None:
    """Services name what they actually read or changed (e.g. the id they just created), and what a refusal
    they raise is recorded as (``failed_action``)."""
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
    if failed_action is not None:
        changes["failed_action"] = failed_action
    session.info[TRAIL] = replace(trail, **changes)  # type: ignore[arg-type]


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_ADVISORY_LOCK, {"k": ADVISORY_LOCK_ID})
    # SQLite: every transaction began with BEGIN IMMEDIATE and holds the write lock.


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_fields(event: AuditEvent | Appended, version: int = ENTRY_VERSION) -> dict[str, Any]:
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


_SEQ = cast(Table, AuditEvent.__table__).c.seq
_NEXT_SEQ = Prepared(lambda clock: select(select(func.max(_SEQ)).scalar_subquery(), clock))


def _next_seq(session: Session) -> tuple[int, datetime]:
    """The next sequence number and the database clock, read in one statement; the caller holds the log's lock."""
    # max() as a subquery of its own: SQLite reads only the index's last entry for a bare max(), and scans the
    # whole log when the same select has another column.
    # Core on the session's connection (the caller flushed): the ORM's execution layer costs more than the read.
    last, clock = session.connection().execute(_NEXT_SEQ(session)).one()
    return 0 if last is None else last + 1, db_time(session, clock)


@dataclass(slots=True)
class Appended:
    """An event as ``append`` wrote it: its columns as plain values. The row is written by one prebuilt INSERT
    and never held as an ORM object (building one cost a request more than the statement)."""

    seq: int
    at: datetime
    actor: str
    actor_roles: str
    action: str
    resource_type: str | None
    resource_id: str | None
    case_id: uuid.UUID | None
    purpose: str
    outcome: str
    status: int | None
    request_id: str | None
    client: str | None
    credential: str | None
    claimed_credential: str | None
    new_credential: str | None
    entry: bytes = b""


def append(session: Session, trail: Trail, outcome: Outcome, status: int | None = None) -> Appended:
    """Append one event in the caller's transaction; call it last, just before commit."""
    action = trail.failed_action if outcome is not Outcome.ALLOWED and trail.failed_action else trail.action
    if action is AuditAction.CUSTODY_COMMIT:
        raise ValueError("a custody commitment is an entry of its own: use append_commitment()")
    session.flush()
    _lock(session)
    seq, at = _next_seq(session)
    event = Appended(
        seq=seq,
        at=at,
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
    event.entry = canonical({"v": ENTRY_VERSION, **entry_fields(event)})
    _insert(session, event)
    session.info.pop(TRAIL, None)
    return event


def canonical(obj: dict[str, Any]) -> bytes:
    """An entry's RFC 8785 bytes: by the C encoder for plain values (``entries.encode_plain``), else in full."""
    return encode_plain(obj) or rfc8785.dumps(obj)


_TABLE = cast(Table, AuditEvent.__table__)
_INSERT = insert(_TABLE)
_COLUMNS = tuple(column.key for column in _TABLE.columns)


def _insert(session: Session, event: Appended) -> None:
    """The row, written by one prebuilt INSERT rather than through the ORM's flush of a new object (which costs
    a request more than the statement itself); the event is handed back to the caller, not kept in the session
    (an append-only row is never changed)."""
    session.connection().execute(_INSERT, {key: getattr(event, key) for key in _COLUMNS})


def append_commitment(session: Session, commitment: bytes) -> AuditEvent:
    """Append a custody commitment as a minimal entry of its own, in the caller's transaction.

    It is appended where the item is stored, not at the end of the unit of work, so that the record can
    name its seq. The log's lock it takes is held until the transaction ends, so sequence order is still
    commit order, and a rollback takes the entry with it. Call it after the last row lock the unit of
    work takes: another transaction waiting for the log's lock must not hold a row this one waits for.
    """
    if len(commitment) != merkle.HASH_SIZE:
        raise ValueError("a custody commitment is a SHA-256 hash")
    session.flush()
    _lock(session)
    seq, at = _next_seq(session)
    event = AuditEvent(seq=seq, at=at, action=AuditAction.CUSTODY_COMMIT.value)
    for column, value in CUSTODY_COLUMNS.items():
        setattr(event, column, value)
    event.entry = rfc8785.dumps(custody_entry(event.seq, _iso(event.at), commitment))
    session.add(event)
    session.flush()
    return event


# Reading back -----------------------------------------------------------------


def size(session: Session) -> int:
    last = session.scalar(select(func.max(AuditEvent.seq)))
    return 0 if last is None else last + 1


def entry_at(session: Session, seq: int) -> bytes | None:
    """The stored bytes of one entry."""
    return session.scalar(select(AuditEvent.entry).where(AuditEvent.seq == seq))


def entries_at(session: Session, seqs: Sequence[int]) -> dict[int, bytes]:
    """The stored bytes of several entries, by one query: seq -> bytes (a seq not in the log is absent)."""
    if not seqs:
        return {}
    rows = session.execute(select(AuditEvent.seq, AuditEvent.entry).where(AuditEvent.seq.in_(seqs)))
    return {seq: entry for seq, entry in rows}


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


def first_checkpoint_covering(session: Session, seq: int) -> AuditCheckpoint | None:
    """The earliest signed checkpoint whose tree includes the entry: the one that fixes its time best."""
    stmt = select(AuditCheckpoint).where(AuditCheckpoint.size > seq).order_by(AuditCheckpoint.size).limit(1)
    return session.scalars(stmt).first()


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
        if not isinstance(stored, dict):
            stored = {}
        custody = AuditAction.CUSTODY_COMMIT.value in (row.action, stored.get("action"))
        differing = _custody_differences(row, stored) if custody else _event_differences(row, stored)
        if differing:
            problems.append(f"event {row.seq}: columns differ from the stored bytes ({', '.join(differing)})")
    return problems


def verify_stored(
    session: Session,
    public_key: bytes,
    key_name: str,
    external: list[tuple[str, str | bytes]] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    transitions: object = (),
) -> Report:
    """Every stored entry and checkpoint (plus any kept off the server, as (label, note)) against a pinned
    key, and every event's columns against its stored bytes: `testimony audit verify` and the auditor's page.

    `transitions` are the published key transition statements: followed from the pinned key, each checked
    before its key is trusted, so checkpoints signed before and after a signing-key rotation both verify. A
    forged or forking chain is a problem, and only the pinned key is trusted then.

    `workers` above 1 checks the entries' form in that many processes: the command line's choice; a server
    process keeps to one."""
    stored = all_checkpoints(session)
    others = external or []
    chain_problems: list[str] = []
    try:
        chain = follow_chain(public_key, list(transitions) if isinstance(transitions, tuple) else transitions)
    except ChainError as exc:
        chain, chain_problems = [public_key], [f"the key chain is refused: {exc}"]
    report = verify_dump(
        iter_entries(session),
        [c.note for c in stored] + [text for _, text in others],
        public_key,
        key_name,
        labels=[f"stored checkpoint {c.size}" for c in stored] + [label for label, _ in others],
        on_progress=on_progress,
        workers=workers,
        chain=chain,
    )
    report.problems[:0] = chain_problems
    report.problems.extend(column_problems(session))
    return report


def _event_differences(row: AuditEvent, stored: dict[str, Any]) -> list[str]:
    """An event is compared with the columns its own version wrote."""
    version = stored.get("v", ENTRY_VERSION)
    expected = {"v": version, **entry_fields(row, version if isinstance(version, int) else 0)}
    return sorted(k for k in expected.keys() | stored.keys() if stored.get(k) != expected.get(k))


def _custody_differences(row: AuditEvent, stored: dict[str, Any]) -> list[str]:
    """A custody commitment entry holds seq, time, action and commitment; its other columns are fixed."""
    fields = {"seq": row.seq, "at": _iso(row.at), "action": row.action, "v": CUSTODY_ENTRY_VERSION}
    differing = {k for k, v in fields.items() if stored.get(k) != v}
    differing |= set(custody_problems(stored)) - {"seq", "at", "action", "v"}
    differing |= {k for k, v in CUSTODY_COLUMNS.items() if getattr(row, k) != v}
    return sorted(differing)


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
