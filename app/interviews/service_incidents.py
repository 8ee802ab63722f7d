"""Incidents an interviewee told of: structured, recorded under the interview, sealed but for the counts.

Recording one needs what working notes need (service_statements.require_recording): the interview in
progress, paused or completed, and the person's latest participation consent agreeing to notes.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.core.db import db_now, new_id
from app.core.errors import ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.interviews.models import Incident, Interview
from app.interviews.schemas_statements import (
    IncidentCreate,
    IncidentDate,
    IncidentDetails,
    IncidentRead,
    IncidentSummary,
)
from app.interviews.service_statements import require_recording
from app.interviews.vocabulary import DatePrecision
from app.keys.sealed import Place, open_json, seal_json
from app.people.records import hold_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "incidents"
EARLIEST = date(1900, 1, 1)


def _place(row: Incident) -> Place:
    binding = {"case": row.case_id.hex, "interview": row.interview_id.hex}
    return Place(TABLE, "details", row.id, row.person_id, binding)


def _details(session: Session, runtime: Runtime, row: Incident) -> IncidentDetails:
    """The named door of incidents: a documenter on the case team reads one."""
    return IncidentDetails.model_validate(open_json(session, runtime.keys, _place(row), row.details))


def incident_for_export(session: Session, runtime: Runtime, row: Incident) -> IncidentDetails:
    """An incident for the export build (app/exports/material.py), opened through the incidents' door; the
    build keeps only the fields of the categories decide() allowed."""
    return _details(session, runtime, row)


def _dates(data: IncidentDate, today: date) -> None:
    """Not in the future, not before 1900, a range in order, and a month or year given by its first day."""
    for field, value in (("date.from", data.start), ("date.to", data.end)):
        if value is not None and not EARLIEST <= value <= today:
            raise ValidationFailed("give a date between 1900 and today", fields=[field])
    if data.end is not None and data.end < data.start:
        raise ValidationFailed("a date range ends on or after its start", fields=["date.to"])
    for field, value in (("date.from", data.start), ("date.to", data.end)):
        if value is None:
            continue
        if data.precision is DatePrecision.MONTH and value.day != 1:
            raise ValidationFailed("with precision month, give the first day of the month", fields=[field])
        if data.precision is DatePrecision.YEAR and (value.month, value.day) != (1, 1):
            raise ValidationFailed("with precision year, give the first day of the year", fields=[field])


def _once(values: list[str], field: str) -> None:
    if len(set(values)) != len(values):
        raise ValidationFailed("name each value once", fields=[field])


def add_incident(
    session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID, data: IncidentCreate
) -> IncidentRead:
    interview = policy.load(session, principal, policy.Action.INTERVIEW_UPDATE, Interview, interview_id)
    audit.touch(session, case_id=interview.case_id)
    hold_to_write(session, interview.person_id)
    require_recording(session, runtime, interview, "an incident")
    now = db_now(session)
    _dates(data.date, now.date())
    _once([v.value for v in data.violation_types], "violation_types")
    details = IncidentDetails.model_validate(
        {
            "date": {"start": data.date.start, "end": data.date.end, "precision": data.date.precision},
            "place": data.place,
            "violation_types": data.violation_types,
            "perpetrators": data.perpetrators,
            "other_victims_description": data.other_victims.description if data.other_victims else None,
            "witnesses_description": data.witnesses.description if data.witnesses else None,
        }
    )
    row = Incident(
        id=new_id(),
        interview_id=interview.id,
        person_id=interview.person_id,
        case_id=interview.case_id,
        other_victims=data.other_victims.count if data.other_victims else None,
        witnesses=data.witnesses.count if data.witnesses else None,
        recorded_by=principal.user_id,
        recorded_at=now,
        details=b"",
    )
    row.details = seal_json(session, runtime.keys, _place(row), details.model_dump(mode="json"))
    session.add(row)
    session.flush()
    audit.touch(session, resource_id=row.id)
    return _read(row, details)


def _summary(row: Incident) -> IncidentSummary:
    return IncidentSummary(
        id=row.id,
        interview_id=row.interview_id,
        other_victims=row.other_victims,
        witnesses=row.witnesses,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


def _read(row: Incident, details: IncidentDetails) -> IncidentRead:
    return IncidentRead.model_validate({**_summary(row).model_dump(), **details.model_dump()})


def list_incidents(
    session: Session, principal: Principal, interview_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[IncidentSummary]:
    """An interview's incidents in the order recorded: counts and metadata only, nothing opened."""
    interview = policy.load(session, principal, policy.Action.INTERVIEW_READ, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    stmt = policy.scope(
        principal,
        policy.Action.INTERVIEW_READ,
        select(Incident).where(Incident.interview_id == interview.id),
        Incident.case_id,
    )
    rows, cursor = keyset(session, stmt, Incident.id, page, uuid.UUID, lambda r: r.id)
    return Page[IncidentSummary](items=[_summary(r) for r in rows], next_cursor=cursor)


def read_incident(session: Session, runtime: Runtime, principal: Principal, incident_id: uuid.UUID) -> IncidentRead:
    """A documenter on the case team reads an incident: an audited door to plaintext."""
    row = policy.load(session, principal, policy.Action.INTERVIEW_READ, Incident, incident_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    return _read(row, _details(session, runtime, row))
