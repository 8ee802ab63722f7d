"""Who and what an export request covers, checked before anything is stored or previewed.

The checks answer 422 naming the field (an unknown, inactive or deny-listed recipient; a named person at
``aggregate_only``; a person outside the cases named) and 404 for a case the requester is not on, as for any
object they may not see. ``people_in_scope`` is the one query of the people a request covers, used by the
preview and the build alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from app.access.principal import Principal
from app.consent import history
from app.consent.vocabulary import DataCategory, DisclosureLevel
from app.core.errors import NotFound, ValidationFailed
from app.exports.schemas import ExportCreate
from app.interviews.models import Interview
from app.people.models import ErasedPerson, Person
from app.recipients.models import Recipient

NAMED = frozenset({DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED})
OF_THE_PERSON = frozenset({DataCategory.AUDIO_RECORDING, DataCategory.VIDEO_RECORDING, DataCategory.PHOTOS_OF_PERSON})
"""Recordings and photos of the person: whatever the level, their release needs two custodians."""


def approvals_needed(data: ExportCreate) -> int:
    """Two custodians for what names the person at a named level (identity, contact, identity documents), or
    for any recording or photo of the person; one otherwise."""
    naming = {DataCategory.IDENTITY, DataCategory.CONTACT, DataCategory.IDENTITY_DOCUMENTS}
    named_identity = data.max_disclosure_level in NAMED and bool(naming & set(data.categories))
    return 2 if named_identity or OF_THE_PERSON & set(data.categories) else 1


def check_request(session: Session, principal: Principal, data: ExportCreate) -> Recipient:
    """Everything about a request that the database decides; the recipient it names."""
    if not principal.is_system and any(case_id not in principal.case_ids for case_id in data.case_ids):
        raise NotFound  # a case one is not on is a case one cannot see
    recipient = session.get(Recipient, data.recipient_id)
    if recipient is None:
        raise ValidationFailed("no registered recipient has this id", fields=["recipient_id"])
    if not recipient.active:
        raise ValidationFailed("this recipient is not active", fields=["recipient_id"])
    if history.deny_list_of(session).exclude(history.recipient_of(recipient)):
        raise ValidationFailed("this recipient is on the deny-list", fields=["recipient_id"])
    filters = data.filters
    if filters.people is not None and data.max_disclosure_level is DisclosureLevel.AGGREGATE_ONLY:
        raise ValidationFailed("aggregate counts are not filtered by named people", fields=["filters.people"])
    if filters.violation_types is not None:
        # Violation types are sealed in incidents; the build cannot filter on them without a door of its own.
        raise ValidationFailed("filtering by violation type is not available yet", fields=["filters.violation_types"])
    if filters.people is not None:
        found = set(
            session.scalars(select(Person.id).where(Person.id.in_(filters.people), Person.case_id.in_(data.case_ids)))
        )
        outside = [f"filters.people.{i}" for i, p in enumerate(filters.people) if p not in found]
        if outside:
            raise ValidationFailed("not a person of the cases named", fields=outside)
    return recipient


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def people_in_scope(
    case_ids: Sequence[uuid.UUID],
    person_ids: Sequence[uuid.UUID] | None,
    interviewed_from: date | None,
    interviewed_to: date | None,
) -> Select[uuid.UUID]:
    """The ids of the people a request covers, in id order; never an erased person (nothing of them opens, and
    nothing of them may leave)."""
    stmt = select(Person.id).where(
        Person.case_id.in_(case_ids), ~exists(select(ErasedPerson.person_id).where(ErasedPerson.person_id == Person.id))
    )
    if person_ids is not None:
        stmt = stmt.where(Person.id.in_(person_ids))
    if interviewed_from is not None or interviewed_to is not None:
        interviewed = select(Interview.id).where(Interview.person_id == Person.id)
        if interviewed_from is not None:
            interviewed = interviewed.where(Interview.scheduled_at >= _start(interviewed_from))
        if interviewed_to is not None and interviewed_to < date.max:  # the last day has no day after it
            interviewed = interviewed.where(Interview.scheduled_at < _start(interviewed_to + timedelta(days=1)))
        stmt = stmt.where(exists(interviewed))
    return stmt.order_by(Person.id)
