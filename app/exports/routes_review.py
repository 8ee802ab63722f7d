"""HTTP adapters for the custodian's review of an export waiting for a decision, and the documenters' queue of
redactions that waiting exports need."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.exports import review
from app.exports.schemas import ExportReviewRead, RedactionNeeded

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["exports"])


@router.get("/exports/{export_id}/review", response_model=ExportReviewRead)
@audited(AuditAction.EXPORT_REVIEW, "export", id_param="export_id")
def review_export(
    export_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ExportReviewRead:
    """What the export would send if built now, with the redacted text of each de-identified narrative: reading
    it in a browser session records your review, which approving needs; read by API token it records nothing."""
    return review.review_export(session, runtime, principal, export_id)


# Included before the redactions' router, whose /redactions/{redaction_id} would otherwise take "waiting" for an id.
@router.get("/redactions/waiting", response_model=Page[RedactionNeeded], tags=["redactions"])
@audited(AuditAction.REDACTION_WAITING, "statement")
def waiting_redactions(
    principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[RedactionNeeded]:
    """The latest statement versions in your cases that waiting exports need as a de-identified narrative and
    that have no redaction yet."""
    return review.waiting_redactions(session, runtime, principal, page)
