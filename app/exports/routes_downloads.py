"""HTTP adapters for downloading bundles, asking again for stale exports, recall notices and feedback tasks."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from fastapi.responses import StreamingResponse

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.exports import download, feedback, recalls
from app.exports.schemas import (
    DisclosureFeedbackRead,
    ExportRead,
    FeedbackOutcomeIn,
    LedgerSubmitIn,
    LedgerSubmitted,
    RecallRead,
    RecallState,
)

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["exports"])


@router.get(
    "/exports/{export_id}/bundle",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The sealed bundle's bytes."}},
)
@audited(AuditAction.EXPORT_DOWNLOAD, "export", id_param="export_id")
def download_bundle(
    export_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> StreamingResponse:
    """The requester's download of a ready export (409 ``stale``, ``expired``, ``download_limit``...)."""
    row, bundle = download.download(session, runtime, principal, export_id)
    headers = {
        "Content-Length": str(bundle.size),
        # An opaque name: the export's id says nothing of its contents or recipient.
        "Content-Disposition": f'attachment; filename="export-{row.id.hex}.bin"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(bundle.chunks(), media_type="application/octet-stream", headers=headers)


@router.post("/exports/{export_id}/request-again", response_model=ExportRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.EXPORT_REQUEST_AGAIN, "export", id_param="export_id")
def request_again(
    export_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ExportRead:
    return download.request_again(session, runtime, principal, export_id)


@router.post("/exports/{export_id}/ledger/{ledger_id}/submitted", response_model=LedgerSubmitted)
@audited(AuditAction.LEDGER_SUBMITTED, "export", id_param="export_id")
def mark_submitted(
    export_id: uuid.UUID,
    ledger_id: uuid.UUID,
    data: LedgerSubmitIn,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> LedgerSubmitted:
    """A custodian with a fresh second factor marks a ledger row submitted to proceedings, with a reason (never
    undone)."""
    return recalls.mark_submitted(session, runtime, principal, export_id, ledger_id, data)


@router.get("/recalls", response_model=Page[RecallRead])
@audited(AuditAction.RECALL_LIST, "recall")
def list_recalls(
    principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[RecallRead]:
    return recalls.list_recalls(session, runtime, principal, page)


@router.post("/recalls/{recall_id}/sent", response_model=RecallRead)
@audited(AuditAction.RECALL_SENT, "recall", id_param="recall_id")
def recall_sent(
    recall_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> RecallRead:
    return recalls.move_recall(session, runtime, principal, recall_id, RecallState.SENT)


@router.post("/recalls/{recall_id}/acknowledged", response_model=RecallRead)
@audited(AuditAction.RECALL_ACKNOWLEDGED, "recall", id_param="recall_id")
def recall_acknowledged(
    recall_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> RecallRead:
    return recalls.move_recall(session, runtime, principal, recall_id, RecallState.ACKNOWLEDGED)


@router.get("/feedback-tasks", response_model=Page[DisclosureFeedbackRead])
@audited(AuditAction.DISCLOSURE_FEEDBACK_LIST, "disclosure_feedback")
def list_feedback(principal: CurrentPrincipal, session: DbSession, page: PageQuery) -> Page[DisclosureFeedbackRead]:
    """The documenter's own tasks: tell a survivor of an approval or a recall through their safe channel."""
    return feedback.list_tasks(session, principal, page)


@router.post("/feedback-tasks/{task_id}/outcome", response_model=DisclosureFeedbackRead)
@audited(AuditAction.DISCLOSURE_FEEDBACK_OUTCOME, "disclosure_feedback", id_param="task_id")
def record_outcome(
    task_id: uuid.UUID, data: FeedbackOutcomeIn, principal: CurrentPrincipal, session: DbSession
) -> DisclosureFeedbackRead:
    return feedback.record_outcome(session, principal, task_id, data)
