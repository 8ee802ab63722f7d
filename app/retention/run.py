"""The retention run: delete what is due, reviewed for deletion, and not under legal hold.

One transaction per person, under the person's lock (``app.people.records.hold``), audited as a system action:
what is due is read again under the lock, so a consent recorded or an item kept meanwhile is respected.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.core.db import db_now
from app.core.errors import NotFound
from app.people.models import Person
from app.people.records import hold
from app.retention.due import all_due, items_of, today
from app.retention.held import delete_categories
from app.retention.models import RetentionReview
from app.retention.schemas import DueItem, RunResult, State

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def due_now(session: Session, runtime: Runtime, principal: Principal, now: datetime | None = None) -> list[DueItem]:
    """Everything due today or earlier, each with what the run does with it."""
    policy.require(principal, policy.Action.RETENTION_REVIEW)
    return all_due(session, runtime, today(session, now))


def delete_due(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, now: datetime | None = None
) -> RunResult:
    """Delete the person's items that are due and reviewed for deletion, in the caller's transaction."""
    policy.require(principal, policy.Action.RETENTION_RUN)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound
    hold(session, person)
    session.refresh(person)
    audit.touch(session, resource_id=person.id, case_id=person.case_id)
    on = today(session, now)
    going = [i for i in items_of(session, runtime, person, on) if i.state is State.DELETE]
    if going:
        delete_categories(session, runtime, person, {i.category for i in going})
        person.updated_at = db_now(session)
        for item in going:
            session.execute(
                update(RetentionReview)
                .where(
                    RetentionReview.person_id == person.id,
                    RetentionReview.category == item.category.value,
                    RetentionReview.due_on == item.due_on,
                )
                .values(deleted_at=db_now(session))
                .execution_options(synchronize_session=False)
            )
        session.flush()
    return RunResult(person_code=person.code, deleted=sorted(i.category for i in going))
