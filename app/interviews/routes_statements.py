"""HTTP adapters for an interview's draft, its confirmed statement versions and its incidents."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.interviews import service_incidents, service_statements
from app.interviews.schemas_statements import (
    DraftRead,
    DraftWrite,
    GuideRead,
    IncidentCreate,
    IncidentRead,
    IncidentSummary,
    StatementConfirm,
    StatementRead,
    StatementSummary,
)

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["statements"])


@router.put("/interviews/{interview_id}/draft", response_model=DraftRead)
@audited(AuditAction.DRAFT_SAVE, "interview", id_param="interview_id")
def save_draft(
    interview_id: uuid.UUID, data: DraftWrite, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> DraftRead:
    """Autosave the interview's one draft slot, replacing what it held; never a version."""
    return service_statements.save_draft(session, runtime, principal, interview_id, data)


@router.get("/interviews/{interview_id}/draft", response_model=DraftRead)
@audited(AuditAction.DRAFT_READ, "interview", id_param="interview_id")
def read_draft(
    interview_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> DraftRead:
    return service_statements.read_draft(session, runtime, principal, interview_id)


@router.post("/interviews/{interview_id}/statements", response_model=StatementRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.STATEMENT_CONFIRM, "statement")
def confirm_statement(
    interview_id: uuid.UUID,
    data: StatementConfirm,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> StatementRead:
    """The draft, read back to the interviewee and confirmed by them, becomes the next statement version."""
    return service_statements.confirm_statement(session, runtime, principal, interview_id, data)


@router.get("/interviews/{interview_id}/statements", response_model=Page[StatementSummary])
@audited(AuditAction.STATEMENT_LIST, "statement", id_param="interview_id")
def list_statements(
    interview_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[StatementSummary]:
    return service_statements.list_statements(session, principal, interview_id, page)


@router.get("/statements/{statement_id}", response_model=StatementRead)
@audited(AuditAction.STATEMENT_READ, "statement", id_param="statement_id")
def read_statement(
    statement_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> StatementRead:
    return service_statements.read_statement(session, runtime, principal, statement_id)


@router.post("/interviews/{interview_id}/incidents", response_model=IncidentRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.INCIDENT_CREATE, "incident")
def add_incident(
    interview_id: uuid.UUID,
    data: IncidentCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> IncidentRead:
    return service_incidents.add_incident(session, runtime, principal, interview_id, data)


@router.get("/interviews/{interview_id}/incidents", response_model=Page[IncidentSummary])
@audited(AuditAction.INCIDENT_LIST, "incident", id_param="interview_id")
def list_incidents(
    interview_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[IncidentSummary]:
    return service_incidents.list_incidents(session, principal, interview_id, page)


@router.get("/incidents/{incident_id}", response_model=IncidentRead)
@audited(AuditAction.INCIDENT_READ, "incident", id_param="incident_id")
def read_incident(
    incident_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> IncidentRead:
    return service_incidents.read_incident(session, runtime, principal, incident_id)


@router.get("/interview-guides/{guide_id}/{version}", response_model=GuideRead)
@audited(AuditAction.GUIDE_READ, "interview_guide", id_param="guide_id")
def read_guide(guide_id: str, version: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> GuideRead:
    """An interview guide's questions in each of its languages."""
    return service_statements.read_guide(runtime, principal, guide_id, version)
