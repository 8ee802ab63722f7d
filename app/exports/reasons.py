"""The free text staff write about an export, sealed at rest: a custodian's reason to approve or reject it, and
the reason a ledger row was marked submitted to proceedings.

Either can name a survivor ("the witness who ..."), so neither is stored in the clear.

- A decision's reason is about the whole export (many people, or none yet): it is sealed under the service
  key, as the request's justification and an erasure's reasons are, bound to its row's export, custodian and
  decision so that it cannot be moved to another decision unnoticed.
- A submission's reason is about one person's records in one export: it is sealed under that person's key,
  bound to the export and to who marked it. Erasing the person makes it unreadable with everything else of
  theirs (read as ``None`` with ``erased`` set), and a row of a person already erased is still marked, with no
  reason kept: nothing new is ever sealed for an erased person.

Values written before this (``reason``, ``submitted_reason`` in the clear) are sealed by ``seal_clear``, which
``testimony init`` runs right after migrating (as the owner, which alone may change the append-only
``export_approvals``); it is idempotent: a second run finds nothing left in the clear.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto import aead
from app.crypto.errors import DecryptionFailed
from app.exports.models import DisclosureEntry, ExportApproval
from app.keys import datakeys
from app.people import erased

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

APPROVALS = "export_approvals"
LEDGER = "disclosure_ledger"


def _decision_binding(export_id: uuid.UUID, decided_by: uuid.UUID, decision: str) -> dict[str, str]:
    return {"export_id": export_id.hex, "decided_by": decided_by.hex, "decision": decision}


def seal_decision(
    session: Session,
    runtime: Runtime,
    row_id: uuid.UUID,
    export_id: uuid.UUID,
    decided_by: uuid.UUID,
    decision: str,
    text: str,
) -> bytes:
    """A custodian's reason for a decision, sealed under the service key."""
    key = datakeys.service_key(session, runtime.keys)
    return aead.seal_bound(
        key,
        text.encode(),
        table=APPROVALS,
        column="sealed_reason",
        row_id=row_id,
        person_id=None,
        binding=_decision_binding(export_id, decided_by, decision),
    )


def decision_reason(session: Session, runtime: Runtime, row: ExportApproval) -> str:
    """The reason of a decision, for those who may read the export (``service.read``)."""
    if row.sealed_reason is None:
        return row.reason or ""  # written before reasons were sealed, and ``testimony init`` has not run since
    key = datakeys.service_key(session, runtime.keys)
    return aead.open_bound(
        key,
        row.sealed_reason,
        table=APPROVALS,
        column="sealed_reason",
        row_id=row.id,
        person_id=None,
        binding=_decision_binding(row.export_id, row.decided_by, row.decision),
        accept_v1=False,
    ).decode()


def _submission_binding(export_id: uuid.UUID, submitted_by: uuid.UUID) -> dict[str, str]:
    return {"export_id": export_id.hex, "submitted_by": submitted_by.hex}


def seal_submission(
    session: Session, runtime: Runtime, row: DisclosureEntry, submitted_by: uuid.UUID, text: str
) -> bytes | None:
    """Why a ledger row was submitted to proceedings, sealed under the person's key; None when the person was
    erased (their key is gone and none is made again)."""
    if erased.is_erased(session, row.person_id):
        return None
    try:
        key = datakeys.data_key(session, runtime.keys, row.person_id)
    except DecryptionFailed:
        if erased.is_erased(session, row.person_id):
            return None  # the key went with an erasure committed meanwhile
        raise  # a key that will not unwrap is an integrity failure
    return aead.seal_bound(
        key,
        text.encode(),
        table=LEDGER,
        column="sealed_submitted_reason",
        row_id=row.id,
        person_id=row.person_id,
        binding=_submission_binding(row.export_id, submitted_by),
    )


@dataclass(frozen=True)
class Submission:
    reason: str | None
    erased: bool
    """The reason was sealed under the person's key, which their erasure deleted (or it was never kept)."""


def submission_reason(session: Session, runtime: Runtime, row: DisclosureEntry) -> Submission:
    """The reason a ledger row was submitted to proceedings, for those who read its recall notices."""
    if not row.submitted_to_proceedings:
        return Submission(reason=None, erased=False)
    if erased.is_erased(session, row.person_id):
        return Submission(reason=None, erased=True)
    if row.sealed_submitted_reason is None or row.submitted_by is None:
        # Written before reasons were sealed, and ``testimony init`` has not run since.
        return Submission(reason=row.submitted_reason, erased=False)
    try:
        key = datakeys.data_key(session, runtime.keys, row.person_id)
    except DecryptionFailed:
        if erased.is_erased(session, row.person_id):
            return Submission(reason=None, erased=True)  # erased since the look above
        raise  # a key that will not unwrap is an integrity failure
    opened = aead.open_bound(
        key,
        row.sealed_submitted_reason,
        table=LEDGER,
        column="sealed_submitted_reason",
        row_id=row.id,
        person_id=row.person_id,
        binding=_submission_binding(row.export_id, row.submitted_by),
        accept_v1=False,
    )
    return Submission(reason=opened.decode(), erased=False)


def seal_clear(session: Session, runtime: Runtime) -> int:
    """Seal every reason still stored in the clear and clear it; how many were sealed. Idempotent.

    A submission reason of a person erased since is cleared without being sealed: their erasure should have
    taken it with their key, and nothing new is sealed for them.
    """
    count = 0
    approvals = session.scalars(
        select(ExportApproval).where(ExportApproval.reason.is_not(None)).order_by(ExportApproval.id)
    ).all()  # fmt: skip
    for approval in approvals:
        assert approval.reason is not None
        approval.sealed_reason = seal_decision(
            session,
            runtime,
            approval.id,
            approval.export_id,
            approval.decided_by,
            approval.decision,
            approval.reason,
        )
        approval.reason = None
        count += 1
    entries = session.scalars(
        select(DisclosureEntry).where(DisclosureEntry.submitted_reason.is_not(None)).order_by(DisclosureEntry.id)
    ).all()  # fmt: skip
    for entry in entries:
        assert entry.submitted_reason is not None
        if entry.submitted_by is not None:
            entry.sealed_submitted_reason = seal_submission(
                session, runtime, entry, entry.submitted_by, entry.submitted_reason
            )
            count += entry.sealed_submitted_reason is not None
        entry.submitted_reason = None
    session.flush()
    return count
