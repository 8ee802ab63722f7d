"""HTTP adapters for interviewees and duplicate reviews."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.people import duplicates, service
from app.people.schemas import (
    DuplicateDecision,
    DuplicateReviewPage,
    DuplicateReviewRead,
    PersonCreate,
    PersonRead,
    PersonSummary,
    PersonUpdate,
    ReviewStatus,
)

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["people"])


@router.post("/cases/{case_id}/people", response_model=PersonSummary, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.PERSON_CREATE, "person")
def create_person(
    case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, _data: PersonCreate | None = None
) -> PersonSummary:
    return service.create_person(session, principal, case_id)


@router.get("/cases/{case_id}/people", response_model=Page[PersonSummary])
@audited(AuditAction.PERSON_LIST, "person")
def list_people(
    case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[PersonSummary]:
    return service.list_people(session, principal, case_id, page)


@router.get("/people/{person_id}", response_model=PersonRead)
@audited(AuditAction.PERSON_READ, "person", id_param="person_id")
def read_person(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> PersonRead:
    return service.read_person(session, runtime, principal, person_id)


@router.patch("/people/{person_id}", response_model=PersonRead)
@audited(AuditAction.PERSON_UPDATE, "person", id_param="person_id")
def update_person(
    person_id: uuid.UUID, data: PersonUpdate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> PersonRead:
    return service.update_person(session, runtime, principal, person_id, data)


@router.get("/duplicate-reviews", response_model=DuplicateReviewPage)
@audited(AuditAction.DUPLICATE_REVIEW, "duplicate_review")
def list_reviews(
    principal: CurrentPrincipal,
    session: DbSession,
    status: ReviewStatus | None = None,
    cursor: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=duplicates.MAX_PAGE)] = 50,
) -> DuplicateReviewPage:
    return duplicates.list_reviews(session, principal, status=status, cursor=cursor, limit=limit)


@router.post("/duplicate-reviews/{review_id}", response_model=DuplicateReviewRead)
@audited(AuditAction.DUPLICATE_DECIDE, "duplicate_review", id_param="review_id")
def decide_review(
    review_id: uuid.UUID, data: DuplicateDecision, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> DuplicateReviewRead:
    return duplicates.decide(session, runtime, principal, review_id, data)
