"""HTTP adapters for the retention review queue and the re-consent queue."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.retention import due, reconsent
from app.retention.schemas import DueItem, ReconsentItem, ReviewCreate, ReviewRead

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["retention"])


@router.get("/retention/due", response_model=Page[DueItem])
@audited(AuditAction.RETENTION_DUE, "retention_item")
def review_queue(
    principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[DueItem]:
    """What comes due in the next 30 days, overdue first: ids, pseudonym codes, categories, dates; never content."""
    return due.review_queue(session, runtime, principal, page)


@router.post("/retention/reviews", response_model=ReviewRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.RETENTION_REVIEW, "person")
def review(data: ReviewCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> ReviewRead:
    """Mark an item of the queue reviewed (the run deletes it once due), or keep it with a reason."""
    return due.review(session, runtime, principal, data)


@router.get("/people/reconsent-due", response_model=Page[ReconsentItem])
@audited(AuditAction.RECONSENT_LIST, "person")
def reconsent_due(
    principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[ReconsentItem]:
    """People of the caller's cases whose latest participation consent was given as a child, now adults."""
    return reconsent.reconsent_due(session, runtime, principal, page)
