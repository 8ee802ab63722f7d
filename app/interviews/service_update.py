"""Changing an interview: its plan while planned, what is recorded along the way, and its state.

Every change is one conditional UPDATE on the revision and state the client read: of two workers
changing the same interview at once, one succeeds and the other gets 409 naming ``revision``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import service as consent
from app.consent.vocabulary import ParticipationDecision
from app.core.db import changed_rows, db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.interviews import checks, flow, reconfirm, records
from app.interviews.models import FeedbackTask, Interview, InterviewInterviewer
from app.interviews.schemas import (
    DistressRecord,
    FeedbackRecord,
    InterviewDetails,
    InterviewRead,
    InterviewUpdate,
    ReferralRecord,
)
from app.interviews.service import person_of, read_of, record_checklist, require_interview_consent
from app.interviews.vocabulary import InterviewState, TaskState
from app.people.models import Person
from app.people.records import hold_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

PLANNING = ("scheduled_at", "language", "place", "interviewers", "checklist")
"""What is planned, and fixed once the interview starts: from then on it is a record."""
NEVER_EMPTY = ("scheduled_at", "language", "interviewers")


def _stale() -> Conflict:
    return Conflict(
        "the interview changed since it was read; read it again and retry",
        fields=["revision"],
        code="stale_revision",
    )


class _Change:
    """One request's changes, gathered before they are written in one conditional UPDATE."""

    def __init__(self, interview: Interview, details: InterviewDetails, now: datetime, by: uuid.UUID | None) -> None:
        self.interview = interview
        self.details = details
        self.now = now
        self.by = by
        self.state = records.state_of(interview)
        self.participation_id = interview.participation_id
        self.clear: dict[str, Any] = {}
        self.interviewers: list[uuid.UUID] | None = None
        self.tasks: list[FeedbackTask] = []

    def details_update(self, **values: Any) -> None:
        self.details = self.details.model_copy(update=values)


def update_interview(
    session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID, data: InterviewUpdate
) -> InterviewRead:
    interview = policy.load(session, principal, policy.Action.INTERVIEW_UPDATE, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    hold_to_write(session, interview.person_id)
    sent = data.model_fields_set - {"revision"}
    if not sent:
        raise ValidationFailed("send at least one change besides the revision", fields=["body"])
    if data.revision != interview.revision:
        raise _stale()
    person = person_of(session, interview)
    change = _Change(
        interview, records.open_details(session, runtime.keys, interview), db_now(session), principal.user_id
    )
    _plan(session, change, data, sent)
    if "gender_preference" in sent:
        if data.gender_preference is not None:
            checks.gender_preference(data.gender_preference)
        change.details_update(gender_preference=data.gender_preference)
    _record(session, runtime, person, change, data)
    _move(session, runtime, person, change, data, sent)
    _store(session, runtime, change, data.revision)
    return read_of(session, runtime, person, interview)


def _plan(session: Session, change: _Change, data: InterviewUpdate, sent: set[str]) -> None:
    planning = [name for name in PLANNING if name in sent]
    if planning and change.state is not InterviewState.PLANNED:
        raise Conflict(
            "once the interview has started its plan is part of the record and does not change",
            fields=planning,
            code="interview_started",
        )
    emptied = [name for name in NEVER_EMPTY if name in sent and getattr(data, name) is None]
    if emptied:
        raise ValidationFailed("this cannot be left empty", fields=emptied)
    if data.scheduled_at is not None:
        change.clear["scheduled_at"] = checks.scheduled(data.scheduled_at, change.now)
    if data.language is not None:
        change.clear["language"] = data.language
    if "place" in sent:
        change.details_update(place=data.place)
    if data.interviewers is not None:
        change.interviewers = checks.interviewers(session, change.interview.case_id, data.interviewers)
    if "checklist" in sent:
        checklist = None if data.checklist is None else record_checklist(data.checklist, change.now, change.by)
        change.details_update(checklist=checklist)
        change.clear["checklist_at"] = change.now if checklist is not None else None


def _record(session: Session, runtime: Runtime, person: Person, change: _Change, data: InterviewUpdate) -> None:
    """Distress observed, referrals and feedback promised are added, in any state: help never depends on
    the interview going on."""
    now, by = change.now, change.by
    if data.distress_observed is not None:
        added = [DistressRecord(at=now, note=d.note, recorded_by=by) for d in data.distress_observed]
        change.details_update(distress_observed=[*change.details.distress_observed, *added])
    if data.referrals is not None:
        consent.require(
            session, runtime, person, ParticipationDecision.REFERRAL, doing="a referral", fields=["referrals"]
        )
        made = [ReferralRecord(at=now, need=r.need, contact=r.contact, recorded_by=by) for r in data.referrals]
        change.details_update(referrals=[*change.details.referrals, *made])
    if data.feedback is not None:
        checks.due_dates(data.feedback, now.date())
        promised: list[FeedbackRecord] = []
        for promise in data.feedback:
            task = FeedbackTask(
                id=new_id(),
                interview_id=change.interview.id,
                person_id=person.id,
                case_id=change.interview.case_id,
                due_on=promise.due_on,
                state=TaskState.OPEN.value,
                created_by=by,
                created_at=now,
            )
            change.tasks.append(task)
            promised.append(
                FeedbackRecord(task_id=task.id, at=now, promise=promise.promise, due_on=promise.due_on, recorded_by=by)
            )
        change.details_update(feedback=[*change.details.feedback, *promised])


def _move(
    session: Session, runtime: Runtime, person: Person, change: _Change, data: InterviewUpdate, sent: set[str]
) -> None:
    if data.state is None:
        if "state" in sent:
            raise ValidationFailed("a state cannot be empty", fields=["state"])
        extras: list[str] = [name for name in ("break_reason",) if name in sent]
        if extras:
            raise ValidationFailed("this goes with a change of state", fields=extras)
        return
    flow.allowed(change.state, data.state)
    if change.state is InterviewState.PLANNED:
        if change.details.checklist is None:
            raise Conflict(
                "complete the do-no-harm checklist before the interview starts",
                fields=["checklist"],
                code="checklist_required",
            )
        # Consent is checked again when the interview starts, and the version in force is the one it is taken under.
        change.participation_id = require_interview_consent(session, runtime, person).row.id
    elif data.state in (InterviewState.IN_PROGRESS, InterviewState.COMPLETED):
        # Going on after a break, or completing, is done only while the person still agrees; stopping never waits.
        require_interview_consent(session, runtime, person)
    moved = flow.move(
        change.details,
        change.state,
        data.state,
        now=change.now,
        by=change.by,
        started_at=change.interview.started_at,
        break_reason=data.break_reason,
        reconfirmation=(
            reconfirm.latest_before_completion(session, runtime.keys, change.interview)
            if data.state is InterviewState.COMPLETED
            else None
        ),
    )
    change.details = moved.details
    change.clear.update(moved.clear)
    change.state = data.state


def _store(session: Session, runtime: Runtime, change: _Change, revision: int) -> None:
    interview = change.interview
    where = records.place(interview.id, interview.person_id, interview.case_id, change.participation_id, change.state)
    sealed = records.seal_details(session, runtime.keys, where, change.details)
    result = session.execute(
        update(Interview)
        .where(Interview.id == interview.id, Interview.revision == revision, Interview.state == interview.state)
        .values(
            **change.clear,
            state=change.state.value,
            participation_id=change.participation_id,
            revision=Interview.revision + 1,
            details=sealed,
            updated_at=change.now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed_rows(result) != 1:
        raise _stale()
    session.expire(interview)
    if change.interviewers is not None:
        session.execute(delete(InterviewInterviewer).where(InterviewInterviewer.interview_id == interview.id))
        session.add_all(InterviewInterviewer(interview_id=interview.id, user_id=u) for u in change.interviewers)
    session.add_all(change.tasks)
    session.flush()
