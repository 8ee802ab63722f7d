"""HTTP adapters for consent forms and participation consent."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent import service
from app.consent.schemas import (
    FormRead,
    FormSummary,
    FormTextRead,
    ParticipationCreate,
    ParticipationRead,
    TextVariantName,
)
from app.core.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["consent"])


@router.get("/consent-forms", response_model=Page[FormSummary])
@audited(AuditAction.FORMS_READ, "consent_form")
def list_forms(principal: CurrentPrincipal, runtime: RuntimeDep, page: PageQuery) -> Page[FormSummary]:
    return service.list_forms(runtime, principal, page)


@router.get("/consent-forms/{form_id}/{version}", response_model=FormRead)
@audited(AuditAction.FORMS_READ, "consent_form", id_param="form_id")
def read_form(form_id: str, version: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> FormRead:
    """A published form version whole, per language: questions, teach-back, retention and vocabulary labels."""
    return service.read_form(runtime, principal, form_id, version)


@router.get("/consent-forms/{form_id}/{version}/{language}", response_model=FormTextRead)
@audited(AuditAction.FORMS_READ, "consent_form", id_param="form_id")
def form_text(
    form_id: str,
    version: str,
    language: str,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    variant: TextVariantName = "main",
) -> FormTextRead:
    return service.form_text(runtime, principal, form_id, version, language, variant)


@router.post("/people/{person_id}/participation", response_model=ParticipationRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.CONSENT_RECORD, "participation_consent")
def record(
    person_id: uuid.UUID,
    data: ParticipationCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> ParticipationRead:
    return service.record_participation(session, runtime, principal, person_id, data)


@router.get("/people/{person_id}/participation", response_model=Page[ParticipationRead])
@audited(AuditAction.CONSENT_READ, "participation_consent", id_param="person_id")
def history(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[ParticipationRead]:
    return service.participation_history(session, runtime, principal, person_id, page)
