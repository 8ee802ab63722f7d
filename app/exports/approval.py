"""Approving or rejecting an export: a custodian who did not ask for it, with a fresh second factor in a
browser session (never a bearer token), and for named identity or recordings of the person a second,
different custodian.

The first approval of a two-custodian export moves it to ``awaiting_second_approval`` and opens a request of
the registered confirmation kind ``export.second_approval``: the engine (app/confirmations) then refuses the
first approver, decides once under a row lock and expires the request after its deadline, which rejects the
export. The approval that completes it enqueues the build job in the same transaction.

Each approving custodian must first have reviewed (``GET /api/v1/exports/{id}/review``) every redaction the
export's de-identified narratives would use now (409 ``redactions_not_reviewed``, naming the redactions' ids);
the approval that lets the export go checks this for every custodian who approved it, and pins those
redactions to the export (``narratives.pin``): the build sends them, never a later one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import auth, policy
from app.access.models import User
from app.access.principal import Principal
from app.audit import service as audit
from app.confirmations import service as confirmations
from app.confirmations.models import Confirmation
from app.core.db import db_now, new_id, on_failure
from app.core.errors import Conflict, Forbidden
from app.exports import jobs, narratives, reasons
from app.exports.models import ExportApproval, ExportRequest
from app.exports.schemas import ExportDecision, ExportRead, ExportStatus
from app.exports.service import move, read

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

APPROVE = "approve"
REJECT = "reject"


def approve_export(
    session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID, data: ExportDecision
) -> ExportRead:
    return _decide(session, runtime, principal, export_id, data.reason, approve=True)


def reject_export(
    session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID, data: ExportDecision
) -> ExportRead:
    return _decide(session, runtime, principal, export_id, data.reason, approve=False)


def requester_entitled(session: Session, row: ExportRequest) -> bool:
    """The requester is still an active account on the team of every case the export covers: who asked is
    who downloads, so a lawyer taken off a case meanwhile gets nothing of it."""
    user = session.get(User, row.requester_id)
    if user is None or not user.active:
        return False
    on = auth.case_ids_of(session, row.requester_id)
    return all(uuid.UUID(str(case_id)) in on for case_id in row.case_ids)


def _record(
    session: Session, runtime: Runtime, row: ExportRequest, principal: Principal, decision: str, reason: str
) -> None:
    assert principal.user_id is not None
    row_id = new_id()
    session.add(
        ExportApproval(
            id=row_id,
            export_id=row.id,
            decided_by=principal.user_id,
            decision=decision,
            sealed_reason=reasons.seal_decision(session, runtime, row_id, row.id, principal.user_id, decision, reason),
            decided_at=db_now(session),
        )
    )
    session.flush()


def _reviewed(session: Session, runtime: Runtime, row: ExportRequest, principal: Principal) -> narratives.Outlook:
    """What the export would send now, once every custodian approving it has reviewed each redaction its
    de-identified narratives would use (409 ``redactions_not_reviewed`` naming the redactions' ids otherwise)."""
    assert principal.user_id is not None
    if not narratives.may_send(row):
        return narratives.Outlook()
    seen = narratives.outlook(session, runtime, row)
    used = seen.redaction_ids()
    if missing := narratives.unreviewed(session, row.id, principal.user_id, used):
        raise Conflict(
            "review the redacted text this export would send (GET /api/v1/exports/%(id)s/review), then approve",
            params={"id": str(row.id)},
            code="redactions_not_reviewed",
            redactions=[str(r) for r in missing],
        )
    earlier = session.scalars(
        select(ExportApproval.decided_by).where(ExportApproval.export_id == row.id, ExportApproval.decision == APPROVE)
    )
    for custodian in earlier:
        if missing := narratives.unreviewed(session, row.id, custodian, used):
            raise Conflict(
                "the custodian who approved first has not reviewed every redaction this export would now send: "
                "they review it (GET /api/v1/exports/%(id)s/review) before it can be approved",
                params={"id": str(row.id)},
                code="redactions_not_reviewed",
                redactions=[str(r) for r in missing],
            )
    return seen


def _decide(
    session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID, reason: str, *, approve: bool
) -> ExportRead:
    # The row is held: two custodians deciding at once decide one after the other.
    row = policy.load(session, principal, policy.Action.EXPORT_APPROVE, ExportRequest, export_id, lock=True)
    audit.touch(session, resource_id=row.id)
    now = db_now(session)
    policy.require_step_up(principal, policy.Action.EXPORT_APPROVE, now)
    if row.requester_id == principal.user_id:
        raise Forbidden("a custodian who did not ask for this export must decide it", code="same_person")
    if approve and not requester_entitled(session, row):
        raise Conflict(
            "the one who asked is no longer active or no longer on every case of this export: it cannot be "
            "approved (reject it)",
            code="requester_not_entitled",
        )
    status = ExportStatus(row.status)
    if status is ExportStatus.REQUESTED:
        seen = _reviewed(session, runtime, row, principal) if approve else None
        _record(session, runtime, row, principal, APPROVE if approve else REJECT, reason)
        if seen is None:
            move(session, row, ExportStatus.REJECTED, was=status)
        elif row.approvals_needed == 1:
            move(session, row, ExportStatus.APPROVED, was=status)
            narratives.pin(session, row.id, seen)
            jobs.enqueue(session, row.id, now)
        else:
            move(session, row, ExportStatus.AWAITING_SECOND_APPROVAL, was=status)
            confirmations.request_confirmation(
                session, runtime, principal, SECOND_APPROVAL, row.id, {"revision": row.revision}
            )
        return read(session, runtime, row)
    if status is ExportStatus.AWAITING_SECOND_APPROVAL:
        waiting = confirmations.pending(session, SECOND_APPROVAL, row.id)
        if not waiting:
            # Past its deadline: the refusal still closes it (and so rejects the export).
            on_failure(session, lambda s: confirmations.close_expired(s, now))
            raise Conflict("the wait for a second custodian has expired: the export must be asked for again")
        seen = _reviewed(session, runtime, row, principal) if approve else None
        # The engine refuses the custodian who approved first, and decides once.
        confirmations.decide_confirmation(
            session, runtime, principal, waiting[0].id, approve, action=policy.Action.EXPORT_APPROVE
        )
        if seen is None:
            move(session, row, ExportStatus.REJECTED, was=status)
        else:
            session.refresh(row)
            if ExportStatus(row.status) is not ExportStatus.APPROVED:
                raise Conflict("this export changed while it waited for a second custodian")
            narratives.pin(session, row.id, seen)
        _record(session, runtime, row, principal, APPROVE if approve else REJECT, reason)
        return read(session, runtime, row)
    raise Conflict(
        "this export is %(export_status)s: it is not waiting for a decision", params={"export_status": status.value}
    )


# The second custodian, as a two-person kind of request ---------------------------------------------------


def _concerns(session: Session, row: Confirmation) -> confirmations.Subject:
    return confirmations.Subject()


def _apply_second(session: Session, row: Confirmation, now: datetime) -> str | None:
    export = session.get(ExportRequest, row.target_id, with_for_update=True)
    if export is None:
        return "the export no longer exists"
    if export.status != ExportStatus.AWAITING_SECOND_APPROVAL or export.revision != row.payload.get("revision"):
        return "the export changed while it waited"
    move(session, export, ExportStatus.APPROVED, was=ExportStatus.AWAITING_SECOND_APPROVAL)
    jobs.enqueue(session, export.id, now)
    return None


def _expired(session: Session, row: Confirmation) -> None:
    export = session.get(ExportRequest, row.target_id, with_for_update=True)
    if export is not None and export.status == ExportStatus.AWAITING_SECOND_APPROVAL:
        move(session, export, ExportStatus.REJECTED, was=ExportStatus.AWAITING_SECOND_APPROVAL)


SECOND_APPROVAL = confirmations.register(
    confirmations.Kind(
        "export.second_approval",
        _apply_second,
        _concerns,
        decide_action=policy.Action.EXPORT_APPROVE,
        step_up=True,
        on_expire=_expired,
    )
)
