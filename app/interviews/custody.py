"""Chain of custody: a commitment to each statement version and attachment original in the audit log,
and the proof file that lets a court check one without our word for it.

`commit` is called by the service that stores the item, in the same unit of work; `proof` is what
`testimony custody proof` runs. The commitment format and the proof file are in app/audit/custody_proof.py,
which the offline verifier shares.
"""

from __future__ import annotations

import bisect
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import merkle
from app.audit import service as audit
from app.audit.custody_proof import DIGEST_SIZE, SALT_SIZE, commitment, document
from app.core.db import new_id
from app.core.errors import AppError, Conflict, NotFound
from app.interviews.models import CustodyCommitment
from app.keys import datakeys
from app.keys.sealed import Place, open_json, seal_json
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "custody_commitments"


class Kind(StrEnum):
    """What a commitment vouches for; each kind has its own context string in the commitment."""

    STATEMENT_VERSION = "statement_version"
    """The canonical bytes of a confirmed statement version."""
    ATTACHMENT_ORIGINAL = "attachment_original"
    """The original file of an attachment, as uploaded."""


@dataclass(frozen=True)
class CustodyRecord:
    """A commitment made: the record it vouches for and the log entry that holds it."""

    id: uuid.UUID
    kind: Kind
    record_id: uuid.UUID
    person_id: uuid.UUID
    case_id: uuid.UUID
    seq: int
    at: datetime
    commitment: bytes


class NotCheckpointed(Conflict):
    """The entry exists, but no signed checkpoint includes it yet, so nothing vouches for it."""


class CustodyIntegrity(AppError):
    status = 500
    title = "Integrity check failed"
    type_slug = "integrity"


def place(row: CustodyCommitment) -> Place:
    """The salt and digest are bound to the case, the kind, the record and the log entry: editing any of
    them in the database makes them fail to open, rather than vouch for another record."""
    binding = {"case": row.case_id.hex, "kind": row.kind, "record": row.record_id.hex, "seq": str(row.audit_seq)}
    return Place(TABLE, "sealed", row.id, row.person_id, binding)


def commit(
    session: Session,
    runtime: Runtime,
    *,
    person_id: uuid.UUID,
    case_id: uuid.UUID,
    kind: Kind,
    record_id: uuid.UUID,
    digest: bytes,
) -> CustodyRecord:
    """Commit to an item just stored: a fresh salt, the commitment as a log entry of its own, and the salt
    and digest sealed beside the record. The caller has checked access to the person.

    The entry is appended now, in the caller's transaction, and the log's lock is held until it ends (see
    `audit.append_commitment`): call this after the last row lock the unit of work takes. A second
    commitment to the same record is a 409 naming `record_id`, decided by the unique constraint.
    """
    if len(digest) != DIGEST_SIZE:
        raise ValueError("the digest is a SHA-256 hash")
    person = session.get(Person, person_id)
    if person is None or person.case_id != case_id:
        raise ValueError("the person is not in that case")
    # Made (if need be) before the log's lock: a first data key inserted under it could wait for a
    # transaction that inserted the same person's key and now waits for the lock.
    datakeys.sealing_key(session, runtime.keys, person_id)
    salt = secrets.token_bytes(SALT_SIZE)
    value = commitment(kind.value, salt, digest)
    event = audit.append_commitment(session, value)
    row = CustodyCommitment(
        id=new_id(),
        kind=kind.value,
        record_id=record_id,
        person_id=person_id,
        case_id=case_id,
        audit_seq=event.seq,
        created_at=event.at,
        sealed=b"",
    )
    row.sealed = seal_json(session, runtime.keys, place(row), {"salt": salt.hex(), "digest": digest.hex()})
    session.add(row)
    session.flush()
    return CustodyRecord(row.id, kind, record_id, person_id, case_id, event.seq, event.at, value)


def _salt_and_digest(session: Session, runtime: Runtime, row: CustodyCommitment) -> tuple[bytes, bytes]:
    """The named door of custody: the salt and digest go into a proof file for a court."""
    opened = open_json(session, runtime.keys, place(row), row.sealed)
    return bytes.fromhex(opened["salt"]), bytes.fromhex(opened["digest"])


def proof(session: Session, runtime: Runtime, principal: Principal, record_id: uuid.UUID) -> dict[str, Any]:
    """The proof file of a record's commitment, against the earliest signed checkpoint that includes it.

    It holds the kind, digest, salt, entry, inclusion proof and checkpoint; never the record id, the person
    or the case. Before handing it out, it checks that the entry commits to the sealed salt and digest and
    that the log up to the checkpoint still hashes to the signed root.
    """
    policy.require(principal, policy.Action.CUSTODY_PROOF)
    row_id = session.scalar(select(CustodyCommitment.id).where(CustodyCommitment.record_id == record_id))
    if row_id is None:
        raise NotFound("no custody commitment for that record")
    row = policy.load(session, principal, policy.Action.CUSTODY_PROOF, CustodyCommitment, row_id)
    audit.touch(session, resource_id=record_id, case_id=row.case_id)
    salt, digest = _salt_and_digest(session, runtime, row)
    entry = audit.entry_at(session, row.audit_seq) or b""
    expected = commitment(row.kind, salt, digest).hex()
    if _committed(entry) != expected:
        raise CustodyIntegrity(
            "log entry %(n)s does not hold this record's commitment: run `testimony audit verify`",
            params={"n": str(row.audit_seq)},
        )
    checkpoint = audit.first_checkpoint_covering(session, row.audit_seq)
    if checkpoint is None:
        raise NotCheckpointed(
            "no signed checkpoint includes log entry %(n)s yet: sign one with "
            "`testimony audit checkpoint` (or wait for the checkpointer), then ask again",
            params={"n": str(row.audit_seq)},
        )
    leaves = audit.leaf_hashes(session, checkpoint.size)
    if merkle.root(leaves) != checkpoint.root_hash:
        raise CustodyIntegrity(
            "the log no longer hashes to its signed checkpoint of %(n)s entries: run `testimony audit verify`",
            params={"n": str(checkpoint.size)},
        )
    return document(
        kind=row.kind,
        digest=digest,
        salt=salt,
        entry=entry,
        seq=row.audit_seq,
        tree_size=checkpoint.size,
        path=merkle.inclusion_proof(leaves, row.audit_seq, checkpoint.size),
        checkpoint=checkpoint.note,
    )


def proofs(
    session: Session, runtime: Runtime, principal: Principal, record_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any] | None]:
    """``proof`` for many records by a fixed number of queries (the export build, a page of items at a time):
    the commitments, their log entries and the checkpoints are each read once, and the log's leaves up to
    the largest checkpoint needed once, each checkpoint's root checked once. Each record's proof, or None when
    it has no commitment or no signed checkpoint covers it yet; a log that no longer matches its entry or its
    checkpoint raises ``CustodyIntegrity`` as ``proof`` does."""
    policy.require(principal, policy.Action.CUSTODY_PROOF)
    found: dict[uuid.UUID, dict[str, Any] | None] = dict.fromkeys(record_ids)
    if not record_ids:
        return found
    read = list(session.scalars(select(CustodyCommitment).where(CustodyCommitment.record_id.in_(record_ids))))
    # the object check of each (the rows are in the session: no query more)
    rows = [policy.load(session, principal, policy.Action.CUSTODY_PROOF, CustodyCommitment, r.id) for r in read]
    entries = audit.entries_at(session, [r.audit_seq for r in rows])
    keys = datakeys.loaded(session, sorted({r.person_id for r in rows}))  # held: data_key finds them in the session
    checkpoints = audit.all_checkpoints(session)
    sizes = [c.size for c in checkpoints]
    covering = {r.id: bisect.bisect_right(sizes, r.audit_seq) for r in rows}  # first checkpoint with size > seq
    needed = [checkpoints[i].size for i in covering.values() if i < len(checkpoints)]
    leaves = audit.leaf_hashes(session, max(needed)) if needed else []
    checked: set[int] = set()
    for row in rows:
        audit.touch(session, resource_id=row.record_id, case_id=row.case_id)
        salt, digest = _salt_and_digest(session, runtime, row)
        entry = entries.get(row.audit_seq) or b""
        if _committed(entry) != commitment(row.kind, salt, digest).hex():
            raise CustodyIntegrity(
                "log entry %(n)s does not hold this record's commitment: run `testimony audit verify`",
                params={"n": str(row.audit_seq)},
            )
        at = covering[row.id]
        if at == len(checkpoints):
            continue  # not checkpointed yet
        checkpoint = checkpoints[at]
        if checkpoint.size not in checked:
            if merkle.root(leaves[: checkpoint.size]) != checkpoint.root_hash:
                raise CustodyIntegrity(
                    "the log no longer hashes to its signed checkpoint of %(n)s entries: run `testimony audit verify`",
                    params={"n": str(checkpoint.size)},
                )
            checked.add(checkpoint.size)
        found[row.record_id] = document(
            kind=row.kind,
            digest=digest,
            salt=salt,
            entry=entry,
            seq=row.audit_seq,
            tree_size=checkpoint.size,
            path=merkle.inclusion_proof(leaves[: checkpoint.size], row.audit_seq, checkpoint.size),
            checkpoint=checkpoint.note,
        )
    del keys
    return found


def _committed(entry: bytes) -> str | None:
    """The commitment a stored entry holds, if it is a custody entry."""
    try:
        stored = json.loads(entry)
    except ValueError:
        return None
    value = stored.get("commitment") if isinstance(stored, dict) else None
    return value if isinstance(value, str) else None
