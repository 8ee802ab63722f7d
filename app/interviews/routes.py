"""HTTP adapters for interviews and feedback tasks."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.interviews import reconfirm, service, service_tasks, service_update
from app.interviews.schemas import (
    FeedbackTaskRead,
    FeedbackTaskUpdate,
    InterviewCreate,
    InterviewRead,
    InterviewSummary,
    InterviewUpdate,
    ReconfirmationRead,
    ReconfirmConsent,
)
from app.interviews.vocabulary import TaskState

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["interviews"])


@router.post("/people/{person_id}/interviews", response_model=InterviewRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.INTERVIEW_CREATE, "interview")
def create_interview(
    person_id: uuid.UUID, data: InterviewCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> InterviewRead:
    return service.create_interview(session, runtime, principal, person_id, data)


@router.get("/people/{person_id}/interviews", response_model=Page[InterviewSummary])
@audited(AuditAction.INTERVIEW_LIST, "interview", id_param="person_id")
def list_interviews(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[InterviewSummary]:
    return service.list_interviews(session, principal, person_id, page)


@router.get("/interviews/{interview_id}", response_model=InterviewRead)
@audited(AuditAction.INTERVIEW_READ, "interview", id_param="interview_id")
def read_interview(
    interview_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> InterviewRead:
    return service.read_interview(session, runtime, principal, interview_id)


@router.patch("/interviews/{interview_id}", response_model=InterviewRead)
@audited(AuditAction.INTERVIEW_UPDATE, "interview", id_param="interview_id")
def update_interview(
    interview_id: uuid.UUID,
    data: InterviewUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> InterviewRead:
    """Plan, record and move the interview (``state``), on the revision last read."""
    return service_update.update_interview(session, runtime, principal, interview_id, data)


@router.get("/cases/{case_id}/feedback-tasks", response_model=Page[FeedbackTaskRead])
@audited(AuditAction.FEEDBACK_LIST, "feedback_task")
def list_feedback_tasks(
    case_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    state: TaskState | None = None,
) -> Page[FeedbackTaskRead]:
    return service_tasks.list_tasks(session, principal, case_id, state, page)


@router.patch("/feedback-tasks/{task_id}", response_model=FeedbackTaskRead)
@audited(AuditAction.FEEDBACK_UPDATE, "feedback_task", id_param="task_id")
def update_feedback_task(
    task_id: uuid.UUID, data: FeedbackTaskUpdate, principal: CurrentPrincipal, session: DbSession
) -> FeedbackTaskRead:
    return service_tasks.update_task(session, principal, task_id, data)


@router.post(
    "/interviews/{interview_id}/reconfirm-consent",
    response_model=ReconfirmationRead,
    status_code=status.HTTP_201_CREATED,
)
@audited(AuditAction.CONSENT_RECONFIRM, "interview", id_param="interview_id")
def reconfirm_consent(
    interview_id: uuid.UUID,
    data: ReconfirmConsent,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> ReconfirmationRead:
    """After the statement is read back: the interviewee confirmed, narrowed or made their first use grants."""
    return reconfirm.reconfirm(session, runtime, principal, interview_id, data)
