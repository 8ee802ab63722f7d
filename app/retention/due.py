"""When each deletable category of a person's data comes due, and the custodians' review of it.

A category comes due at the earliest of: the storage period of the latest participation consent (from when it
was given), a shorter period a current use-consent record sets for the category (from when that was given), and
the organisation's defaults (``TESTIMONY_RETENTION__STORAGE`` where the consent states no period, and
``TESTIMONY_RETENTION__CATEGORIES`` per category). Contact data also comes due when the latest participation
consent no longer agrees to re-contact, and when the re-contact agreement or the safe contact runs out.

Every service takes ``now`` (the database clock by default), so tests can move time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import grants
from app.consent import service as participation
from app.consent.checks import AFFIRMATIVE
from app.consent.grant_checks import years
from app.consent.models import ParticipationConsent
from app.consent.vocabulary import ConsentStatus, DataCategory, ParticipationDecision
from app.core.db import db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, in_memory
from app.crypto import aead
from app.keys import datakeys
from app.people import holds
from app.people.models import ErasedPerson, Person
from app.people.records import open_column
from app.retention.held import DELETABLE, held
from app.retention.models import RetentionReview
from app.retention.schemas import Basis, Decision, DueItem, ReviewCreate, ReviewRead, State

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "retention_reviews"


@dataclass(frozen=True)
class Due:
    category: DataCategory
    due_on: date
    basis: Basis


def plus_years(start: date, n: int) -> date:
    try:
        return start.replace(year=start.year + n)
    except ValueError:  # 29 February in a year without one
        return start.replace(year=start.year + n, day=28)


def _earliest(found: dict[DataCategory, Due], due: Due) -> None:
    if due.category not in found or due.due_on < found[due.category].due_on:
        found[due.category] = due


def due_dates(session: Session, runtime: Runtime, person: Person) -> dict[DataCategory, Due]:
    """When each deletable category the person's record holds comes due; none without participation consent."""
    opened = participation.latest_opened(session, runtime, person)
    holding = held(session, runtime, person)
    if opened is None or not holding:
        return {}
    settings = runtime.settings.retention
    given_on = opened.row.obtained_at.astimezone(UTC).date()
    stated = opened.details.get("retention")
    found: dict[DataCategory, Due] = {}
    for category in holding:
        if stated is not None:
            _earliest(found, Due(category, plus_years(given_on, years(stated)), Basis.STORAGE))
        else:
            _earliest(found, Due(category, plus_years(given_on, years(settings.storage)), Basis.ORGANISATION))
        if (own := settings.categories.get(category.value)) is not None:
            _earliest(found, Due(category, plus_years(given_on, years(own)), Basis.ORGANISATION))
    for row in grants.current_records(session, runtime, person):
        on = row.obtained_at.astimezone(UTC).date()
        for name, period in grants.details_of(session, runtime, person, row)["retention"].items():
            category = DataCategory(name)
            if category in holding:
                _earliest(found, Due(category, plus_years(on, years(period)), Basis.USE_GRANT))
    if DataCategory.CONTACT in holding:
        for due in _contact_ends(session, runtime, person, opened, given_on):
            _earliest(found, due)
    return found


def _contact_ends(
    session: Session, runtime: Runtime, person: Person, opened: participation.Opened, given_on: date
) -> Iterable[Due]:
    agrees = ConsentStatus(opened.row.status) in AFFIRMATIVE and participation.allows(
        opened, ParticipationDecision.RE_CONTACT
    )
    if not agrees and ConsentStatus(opened.row.status) is not ConsentStatus.DEFERRED:
        yield Due(DataCategory.CONTACT, given_on, Basis.RE_CONTACT_ENDED)
    recontact: dict[str, Any] | None = opened.details.get("recontact")
    contact = open_column(session, runtime.keys, person, "contact")
    for source in (recontact, contact):
        if source is not None and source.get("expires_on"):
            yield Due(DataCategory.CONTACT, date.fromisoformat(source["expires_on"]), Basis.RE_CONTACT_EXPIRED)


def _reviews(session: Session, person_id: uuid.UUID) -> dict[tuple[str, date], RetentionReview]:
    rows = session.scalars(select(RetentionReview).where(RetentionReview.person_id == person_id))
    return {(r.category, r.due_on): r for r in rows}


def items_of(session: Session, runtime: Runtime, person: Person, until: date) -> list[DueItem]:
    """The person's items due on or before ``until``, with what the run would do with each."""
    dates = due_dates(session, runtime, person)
    if not dates:
        return []
    reviews = _reviews(session, person.id)
    on_hold = holds.is_held(session, person.id)
    items = []
    for due in dates.values():
        if due.due_on > until or due.category not in DELETABLE:
            continue
        review = reviews.get((due.category.value, due.due_on))
        state = (
            State.HELD
            if on_hold
            else State.UNREVIEWED
            if review is None
            else State.DELETE
            if review.decision == Decision.DELETE
            else State.KEPT
        )
        items.append(
            DueItem(
                person_id=person.id,
                person_code=person.code,
                case_id=person.case_id,
                category=due.category,
                due_on=due.due_on,
                basis=due.basis,
                state=state,
                reviewed_at=None if review is None else review.decided_at,
            )
        )
    return items


def all_due(session: Session, runtime: Runtime, until: date) -> list[DueItem]:
    """Every item due on or before ``until``, soonest first."""
    items: list[DueItem] = []
    consented = exists().where(ParticipationConsent.person_id == Person.id)
    erased = exists().where(ErasedPerson.person_id == Person.id)  # nothing of theirs is left to open
    for person in session.scalars(select(Person).where(consented, ~erased).order_by(Person.id)):
        items += items_of(session, runtime, person, until)
    items.sort(key=lambda i: (i.due_on, i.person_code, i.category.value))
    return items


def today(session: Session, now: datetime | None) -> date:
    return (now or db_now(session)).astimezone(UTC).date()


def review_queue(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest = FIRST_PAGE,
    now: datetime | None = None,
) -> Page[DueItem]:
    """What comes due in the next days (TESTIMONY_RETENTION__REVIEW_DAYS, 30 by default), overdue included."""
    policy.require(principal, policy.Action.RETENTION_REVIEW)
    until = today(session, now) + timedelta(days=runtime.settings.retention.review_days)
    items, cursor = in_memory(all_due(session, runtime, until), page)
    return Page[DueItem](items=list(items), next_cursor=cursor)


def review(
    session: Session, runtime: Runtime, principal: Principal, data: ReviewCreate, now: datetime | None = None
) -> ReviewRead:
    """A custodian's decision on one item of the queue: delete it when due, or keep it with a reason.
    404 for a person or an item not in the queue; 409 ``reviewed`` for an item already decided."""
    person = policy.load(session, principal, policy.Action.RETENTION_REVIEW, Person, data.person_id)
    audit.touch(session, resource_id=person.id, case_id=person.case_id)
    if data.decision is Decision.KEEP and data.reason is None:
        raise ValidationFailed("give the reason to keep it", fields=["reason"])
    until = today(session, now) + timedelta(days=runtime.settings.retention.review_days)
    queued = {(i.category, i.due_on) for i in items_of(session, runtime, person, until)}
    if (data.category, data.due_on) not in queued:
        raise Conflict(
            "this item is not in the review queue (its due date changed, or it is not held)",
            fields=["due_on"],
            code="not_due",
        )
    row_id = new_id()
    row = RetentionReview(
        id=row_id,
        person_id=person.id,
        case_id=person.case_id,
        category=data.category.value,
        due_on=data.due_on,
        decision=data.decision.value,
        reason=None if data.reason is None else _seal_reason(session, runtime, row_id, data.reason),
        decided_by=principal.user_id,
        decided_at=db_now(session),
    )
    if (data.category.value, data.due_on) in _reviews(session, person.id):
        raise Conflict("this item was reviewed already", fields=["category"], code="reviewed")
    session.add(row)
    session.flush()  # two custodians at once: the unique constraint decides, and the second gets 409
    return ReviewRead(
        id=row.id,
        person_id=person.id,
        category=data.category,
        due_on=row.due_on,
        decision=data.decision,
        reason_given=row.reason is not None,
        decided_at=row.decided_at,
    )


def _seal_reason(session: Session, runtime: Runtime, row_id: uuid.UUID, text: str) -> bytes:
    key = datakeys.service_key(session, runtime.keys)
    return aead.seal(key, text.encode(), table=TABLE, column="reason", row_id=row_id, person_id=None)
