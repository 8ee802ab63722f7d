"""Checking interview input against the world: the clock, the case team, the checklist's own rules.

Each refusal is a 422 naming the field; messages never repeat what was sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.models import CaseMember, User
from app.access.roles import Role
from app.core.errors import ValidationFailed
from app.interviews.schemas import Checklist, FeedbackPromise, GenderPreference
from app.interviews.vocabulary import Companion, GenderWish, ViolationType

SCHEDULE_WINDOW = timedelta(days=365)
"""An interview is planned, or recorded after the fact, within a year of today."""
FEEDBACK_WITHIN = timedelta(days=3 * 365)
"""Feedback promised further ahead than this is not a promise the team can plan by."""
CLOCK_SKEW = timedelta(minutes=5)
MET_ONLY_WHEN = {
    "interviewer": "interviewer_met is stated only when the person prefers female or male",
    "interpreter": "interpreter_met is stated only when the person prefers female or male",
}


def instant(value: datetime, field: str, earliest: datetime, latest: datetime) -> datetime:
    """A time with a time zone, between earliest and latest, in UTC."""
    message = "give a date and time with a time zone, within the allowed range"
    if value.tzinfo is None:
        raise ValidationFailed(message, fields=[field])
    try:
        at = value.astimezone(UTC)
    except OverflowError:  # e.g. year 1 with a positive offset: no such instant in UTC
        raise ValidationFailed(message, fields=[field]) from None
    if not earliest <= at <= latest:
        raise ValidationFailed(message, fields=[field])
    return at


def scheduled(value: datetime, now: datetime, field: str = "scheduled_at") -> datetime:
    return instant(value, field, now - SCHEDULE_WINDOW, now + SCHEDULE_WINDOW)


def team_interviewers(
    session: Session, case_id: uuid.UUID, among: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    """Who may be named an interview's interviewers: the active documenters on the case team (``among``
    these, when given), with their display names, in the order of their usernames."""
    stmt = (
        select(User.id, User.display_name, User.roles)
        .join(CaseMember, CaseMember.user_id == User.id)
        .where(CaseMember.case_id == case_id, User.active.is_(True))
        .order_by(User.username)
    )
    if among is not None:
        stmt = stmt.where(CaseMember.user_id.in_(among))
    rows = session.execute(stmt)
    return {user_id: name for user_id, name, roles in rows if policy.may_interview(frozenset(Role(r) for r in roles))}


def interviewers(session: Session, case_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Every interviewer is an active documenter on the case team, named once."""
    seen: set[uuid.UUID] = set()
    for i, user_id in enumerate(ids):
        if user_id in seen:
            raise ValidationFailed("name each interviewer once", fields=[f"interviewers.{i}"])
        seen.add(user_id)
    on_team = team_interviewers(session, case_id, seen)
    outside = [f"interviewers.{i}" for i, user_id in enumerate(ids) if user_id not in on_team]
    if outside:
        raise ValidationFailed("every interviewer must be an active documenter on the case team", fields=outside)
    return list(ids)


def gender_preference(data: GenderPreference, field: str = "gender_preference") -> None:
    """Whether a preference was met is stated only for a preference."""
    for role, wish, met in (
        ("interviewer", data.interviewer, data.interviewer_met),
        ("interpreter", data.interpreter, data.interpreter_met),
    ):
        if met is not None and wish not in (GenderWish.FEMALE, GenderWish.MALE):
            raise ValidationFailed(MET_ONLY_WHEN[role], fields=[f"{field}.{role}_met"])


def checklist(data: Checklist, today: date, field: str = "checklist") -> None:
    """The checklist's own rules: no one else with "alone", each value once, prior statements not in the
    future, and sexual or gender-based violence discussed only where care for it is available locally."""
    if Companion.ALONE in data.accompanied_by and len(data.accompanied_by) > 1:
        raise ValidationFailed("alone cannot be combined with a companion", fields=[f"{field}.accompanied_by"])
    for name, values in (("accompanied_by", data.accompanied_by), ("incident_types", data.incident_types)):
        if len(set(values)) != len(values):
            raise ValidationFailed("name each value once", fields=[f"{field}.{name}"])
    for i, prior in enumerate(data.prior_statements):
        where = f"{field}.prior_statements.{i}"
        if prior.month is not None and prior.year is None:
            raise ValidationFailed("a month needs its year", fields=[f"{where}.month"])
        if prior.year is not None and (prior.year, prior.month or 1) > (today.year, today.month):
            raise ValidationFailed("a prior statement cannot be in the future", fields=[f"{where}.year"])
    if ViolationType.SEXUAL_OR_GENDER_BASED_VIOLENCE in data.incident_types and data.care_available_locally is not True:
        raise ValidationFailed(
            "sexual or gender-based violence is discussed only where care is available locally: confirm "
            "care_available_locally, or leave it out of the incident types",
            fields=[f"{field}.care_available_locally"],
        )


def due_dates(promises: Sequence[FeedbackPromise], today: date) -> None:
    for i, promise in enumerate(promises):
        if not today <= promise.due_on <= today + FEEDBACK_WITHIN:
            raise ValidationFailed(
                "a feedback date is from today to %(n)s days ahead",
                fields=[f"feedback.{i}.due_on"],
                params={"n": str(FEEDBACK_WITHIN.days)},
            )
