"""The end-of-interview reconfirmation of use grants: after their statement is read back, the interviewee
confirms their grants, narrows them (a new version that only removes or lowers), or makes their first ones.

An interview is completed only once one is recorded (flow.reconfirmed). One recorded after the interviewee
stopped the interview is the later reconfirmation that allows use of its material again: ``source_of``
says so to ``decide()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import grants
from app.consent.decision_inputs import Source
from app.core.db import db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.interviews import records
from app.interviews.models import Interview, InterviewReconfirmation
from app.interviews.schemas import ReconfirmationRead, ReconfirmationRecord, ReconfirmConsent, ReconfirmOutcome
from app.interviews.service import person_of
from app.interviews.vocabulary import InterviewState
from app.keys.sealed import Place, open_json, seal_json
from app.keys.store import Keys
from app.people.models import Person
from app.people.records import hold_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "interview_reconfirmations"
RECONFIRMABLE = frozenset({InterviewState.IN_PROGRESS, InterviewState.PAUSED, InterviewState.STOPPED_BY_INTERVIEWEE})
"""Once the interview began: before completing it, or after the interviewee stopped it (asked again)."""


def place(person: Person, row: InterviewReconfirmation) -> Place:
    binding = {
        "case": row.case_id.hex,
        "interview": row.interview_id.hex,
        "outcome": row.outcome,
        "state": row.interview_state,
    }
    return Place(TABLE, "details", row.id, person.id, binding)


def reconfirm(
    session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID, data: ReconfirmConsent
) -> ReconfirmationRead:
    interview = policy.load(session, principal, policy.Action.INTERVIEW_UPDATE, Interview, interview_id)
    policy.require(principal, policy.Action.CONSENT_RECORD)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    hold_to_write(session, interview.person_id)
    _shape(data)
    person = person_of(session, interview)
    reference_code = None
    state = records.held_state(session, interview)
    if state not in RECONFIRMABLE:
        raise Conflict(
            "use grants are reconfirmed once the interview began and before it is completed, or after the "
            "interviewee stopped it",
            fields=["state"],
            code="not_reconfirmable",
        )
    if data.outcome is ReconfirmOutcome.CONFIRMED:
        consent_ids = [r.id for r in grants.current_records(session, runtime, person)]
        if not consent_ids:
            raise Conflict(
                "the interviewee has no current use grants to confirm; record their first ones (outcome first)",
                fields=["outcome"],
                code="nothing_to_confirm",
            )
    elif data.outcome is ReconfirmOutcome.NARROWED:
        assert data.consent_id is not None  # _shape
        assert data.narrowed is not None
        with _within("narrowed"):
            made = grants.narrow(session, runtime, principal, person, data.consent_id, data.narrowed, interview.id)
        consent_ids = [made.id]
    else:
        assert data.first is not None  # _shape
        with _within("first"):
            recorded = grants.record_for(session, runtime, principal, person, data.first, interview.id)
        consent_ids = [recorded.row.id]
        reference_code = recorded.reference_code
    row = InterviewReconfirmation(
        id=new_id(),
        interview_id=interview.id,
        person_id=person.id,
        case_id=interview.case_id,
        outcome=data.outcome.value,
        interview_state=state.value,
        consent_id=consent_ids[0] if data.outcome is not ReconfirmOutcome.CONFIRMED else None,
        recorded_by=principal.user_id,
        recorded_at=db_now(session),
        details=b"",
    )
    details: dict[str, object] = {"consent_ids": [str(i) for i in consent_ids], "notes": data.notes}
    row.details = seal_json(session, runtime.keys, place(person, row), details)
    session.add(row)
    session.flush()
    return _read(row, details).model_copy(update={"reference_code": reference_code})


_CONTENTS = ("grants", "refusals", "restrictions", "retention", "form_", "language", "text_", "method", "witness")


@contextmanager
def _within(member: str) -> Iterator[None]:
    """A refusal of the grants in ``member`` names the field as the request body holds it."""
    try:
        yield
    except ValidationFailed as refused:
        refused.fields = [f"{member}.{f}" if f.startswith(_CONTENTS) else f for f in refused.fields]
        raise


def _shape(data: ReconfirmConsent) -> None:
    """Each outcome takes what it needs and nothing else."""
    needs = {
        ReconfirmOutcome.CONFIRMED: set(),
        ReconfirmOutcome.NARROWED: {"consent_id", "narrowed"},
        ReconfirmOutcome.FIRST: {"first"},
    }[data.outcome]
    sent = {name for name in ("consent_id", "narrowed", "first") if getattr(data, name) is not None}
    missing = sorted(needs - sent)
    if missing:
        raise ValidationFailed("outcome %(outcome)s needs this", fields=missing, params={"outcome": data.outcome.value})
    extra = sorted(sent - needs)
    if extra:
        raise ValidationFailed(
            "outcome %(outcome)s takes no such part", fields=extra, params={"outcome": data.outcome.value}
        )


def _read(row: InterviewReconfirmation, details: dict[str, object]) -> ReconfirmationRead:
    return ReconfirmationRead.model_validate(
        {
            "id": row.id,
            "interview_id": row.interview_id,
            "outcome": row.outcome,
            "interview_state": row.interview_state,
            "consent_ids": details["consent_ids"],
            "recorded_at": row.recorded_at,
            "recorded_by": row.recorded_by,
            "notes": details["notes"],
        }
    )


def _rows(session: Session, interview_id: uuid.UUID) -> list[InterviewReconfirmation]:
    return list(
        session.scalars(
            select(InterviewReconfirmation)
            .where(InterviewReconfirmation.interview_id == interview_id)
            .order_by(InterviewReconfirmation.id)
        )
    )


def latest_before_completion(session: Session, keys: Keys, interview: Interview) -> ReconfirmationRecord | None:
    """The latest reconfirmation recorded while the interview was going on, for completing it."""
    going_on = [
        r for r in _rows(session, interview.id) if r.interview_state != InterviewState.STOPPED_BY_INTERVIEWEE.value
    ]
    if not going_on:
        return None
    row = going_on[-1]
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    details = open_json(session, keys, place(person, row), row.details)
    return ReconfirmationRecord(
        confirmed=True,
        at=row.recorded_at,
        notes=details["notes"],
        recorded_by=row.recorded_by,
        outcome=ReconfirmOutcome(row.outcome),
        consent_ids=details["consent_ids"],
    )


def source_of(session: Session, interview: Interview) -> Source:
    """The interview, as ``decide()`` reads it: its state, and whether a reconfirmation followed a stop."""
    return source_from(interview, _rows(session, interview.id))


def source_from(interview: Interview, rows: Sequence[InterviewReconfirmation]) -> Source:
    """``source_of`` from the interview's reconfirmations, read by the caller (``export_pages``: a page at once)."""
    state = records.state_of(interview)
    stopped = state is InterviewState.STOPPED_BY_INTERVIEWEE
    after_stop = any(r.interview_state == InterviewState.STOPPED_BY_INTERVIEWEE.value for r in rows)
    return Source(interview_state=state.value, stopped_by_interviewee=stopped, reconfirmed_after_stop=after_stop)
