"""Running a failed build again, from the command line (`testimony exports build EXPORT_ID`).

Only an export whose build failed, and that its custodians had approved (as many approvals as it needs), is
queued again: its status goes back from ``failed`` to ``approved`` and its job to ``queued``, in one
transaction under the export's row lock. Nothing here approves: an export never approved, rejected, stale or
ready is refused with 409. The build itself is the worker's (``build.run_build``), resumed where the failed
attempt stopped: people already in the ledger are not decided again.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.core.errors import Conflict
from app.exports import jobs
from app.exports.models import ExportApproval, ExportRequest
from app.exports.schemas import ExportRead, ExportStatus
from app.exports.service import move, read

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

NOT_FAILED = "only a failed build of an approved export is run again"


def queue_again(session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID) -> ExportRead:
    """Queue the failed build of an approved export again; 409 for any other export."""
    policy.require(principal, policy.Action.EXPORT_REBUILD)
    row = policy.load(session, principal, policy.Action.EXPORT_READ, ExportRequest, export_id)
    session.refresh(row, with_for_update=True)
    audit.touch(session, resource_id=row.id)
    approvals = session.scalar(
        select(func.count())
        .select_from(ExportApproval)
        .where(ExportApproval.export_id == row.id, ExportApproval.decision == "approve")
    )
    if ExportStatus(row.status) is not ExportStatus.FAILED or (approvals or 0) < row.approvals_needed:
        raise Conflict(NOT_FAILED, fields=["status"])
    if not jobs.requeue_failed(session, row.id):
        raise Conflict(NOT_FAILED, fields=["status"])
    move(session, row, ExportStatus.APPROVED, was=ExportStatus.FAILED, failure=None)
    return read(session, runtime, row)
