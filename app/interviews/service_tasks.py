"""Feedback promised to survivors, as tasks the case team keeps: listed by pseudonym code, due date and
state only (what was promised is read with the interview), and marked done once."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.cases.models import Case
from app.core.db import changed_rows, column_values, db_now
from app.core.errors import Conflict
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.interviews.models import FeedbackTask
from app.interviews.schemas import FeedbackTaskRead, FeedbackTaskUpdate
from app.interviews.vocabulary import TaskState
from app.people.models import Person
from app.people.records import hold_to_write


def _read(task: FeedbackTask, code: str) -> FeedbackTaskRead:
    return FeedbackTaskRead.model_validate({**column_values(task), "person_code": code})


def list_tasks(
    session: Session,
    principal: Principal,
    case_id: uuid.UUID,
    state: TaskState | None = None,
    page: PageRequest = FIRST_PAGE,
) -> Page[FeedbackTaskRead]:
    """A case's feedback tasks, in the order they were promised."""
    case = policy.load(session, principal, policy.Action.INTERVIEW_READ, Case, case_id)
    tasks = policy.scope(principal, policy.Action.INTERVIEW_READ, select(FeedbackTask), FeedbackTask.case_id)
    tasks = tasks.where(FeedbackTask.case_id == case.id)
    if state is not None:
        tasks = tasks.where(FeedbackTask.state == state.value)
    stmt = tasks.join(Person, Person.id == FeedbackTask.person_id).add_columns(Person.code)
    rows, cursor = keyset(session, stmt, FeedbackTask.id, page, uuid.UUID, lambda r: r[0].id)
    return Page[FeedbackTaskRead](items=[_read(task, code) for task, code in rows], next_cursor=cursor)


def update_task(
    session: Session, principal: Principal, task_id: uuid.UUID, data: FeedbackTaskUpdate
) -> FeedbackTaskRead:
    """Mark a task done, once: of two requests at once, one marks it and the other gets 409."""
    task = policy.load(session, principal, policy.Action.INTERVIEW_UPDATE, FeedbackTask, task_id)
    audit.touch(session, resource_id=task.id, case_id=task.case_id)
    hold_to_write(session, task.person_id)  # its promise was sealed under the erased key; erasure closed it
    now = db_now(session)
    result = session.execute(
        update(FeedbackTask)
        .where(FeedbackTask.id == task.id, FeedbackTask.state == TaskState.OPEN.value)
        .values(state=data.state.value, done_at=now, done_by=principal.user_id)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(result) != 1:
        raise Conflict("this feedback task is already done", fields=["state"], code="task_done")
    session.expire(task)
    person = session.get(Person, task.person_id)
    assert person is not None  # a foreign key
    return _read(task, person.code)
