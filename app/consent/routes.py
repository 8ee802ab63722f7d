"""HTTP adapters for consent forms and participation consent."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent import service
from app.consent.schemas import FormSummary, FormTextRead, ParticipationCreate, ParticipationRead

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["consent"])


@router.get("/consent-forms", response_model=list[FormSummary])
@audited(AuditAction.FORMS_READ, "consent_form")
def list_forms(principal: CurrentPrincipal, runtime: RuntimeDep) -> list[FormSummary]:
    return service.list_forms(runtime, principal)


@router.get("/consent-forms/{form_id}/{version}/{language}", response_model=FormTextRead)
@audited(AuditAction.FORMS_READ, "consent_form", id_param="form_id")
def form_text(
    form_id: str,
    version: str,
    language: str,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    variant: Literal["main", "child", "guardian", "verbal_script"] = "main",
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


@router.get("/people/{person_id}/participation", response_model=list[ParticipationRead])
@audited(AuditAction.CONSENT_READ, "participation_consent", id_param="person_id")
def history(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> list[ParticipationRead]:
    return service.participation_history(session, runtime, principal, person_id)
