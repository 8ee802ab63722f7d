"""The custodian's queues: possible duplicates to decide, retention items coming due, and minors come of age
who must be asked again. The same services as /api/v1/duplicate-reviews, /api/v1/retention/due and
/api/v1/retention/reviews, and /api/v1/people/reconsent-due: codes, categories and dates, never content."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.access.deps import RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import PageQuery
from app.people import duplicates
from app.people.schemas import DuplicateDecision, ReviewStatus
from app.retention import due, reconsent
from app.retention.schemas import ReviewCreate
from app.web import custodian, render
from app.web.deps import PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import blank_to_none, parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

DUPLICATES = "/duplicate-reviews"
RETENTION = "/retention"
RECONSENT = "/reconsent"


@router.get(DUPLICATES)
@audited(AuditAction.DUPLICATE_REVIEW, "duplicate_review")
def duplicates_page(
    request: Request, principal: PagePrincipal, session: DbSession, cursor: uuid.UUID | None = None, done: str = ""
) -> Response:
    """Pairs of records that may be the same person, still open: what met, never a name."""
    listed = duplicates.list_reviews(session, principal, status=ReviewStatus.OPEN, cursor=cursor)
    context = custodian.common(request, session, principal, DUPLICATES, done) | {
        "reviews": listed.reviews,
        "next_cursor": listed.next_cursor,
    }
    return render.page(request, "custodian_duplicates.html", context)


@router.post(f"{DUPLICATES}/{{review_id}}")
@audited(AuditAction.DUPLICATE_DECIDE, "duplicate_review", id_param="review_id")
def decide_duplicate(
    request: Request,
    review_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """The same person, or not: the decision stands."""
    listed = duplicates.list_reviews(session, principal, status=ReviewStatus.OPEN)
    context = custodian.common(request, session, principal, DUPLICATES) | {
        "reviews": listed.reviews,
        "next_cursor": None,
    }
    on_error(request, "custodian_duplicates.html", **context)
    duplicates.decide(
        session, runtime, principal, review_id, parse(DuplicateDecision, decision=values.get("decision", ""))
    )
    return render.redirect(custodian.at(DUPLICATES, "decided"))


@router.get(RETENTION)
@audited(AuditAction.RETENTION_DUE, "retention_item")
def retention_page(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery, done: str = ""
) -> Response:
    """What comes due in the next days, overdue first, and the review of each item."""
    listed = due.review_queue(session, runtime, principal, page)
    context = custodian.common(request, session, principal, RETENTION, done) | {
        "items": listed.items,
        "next_cursor": listed.next_cursor,
    }
    return render.page(request, "custodian_retention.html", context)


@router.post(f"{RETENTION}/reviews")
@audited(AuditAction.RETENTION_REVIEW, "person")
def review_item(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery, values: Posted
) -> Response:
    """Reviewed (the run deletes it once due), or kept with a reason."""
    listed = due.review_queue(session, runtime, principal, page)
    context = custodian.common(request, session, principal, RETENTION) | {"items": listed.items, "next_cursor": None}
    on_error(request, "custodian_retention.html", **context)
    data = parse(
        ReviewCreate,
        person_id=values.get("person_id", ""),
        category=values.get("category", ""),
        due_on=values.get("due_on", ""),
        decision=values.get("decision", ""),
        reason=blank_to_none(values.get("reason", "")),
    )
    due.review(session, runtime, principal, data)
    return render.redirect(custodian.at(RETENTION, "reviewed"))


@router.get(RECONSENT)
@audited(AuditAction.RECONSENT_LIST, "person")
def reconsent_page(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Response:
    """People of the custodian's cases whose consent was given as a child and who are adults now."""
    listed = reconsent.reconsent_due(session, runtime, principal, page)
    context = custodian.common(request, session, principal, RECONSENT) | {
        "items": listed.items,
        "next_cursor": listed.next_cursor,
    }
    return render.page(request, "custodian_reconsent.html", context)
