"""The auditor's read side: events, checkpoints, proofs and the key history.

Kept apart from service.py, which imports nothing of the domains; this module
adds the policy check in front of it.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.models import User
from app.access.principal import Principal
from app.audit import log_proofs, merkle, note
from app.audit import service as audit
from app.audit.models import AuditCheckpoint, AuditEvent
from app.audit.schemas import (
    ActorRead,
    AuditEventPage,
    AuditEventRead,
    CheckpointRead,
    ConsistencyProofRead,
    InclusionProofRead,
    PublicKeyRead,
    VerificationRead,
)
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import FIRST_PAGE, INT64, Page, PageRequest, in_memory, int_cursor, keyset
from app.crypto.keyring import Keyring
from app.crypto.signing import Signer, fingerprint

MAX_PAGE = 500


def _stored_at(row: AuditEvent) -> str:
    """The time exactly as the stored entry writes it, so an auditor comparing strings sees no false mismatch.

    Entries whose bytes do not parse (tampered; `audit verify` names them) show the column as entries write it.
    """
    try:
        stored = json.loads(row.entry)
    except ValueError:
        stored = None
    at = stored.get("at") if isinstance(stored, dict) else None
    return at if isinstance(at, str) else audit.entry_fields(row)["at"]


def _event(row: AuditEvent) -> AuditEventRead:
    return AuditEventRead(
        seq=row.seq,
        at=_stored_at(row),
        actor=row.actor,
        actor_roles=row.actor_roles.split(",") if row.actor_roles else [],
        action=row.action,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        case_id=row.case_id,
        purpose=row.purpose,
        outcome=row.outcome,
        status=row.status,
        request_id=row.request_id,
        credential=row.credential,
        claimed_credential=row.claimed_credential,
        new_credential=row.new_credential,
        entry=base64.b64encode(row.entry).decode(),
    )


def require_reader(principal: Principal) -> None:
    """Refuse a role that does not read the log, before a page prepares anything to show (403)."""
    policy.require(principal, policy.Action.AUDIT_READ)


def events(
    session: Session,
    principal: Principal,
    *,
    actor: str | None = None,
    action: str | None = None,
    resource_id: str | None = None,
    case_id: uuid.UUID | None = None,
    outcome: str | None = None,
    credential: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int | None = None,
    limit: int = 100,
) -> AuditEventPage:
    """Filtered events in sequence order; ``after`` is the cursor from the previous page."""
    policy.require(principal, policy.Action.AUDIT_READ)
    limit = max(1, min(limit, MAX_PAGE))
    stmt = select(AuditEvent).order_by(AuditEvent.seq)
    filters = {
        AuditEvent.actor: actor,
        AuditEvent.action: action,
        AuditEvent.resource_id: resource_id,
        AuditEvent.case_id: case_id,
        AuditEvent.outcome: outcome,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if credential is not None:
        # Every event on a credential's trail: made by it, made it (login, renewal) or presented it.
        stmt = stmt.where(
            or_(
                AuditEvent.credential == credential,
                AuditEvent.new_credential == credential,
                AuditEvent.claimed_credential == credential,
            )
        )
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= _instant(since, "since"))
    if until is not None:
        stmt = stmt.where(AuditEvent.at < _instant(until, "until"))
    if after is not None:
        stmt = stmt.where(AuditEvent.seq > after)
    rows = session.scalars(stmt.limit(limit + 1)).all()
    page = [_event(r) for r in rows[:limit]]
    return AuditEventPage(events=page, next_cursor=page[-1].seq if len(rows) > limit else None)


def _checkpoint(row: AuditCheckpoint) -> CheckpointRead:
    return CheckpointRead(
        size=row.size,
        root_hash=audit.b64(row.root_hash),
        note=row.note,
        key_id=row.key_id,
        created_at=row.created_at,
    )


def latest_checkpoint(session: Session, principal: Principal) -> CheckpointRead:
    policy.require(principal, policy.Action.AUDIT_READ)
    row = audit.latest_checkpoint(session)
    if row is None:
        raise NotFound(
            "no checkpoint has been signed yet: on the server, run `testimony audit checkpoint` to sign one now, "
            "and keep `testimony audit checkpointer` running to sign them as events accumulate"
        )
    return _checkpoint(row)


def _instant(at: datetime, field: str) -> datetime:
    """A time filter as an instant in UTC: with a time zone, and one that exists in UTC."""
    try:
        if at.tzinfo is None:
            raise ValueError("naive")
        return at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            "%(time_filter)s must be a time with a time zone, within the years 1 to 9999 in UTC",
            fields=[field],
            params={"time_filter": field},
        ) from None


def checkpoints(
    session: Session, principal: Principal, size: int | None, page: PageRequest = FIRST_PAGE
) -> Page[CheckpointRead]:
    """Signed checkpoints by tree size; ``size`` picks one."""
    policy.require(principal, policy.Action.AUDIT_READ)
    if size is not None:
        row = audit.checkpoint_at(session, size)
        if row is None:
            raise NotFound("no checkpoint of that size")
        return Page[CheckpointRead](items=[_checkpoint(row)], next_cursor=None)
    rows, cursor = keyset(
        session, select(AuditCheckpoint), AuditCheckpoint.size, page, int_cursor(INT64), lambda c: c.size
    )
    return Page[CheckpointRead](items=[_checkpoint(r) for r in rows], next_cursor=cursor)


def _leaves(session: Session, tree_size: int) -> list[bytes]:
    if tree_size < 1 or tree_size > audit.size(session):
        raise ValidationFailed("tree_size is outside the log", fields=["tree_size"])
    return audit.leaf_hashes(session, tree_size)


def inclusion(session: Session, principal: Principal, index: int, tree_size: int) -> InclusionProofRead:
    policy.require(principal, policy.Action.AUDIT_READ)
    leaves = _leaves(session, tree_size)
    if not 0 <= index < tree_size:
        raise ValidationFailed("index must be below tree_size", fields=["index"])
    proof = merkle.inclusion_proof(leaves, index, tree_size)
    return InclusionProofRead(
        index=index,
        tree_size=tree_size,
        leaf_hash=audit.b64(leaves[index]),
        root_hash=audit.b64(merkle.root(leaves)),
        proof=[audit.b64(p) for p in proof],
    )


def consistency(session: Session, principal: Principal, first: int, second: int) -> ConsistencyProofRead:
    policy.require(principal, policy.Action.AUDIT_READ)
    leaves = _leaves(session, second)
    if not 1 <= first <= second:
        raise ValidationFailed("first must be between 1 and second", fields=["first"])
    proof = merkle.consistency_proof(leaves, first, second)
    return ConsistencyProofRead(
        first=first,
        second=second,
        first_root=audit.b64(merkle.root(leaves[:first])),
        second_root=audit.b64(merkle.root(leaves)),
        proof=[audit.b64(p) for p in proof],
    )


def public_keys(
    principal: Principal, keyring: Keyring, origin: str, page: PageRequest = FIRST_PAGE
) -> Page[PublicKeyRead]:
    """The signing key history with ids. Verifiers must pin a key obtained elsewhere."""
    policy.require(principal, policy.Action.AUDIT_READ)
    out = []
    for entry in keyring.public_keys():
        raw = base64.b64decode(entry["public_key"])
        out.append(PublicKeyRead(**entry, vkey=note.vkey(origin, raw)))
    items, cursor = in_memory(out, page)
    return Page[PublicKeyRead](items=list(items), next_cursor=cursor)


def actor(session: Session, principal: Principal, user_id: uuid.UUID) -> ActorRead:
    """Who an actor id in the log is: events stay id-only, and this look-up is itself logged."""
    user = policy.load(session, principal, policy.Action.AUDIT_READ, User, user_id)
    return ActorRead(
        id=user.id,
        actor=f"user:{user.id}",
        username=user.username,
        display_name=user.display_name,
        roles=sorted(user.roles),
        active=user.active,
    )


def usernames(session: Session, principal: Principal, actors: set[str]) -> dict[str, str]:
    """The username of each `user:<id>` actor among those shown; other actors (system:cli, anonymous) have none."""
    policy.require(principal, policy.Action.AUDIT_READ)
    ids = {uuid.UUID(a[5:]) for a in actors if a.startswith("user:") and _is_uuid(a[5:])}
    if not ids:
        return {}
    return {f"user:{u.id}": u.username for u in session.scalars(select(User).where(User.id.in_(ids)))}


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def actor_named(session: Session, principal: Principal, name: str) -> str:
    """An actor as the log names it, from what an auditor typed: `user:<id>`, `system:...`, `anonymous`, a username."""
    policy.require(principal, policy.Action.AUDIT_READ)
    if name.startswith(("user:", "system:")) or name == "anonymous":
        return name
    user_id = session.scalar(select(User.id).where(User.username == name))
    if user_id is None:
        raise ValidationFailed("no account has that username", fields=["actor"])
    return f"user:{user_id}"


def verification(session: Session, principal: Principal, keyring: Keyring, origin: str) -> VerificationRead:
    """The whole log and every stored checkpoint verified against the current signing key and the keys before it
    that vouched for it (each checkpoint under the key then in use), and every event's columns against its stored
    bytes: the same check as `testimony audit verify --key VKEY`."""
    policy.require(principal, policy.Action.AUDIT_READ)
    public_key = keyring.signer.public_key
    report = audit.verify_stored(session, _chain_start(keyring), origin, transitions=keyring.transitions())
    largest = max((c.checkpoint.size for c in report.checkpoints), default=0)
    row = audit.checkpoint_at(session, largest) if largest else None
    return VerificationRead(
        ok=report.ok,
        entries=report.entries,
        covered=largest,
        checkpoint=_checkpoint(row) if row is not None else None,
        key_id=keyring.signer.key_id,
        key_fingerprint=fingerprint(public_key),
        vkey=note.vkey(origin, public_key),
        problems=report.problems,
    )


def _chain_start(keyring: Keyring) -> bytes:
    """The oldest signing key from which signed transitions lead to the current one."""
    entries = keyring.signing_keys
    first = len(entries) - 1
    while first > 0 and entries[first].transition is not None:
        first -= 1
    return Signer.from_seed(entries[first].seed).public_key


def _stored_checkpoint(session: Session, size: int, field: str) -> AuditCheckpoint:
    row = audit.checkpoint_at(session, size)
    if row is None:
        raise NotFound("no checkpoint of that size", fields=[field])
    return row


def _latest(session: Session) -> AuditCheckpoint:
    row = audit.latest_checkpoint(session)
    if row is None:
        raise NotFound("no checkpoint has been signed yet: on the server, run `testimony audit checkpoint`")
    return row


def inclusion_file(session: Session, principal: Principal, seq: int | None, size: int | None) -> dict[str, object]:
    """One event's inclusion proof in a stored checkpoint (the latest by default; its last event by default),
    with that checkpoint: `python -m app.audit.verify inclusion` checks it."""
    policy.require(principal, policy.Action.AUDIT_READ)
    row = _latest(session) if size is None else _stored_checkpoint(session, size, "size")
    size = row.size
    seq = size - 1 if seq is None else seq
    if not 0 <= seq < size:
        raise ValidationFailed("the event must be one the checkpoint signs: below its size", fields=["seq"])
    proof = inclusion(session, principal, seq, size)
    entry = audit.entry_at(session, seq)
    assert entry is not None  # every seq below a stored checkpoint's size is stored
    path = [base64.b64decode(p) for p in proof.proof]
    return log_proofs.inclusion_document(entry=entry, seq=seq, path=path, checkpoint=row.note, tree_size=size)


def consistency_file(
    session: Session, principal: Principal, first: int | None, second: int | None
) -> dict[str, object]:
    """A consistency proof between two stored checkpoints (by default the earliest and the latest), with both:
    `python -m app.audit.verify consistency` checks it."""
    policy.require(principal, policy.Action.AUDIT_READ)
    new = _latest(session) if second is None else _stored_checkpoint(session, second, "second")
    earliest = audit.first_checkpoint_covering(session, -1)
    old = earliest or new if first is None else _stored_checkpoint(session, first, "first")
    first, second = old.size, new.size
    if first > second:
        raise ValidationFailed("the first checkpoint must not be larger than the second", fields=["first"])
    proof = consistency(session, principal, first, second)
    path = [base64.b64decode(p) for p in proof.proof]
    return log_proofs.consistency_document(
        first_size=first, second_size=second, path=path, first_checkpoint=old.note, second_checkpoint=new.note
    )
