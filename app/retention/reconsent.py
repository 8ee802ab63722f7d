"""The re-consent queue: people whose latest participation consent was given as a child, who are now adults
and must be asked again. Custodians and documenters on the person's case team."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.consent import service as participation
from app.consent.checks import ADULT
from app.core.db import db_now
from app.core.pagination import FIRST_PAGE, Page, PageRequest, in_memory
from app.people import erased
from app.people.models import Person
from app.people.records import identity_of
from app.retention.due import plus_years
from app.retention.schemas import ReconsentItem

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def came_of_age(session: Session, runtime: Runtime, person: Person) -> ReconsentItem | None:
    """When the person came of age, if their latest decision was taken as a child: from the date of birth (of
    their identity, else as given with the decision), or else from the age stated at the decision (the latest
    day they can have turned 18)."""
    opened = participation.latest_opened(session, runtime, person)
    if opened is None:
        return None
    age_then = opened.details.get("age_at_decision")
    if age_then is None or age_then >= ADULT:
        return None
    identity = identity_of(session, runtime.keys, person)
    stated = opened.details.get("date_of_birth")  # given with the decision, before any identity was stored
    born = identity.date_of_birth if identity is not None and identity.date_of_birth is not None else None
    born = born or (date.fromisoformat(stated) if stated else None)
    if born is not None:
        on, basis = plus_years(born, ADULT), "date_of_birth"
    else:
        decided = opened.row.obtained_at.astimezone(UTC).date()
        on, basis = plus_years(decided, ADULT - age_then), "age_at_decision"
    return ReconsentItem(
        person_id=person.id, person_code=person.code, case_id=person.case_id, came_of_age_on=on, basis=basis
    )


def reconsent_due(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest = FIRST_PAGE,
    now: datetime | None = None,
) -> Page[ReconsentItem]:
    """Minors of the caller's cases who have come of age, soonest first."""
    stmt = policy.scope(principal, policy.Action.RECONSENT_READ, select(Person), Person.case_id)
    on: date = (now or db_now(session)).astimezone(UTC).date()
    people = list(session.scalars(stmt.order_by(Person.code)))
    # An erased person's consent no longer opens, and there is no one to ask again.
    gone = erased.erased_among(session, [p.id for p in people])
    items = [
        item
        for person in people
        if person.id not in gone
        and (item := came_of_age(session, runtime, person)) is not None
        and item.came_of_age_on <= on
    ]
    items.sort(key=lambda i: (i.came_of_age_on, i.person_code))
    chosen, cursor = in_memory(items, page)
    return Page[ReconsentItem](items=list(chosen), next_cursor=cursor)
