"""Feedback to survivors about where their records went: a task for each approval and each recall.

Each person in a built export (the approval that let it go) and each person a recall notice names gets a task,
so that a documenter tells them through their safe channel. The owner is a documenter on the person's case
team: the one who recorded the person if still on the team, else the longest on it. The due date is
``exports.feedback_days`` ahead. A person whose latest participation consent does not agree to re-contact
(refused, never given, or past its expiry date) cannot be told: the task closes at once as
``not_contactable``. Otherwise the owner records the outcome (``informed`` or ``not_reached``) once, by a
conditional UPDATE. A task shows ids, the person's code, the reason and the due date: never what went where.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.models import CaseMember, User
from app.access.principal import Principal
from app.access.roles import Role
from app.audit import service as audit
from app.consent import service as participation
from app.consent.vocabulary import ParticipationDecision
from app.core.db import changed_rows, db_now, new_id
from app.core.errors import Conflict
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.exports.models import DisclosureEntry, DisclosureFeedback
from app.exports.schemas import DisclosureFeedbackRead, FeedbackOutcomeIn, FeedbackState
from app.keys import datakeys
from app.people.erased import erased_among
from app.people.models import Person
from app.people.records import hold_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

APPROVAL = "approval"
RECALL = "recall"


def _team(session: Session, case_id: uuid.UUID) -> list[uuid.UUID]:
    """The case's active documenters, in the order they joined it."""
    team = session.execute(
        select(User.id, User.roles)
        .join(CaseMember, CaseMember.user_id == User.id)
        .where(CaseMember.case_id == case_id, User.active.is_(True))
        .order_by(CaseMember.added_at, User.id)
    ).all()
    return [user_id for user_id, roles in team if Role.DOCUMENTER.value in roles]


def _owner(session: Session, person: Person, teams: dict[uuid.UUID, list[uuid.UUID]] | None = None) -> uuid.UUID | None:
    """The documenter who registered the person, while on the case team; else the team's first documenter."""
    if teams is None or person.case_id not in teams:
        documenters = _team(session, person.case_id)
        if teams is not None:
            teams[person.case_id] = documenters
    else:
        documenters = teams[person.case_id]
    if person.created_by in documenters:
        return person.created_by
    return documenters[0] if documenters else None


def contactable(session: Session, runtime: Runtime, person: Person, today: date) -> bool:
    """The person's latest participation consent agrees to re-contact, and that agreement has not expired."""
    return _reachable(participation.latest_opened(session, runtime, person), today)


def _reachable(opened: participation.Opened | None, today: date) -> bool:
    if not participation.allows(opened, ParticipationDecision.RE_CONTACT):
        return False
    assert opened is not None
    recontact = opened.details.get("recontact")
    expires = recontact.get("expires_on") if isinstance(recontact, dict) else None
    return expires is None or date.fromisoformat(str(expires)) > today


def open_task(
    session: Session,
    runtime: Runtime,
    person: Person,
    export_id: uuid.UUID,
    reason: str,
    now: datetime,
    *,
    recall_id: uuid.UUID | None = None,
) -> None:
    """One task per (export, person, reason); a second call for the same finds it there and adds nothing."""
    exists = session.scalar(
        select(DisclosureFeedback.id).where(
            DisclosureFeedback.export_id == export_id,
            DisclosureFeedback.person_id == person.id,
            DisclosureFeedback.reason == reason,
        )
    )
    if exists is not None:
        return
    reachable = contactable(session, runtime, person, now.date())
    session.add(
        DisclosureFeedback(
            id=new_id(),
            export_id=export_id,
            person_id=person.id,
            case_id=person.case_id,
            recall_id=recall_id,
            reason=reason,
            owner_id=_owner(session, person),
            due_on=now.date() + timedelta(days=runtime.settings.exports.feedback_days),
            state=FeedbackState.OPEN if reachable else FeedbackState.NOT_CONTACTABLE,
            created_at=now,
            closed_at=None if reachable else now,
        )
    )
    session.flush()


PAGE = 500
"""Ledger rows given their approval task per page: a fixed number of queries per page."""


def open_approval_tasks(session: Session, runtime: Runtime, export_id: uuid.UUID) -> int:
    """A task for each person in a built export's ledger (the approval that let their records go).

    As ``open_task`` for each, a page of people at a time: the tasks already there, the people, their latest
    participation consents and their case teams are each read by one query per page, and a page is flushed
    at once."""
    now = db_now(session)
    person_ids = list(
        session.scalars(
            select(DisclosureEntry.person_id)
            .where(DisclosureEntry.export_id == export_id)
            .order_by(DisclosureEntry.person_id)
        )
    )
    teams: dict[uuid.UUID, list[uuid.UUID]] = {}
    made = 0
    for start in range(0, len(person_ids), PAGE):
        page = person_ids[start : start + PAGE]
        there = set(
            session.scalars(
                select(DisclosureFeedback.person_id).where(
                    DisclosureFeedback.export_id == export_id,
                    DisclosureFeedback.person_id.in_(page),
                    DisclosureFeedback.reason == APPROVAL,
                )
            )
        )
        # An erased person is not told: their safe channel was sealed under the destroyed key (and nothing of
        # them went).
        gone = erased_among(session, page)
        people = [
            p
            for p in session.scalars(select(Person).where(Person.id.in_(page)).order_by(Person.id))
            if p.id not in gone
        ]
        latest = participation.latest_of_each(session, [p.id for p in people])
        keys = datakeys.loaded(session, [p.id for p in people])  # kept for the page: opened from the session
        for person in people:
            made += 1
            if person.id in there:
                continue
            row = latest.get(person.id)
            opened = None if row is None else participation.opened_version(session, runtime, person, row.id)
            reachable = _reachable(opened, now.date())
            session.add(
                DisclosureFeedback(
                    id=new_id(),
                    export_id=export_id,
                    person_id=person.id,
                    case_id=person.case_id,
                    recall_id=None,
                    reason=APPROVAL,
                    owner_id=_owner(session, person, teams),
                    due_on=now.date() + timedelta(days=runtime.settings.exports.feedback_days),
                    state=FeedbackState.OPEN if reachable else FeedbackState.NOT_CONTACTABLE,
                    created_at=now,
                    closed_at=None if reachable else now,
                )
            )
        session.flush()
        del keys
    return made


def _read(task: DisclosureFeedback, code: str, owner: str | None) -> DisclosureFeedbackRead:
    return DisclosureFeedbackRead(
        id=task.id,
        case_id=task.case_id,
        person_code=code,
        reason=task.reason,
        due_on=task.due_on,
        state=FeedbackState(task.state),
        owner=owner,
    )


def list_tasks(session: Session, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[DisclosureFeedbackRead]:
    """A documenter's own tasks in their cases; for a custodian's oversight, every task. Oldest first."""
    if policy.allows(principal, policy.Action.DISCLOSURE_FEEDBACK_OVERSEE):
        stmt = policy.scope(
            principal, policy.Action.DISCLOSURE_FEEDBACK_OVERSEE, select(DisclosureFeedback), DisclosureFeedback.case_id
        )
    else:
        stmt = policy.scope(
            principal, policy.Action.DISCLOSURE_FEEDBACK, select(DisclosureFeedback), DisclosureFeedback.case_id
        ).where(DisclosureFeedback.owner_id == principal.user_id)
    stmt = (
        stmt.join(Person, Person.id == DisclosureFeedback.person_id)
        .outerjoin(User, User.id == DisclosureFeedback.owner_id)
        .add_columns(Person.code, User.username)
    )
    rows, cursor = keyset(session, stmt, DisclosureFeedback.id, page, uuid.UUID, lambda r: r[0].id)
    items = [_read(task, code, owner) for task, code, owner in rows]
    return Page[DisclosureFeedbackRead](items=items, next_cursor=cursor)


def record_outcome(
    session: Session, principal: Principal, task_id: uuid.UUID, data: FeedbackOutcomeIn
) -> DisclosureFeedbackRead:
    """The owner records how telling the person went, once."""
    task = policy.load(session, principal, policy.Action.DISCLOSURE_FEEDBACK, DisclosureFeedback, task_id)
    audit.touch(session, resource_id=task.id, case_id=task.case_id)
    hold_to_write(session, task.person_id)  # the erasure closed it: nobody can reach them any more
    moved = session.execute(
        update(DisclosureFeedback)
        .where(DisclosureFeedback.id == task.id, DisclosureFeedback.state == FeedbackState.OPEN)
        .values(state=data.outcome.value, closed_at=db_now(session), closed_by=principal.user_id)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(moved) != 1:
        raise Conflict("this feedback task is closed already", fields=["state"], code="task_done")
    session.refresh(task)
    person = session.get(Person, task.person_id)
    assert person is not None
    owner = session.get(User, task.owner_id) if task.owner_id is not None else None
    return _read(task, person.code, owner.username if owner is not None else None)
