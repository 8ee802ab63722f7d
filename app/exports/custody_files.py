"""Custody proofs in a bundle: for attachment originals and whole statement versions, at the named levels only.

A proof is the one `testimony custody proof` writes (``app.interviews.custody.proof``): the record's
commitment, its log entry, the inclusion proof and a signed checkpoint, never the record's id, person or case.
It goes under ``custody/`` beside the bundle file it proves: an attachment sent as its original (to a recipient
that keeps originals), or a statement version's canonical bytes. A stripped copy has no proof (it is not the
committed file), nor has anything at ``pseudonymous`` or below (the proof would tie it to the log). An item
whose commitment no signed checkpoint covers yet goes without one, and the manifest says how many.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from app.access.principal import Principal
from app.core.errors import NotFound
from app.interviews import custody

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

PROVER = Principal.system("worker")
FOLDER = "custody/"


def proof_bytes(session: Session, runtime: Runtime, record_id: uuid.UUID) -> bytes | None:
    """The proof file of a record's custody commitment; None when no signed checkpoint covers it yet (or it
    has no commitment). A log that no longer matches its checkpoint fails the build (``CustodyIntegrity``)."""
    try:
        document = custody.proof(session, runtime, PROVER, record_id)
    except (custody.NotCheckpointed, NotFound):
        return None
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def proofs_bytes(session: Session, runtime: Runtime, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bytes | None]:
    """``proof_bytes`` for many records, read by a fixed number of queries (``custody.proofs``)."""
    return {
        record_id: None if document is None else _encoded(document)
        for record_id, document in custody.proofs(session, runtime, PROVER, record_ids).items()
    }


def _encoded(document: object) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def proof_name(item: str) -> str:
    """The proof's name for a bundle file: ``custody/`` and the item's own name without its folder."""
    return f"{FOLDER}{item.rsplit('/', 1)[-1]}.proof.json"
