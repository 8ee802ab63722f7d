"""HTTP adapters for interviewees and duplicate reviews."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.people import service
from app.people.schemas import (
    DuplicateDecision,
    DuplicateReviewRead,
    PersonCreate,
    PersonRead,
    PersonSummary,
    PersonUpdate,
)

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["people"])


@router.post("/cases/{case_id}/people", response_model=PersonSummary, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.PERSON_CREATE, "person")
def create_person(
    case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, _data: PersonCreate | None = None
) -> PersonSummary:
    return service.create_person(session, principal, case_id)


@router.get("/cases/{case_id}/people", response_model=list[PersonSummary])
@audited(AuditAction.PERSON_LIST, "person")
def list_people(case_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> list[PersonSummary]:
    return service.list_people(session, principal, case_id)


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


@router.get("/duplicate-reviews", response_model=list[DuplicateReviewRead])
@audited(AuditAction.DUPLICATE_REVIEW, "duplicate_review")
def list_reviews(principal: CurrentPrincipal, session: DbSession) -> list[DuplicateReviewRead]:
    return service.list_duplicate_reviews(session, principal)


@router.post("/duplicate-reviews/{review_id}", response_model=DuplicateReviewRead)
@audited(AuditAction.DUPLICATE_DECIDE, "duplicate_review", id_param="review_id")
def decide_review(
    review_id: uuid.UUID, data: DuplicateDecision, principal: CurrentPrincipal, session: DbSession
) -> DuplicateReviewRead:
    return service.decide_duplicate(session, principal, review_id, data)
