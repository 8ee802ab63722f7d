"""A custodian's review and decision of an export, and the recall notices and feedback tasks that follow
exports. The same services as /api/v1/exports/{id}/review, /approve, /reject, /api/v1/recalls and
/api/v1/feedback-tasks: reading the review records it (approving needs it), the one who asked never decides,
and a decision needs a fresh second factor."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.access import policy
from app.access.deps import RuntimeDep
from app.access.principal import Principal
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.db import db_now
from app.core.pagination import FIRST_PAGE, PageQuery, PageRequest
from app.exports import approval, feedback, recalls, review, service
from app.exports.schemas import ExportDecision, FeedbackOutcomeIn, RecallState
from app.runtime import Runtime
from app.web import exports_page, render
from app.web.deps import PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import parse
from app.web.routes_exports import EXPORT

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

REVIEW = f"{EXPORT}/review"
RECALLS = "/recalls"
FEEDBACK = "/feedback-tasks"


def _fresh(session: Session, principal: Principal) -> bool:
    return policy.second_factor_fresh(principal, db_now(session))


@router.get(REVIEW)
@audited(AuditAction.EXPORT_REVIEW, "export", id_param="export_id")
def review_page(
    request: Request, export_id: uuid.UUID, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep
) -> Response:
    """What the export would send if built now, with the redacted text of each de-identified narrative and the
    grants it relies on; showing it records this custodian's review of each redaction."""
    shown = review.review_export(session, runtime, principal, export_id)
    export = service.get_export(session, runtime, principal, export_id)
    context = exports_page.common(request, session, principal) | {
        "export": export,
        "review": shown,
        "fresh": _fresh(session, principal),
        "back": REVIEW.format(export_id=export_id),
    }
    return render.page(request, "export_review.html", context)


def _decide(
    request: Request, session: Session, principal: Principal, export_id: uuid.UUID, reason: str
) -> ExportDecision:
    """The decision's reason; refused, a page that says why, with the step-up prompt when that is the reason
    (nothing of the export is read before the decision's own checks)."""
    back = REVIEW.format(export_id=export_id)
    on_error(request, "export_refused.html", back=back, fresh=_fresh(session, principal), export_id=export_id)
    return parse(ExportDecision, reason=reason)


@router.post(f"{EXPORT}/approve")
@audited(AuditAction.EXPORT_APPROVE, "export", id_param="export_id")
def approve(
    request: Request,
    export_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    data = _decide(request, session, principal, export_id, values.get("reason", ""))
    approval.approve_export(session, runtime, principal, export_id, data)
    return render.redirect(exports_page.path(export_id, "approved"))


@router.post(f"{EXPORT}/reject")
@audited(AuditAction.EXPORT_REJECT, "export", id_param="export_id")
def reject(
    request: Request,
    export_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    data = _decide(request, session, principal, export_id, values.get("reason", ""))
    approval.reject_export(session, runtime, principal, export_id, data)
    return render.redirect(exports_page.path(export_id, "rejected"))


def _recalls(
    request: Request, session: Session, runtime: Runtime, principal: Principal, page: PageRequest
) -> dict[str, Any]:
    listed = recalls.list_recalls(session, runtime, principal, page)
    return exports_page.common(request, session, principal) | {
        "recalls": listed.items,
        "next_cursor": listed.next_cursor,
    }


@router.get(RECALLS)
@audited(AuditAction.RECALL_LIST, "recall")
def recalls_page(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery, done: str = ""
) -> Response:
    """Custodians see every notice and move it on; a legal user sees the notices of the exports they asked for."""
    context = _recalls(request, session, runtime, principal, page) | {"done": done or None}
    return render.page(request, "recalls.html", context)


def _move(
    request: Request, session: Session, runtime: Runtime, principal: Principal, recall_id: uuid.UUID, to: RecallState
) -> Response:
    on_error(request, "recalls.html", **_recalls(request, session, runtime, principal, FIRST_PAGE))
    recalls.move_recall(session, runtime, principal, recall_id, to)
    return render.redirect(f"{RECALLS}?done={to.value}")


@router.post(f"{RECALLS}/{{recall_id}}/sent")
@audited(AuditAction.RECALL_SENT, "recall", id_param="recall_id")
def recall_sent(
    request: Request, recall_id: uuid.UUID, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep
) -> Response:
    """The notice went to the recipient's recall contact."""
    return _move(request, session, runtime, principal, recall_id, RecallState.SENT)


@router.post(f"{RECALLS}/{{recall_id}}/acknowledged")
@audited(AuditAction.RECALL_ACKNOWLEDGED, "recall", id_param="recall_id")
def recall_acknowledged(
    request: Request, recall_id: uuid.UUID, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep
) -> Response:
    """The recipient confirmed it returned, destroyed or (submitted to proceedings) asked to withdraw the records."""
    return _move(request, session, runtime, principal, recall_id, RecallState.ACKNOWLEDGED)


def _tasks(request: Request, session: Session, principal: Principal, page: PageRequest) -> dict[str, Any]:
    listed = feedback.list_tasks(session, principal, page)
    return exports_page.common(request, session, principal) | {
        "tasks": listed.items,
        "next_cursor": listed.next_cursor,
        # A custodian oversees every task (whose it is, and whether it is done); the owner records the outcome.
        "oversee": policy.allows(principal, policy.Action.DISCLOSURE_FEEDBACK_OVERSEE),
        "can_record": policy.allows(principal, policy.Action.DISCLOSURE_FEEDBACK),
    }


@router.get(FEEDBACK)
@audited(AuditAction.DISCLOSURE_FEEDBACK_LIST, "disclosure_feedback")
def feedback_page(
    request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery, done: str = ""
) -> Response:
    """The survivors to tell, through their safe channel, that an export carrying them was approved or recalled."""
    context = _tasks(request, session, principal, page) | {"done": done or None}
    return render.page(request, "feedback_tasks.html", context)


@router.post(f"{FEEDBACK}/{{task_id}}/outcome")
@audited(AuditAction.DISCLOSURE_FEEDBACK_OUTCOME, "disclosure_feedback", id_param="task_id")
def feedback_outcome(
    request: Request, task_id: uuid.UUID, principal: PagePrincipal, session: DbSession, values: Posted
) -> Response:
    on_error(request, "feedback_tasks.html", **_tasks(request, session, principal, FIRST_PAGE))
    data = parse(FeedbackOutcomeIn, outcome=values.get("outcome", ""))
    feedback.record_outcome(session, principal, task_id, data)
    return render.redirect(f"{FEEDBACK}?done=1")
