"""Interviews: planned under participation consent that agrees to them, listed by pseudonym code and
metadata only, read by documenters on the case team (an audited door). Changes and the state machine
are in service_update.py, feedback tasks in service_tasks.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import service as consent
from app.consent.vocabulary import ParticipationDecision
from app.core.db import column_values, db_now, new_id
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.interviews import checks, records
from app.interviews.models import FeedbackTask, Interview, InterviewInterviewer
from app.interviews.schemas import (
    Checklist,
    ChecklistRecord,
    InterviewCreate,
    InterviewDetails,
    InterviewerChoice,
    InterviewRead,
    InterviewSummary,
)
from app.interviews.vocabulary import InterviewState
from app.people.models import Person
from app.people.records import person_row, person_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def require_interview_consent(session: Session, runtime: Runtime, person: Person) -> consent.Opened:
    """The person's latest participation consent, as its sealed details confirm, agrees to be interviewed
    now and to storage (403 ``consent_required`` otherwise)."""
    collecting = (ParticipationDecision.INTERVIEW_NOW, ParticipationDecision.STORAGE)
    return consent.require(session, runtime, person, *collecting, doing="an interview")


def record_checklist(data: Checklist, now: datetime, by: uuid.UUID | None) -> ChecklistRecord:
    checks.checklist(data, now.date())
    return ChecklistRecord.model_validate({**data.model_dump(), "completed_at": now, "completed_by": by})


def create_interview(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, data: InterviewCreate
) -> InterviewRead:
    person = person_to_write(session, principal, policy.Action.INTERVIEW_CREATE, person_id)
    opened = require_interview_consent(session, runtime, person)
    now = db_now(session)
    scheduled_at = checks.scheduled(data.scheduled_at, now)
    named = data.interviewers if data.interviewers is not None else [principal.user_id]
    interviewers = checks.interviewers(session, person.case_id, [i for i in named if i is not None])
    if data.gender_preference is not None:
        checks.gender_preference(data.gender_preference)
    checklist = None if data.checklist is None else record_checklist(data.checklist, now, principal.user_id)
    details = InterviewDetails(place=data.place, gender_preference=data.gender_preference, checklist=checklist)
    row = Interview(
        id=new_id(),
        person_id=person.id,
        case_id=person.case_id,
        participation_id=opened.row.id,
        state=InterviewState.PLANNED.value,
        revision=1,
        language=data.language,
        scheduled_at=scheduled_at,
        checklist_at=now if checklist is not None else None,
        created_by=principal.user_id,
        created_at=now,
        details=b"",
    )
    row.details = records.seal_details(session, runtime.keys, records.place_of(row), details)
    session.add(row)
    session.flush()
    session.add_all(InterviewInterviewer(interview_id=row.id, user_id=u) for u in interviewers)
    session.flush()
    audit.touch(session, resource_id=row.id)
    return read_of(session, runtime, person, row)


def list_interviews(
    session: Session, principal: Principal, person_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[InterviewSummary]:
    """A person's interviews in the order they were planned: metadata only, nothing opened."""
    person = person_row(session, principal, policy.Action.INTERVIEW_READ, person_id)
    audit.touch(session, resource_id=person.id)
    stmt = policy.scope(
        principal,
        policy.Action.INTERVIEW_READ,
        select(Interview).where(Interview.person_id == person.id),
        Interview.case_id,
    )
    rows, cursor = keyset(session, stmt, Interview.id, page, uuid.UUID, lambda r: r.id)
    team = interviewers_of(session, [r.id for r in rows])
    return Page[InterviewSummary](items=[summary(r, person.code, team.get(r.id, [])) for r in rows], next_cursor=cursor)


def read_interview(session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID) -> InterviewRead:
    """A documenter on the case team reads an interview: an audited door to plaintext."""
    interview = policy.load(session, principal, policy.Action.INTERVIEW_READ, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    return read_of(session, runtime, person_of(session, interview), interview)


def person_of(session: Session, interview: Interview) -> Person:
    person = session.get(Person, interview.person_id)
    assert person is not None  # a foreign key
    return person


def interviewer_choices(session: Session, principal: Principal, person_id: uuid.UUID) -> list[InterviewerChoice]:
    """Whom a documenter planning an interview of the person may name as its interviewers."""
    person = person_row(session, principal, policy.Action.INTERVIEW_CREATE, person_id)
    team = checks.team_interviewers(session, person.case_id)
    return [InterviewerChoice(id=user_id, display_name=name) for user_id, name in team.items()]


def interviewers_of(session: Session, interview_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    team: dict[uuid.UUID, list[uuid.UUID]] = {}
    rows = session.execute(
        select(InterviewInterviewer.interview_id, InterviewInterviewer.user_id)
        .where(InterviewInterviewer.interview_id.in_(interview_ids))
        .order_by(InterviewInterviewer.user_id)
    )
    for interview_id, user_id in rows:
        team.setdefault(interview_id, []).append(user_id)
    return team


def summary(interview: Interview, code: str, interviewers: list[uuid.UUID]) -> InterviewSummary:
    return InterviewSummary.model_validate(
        {
            **column_values(interview),
            "state": records.state_of(interview),
            "person_code": code,
            "interviewers": interviewers,
        }
    )


def read_of(session: Session, runtime: Runtime, person: Person, interview: Interview) -> InterviewRead:
    details = records.open_details(session, runtime.keys, interview)
    taken_under = consent.opened_version(session, runtime, person, interview.participation_id)
    tasks = {t.id: t for t in session.scalars(select(FeedbackTask).where(FeedbackTask.interview_id == interview.id))}
    feedback = [
        {**f.model_dump(), "state": tasks[f.task_id].state, "done_at": tasks[f.task_id].done_at}
        for f in details.feedback
    ]
    team = interviewers_of(session, [interview.id]).get(interview.id, [])
    return InterviewRead.model_validate(
        {
            **summary(interview, person.code, team).model_dump(),
            **details.model_dump(),
            "interpreter": taken_under.details.get("interpreter") if taken_under is not None else None,
            "feedback": feedback,
        }
    )
