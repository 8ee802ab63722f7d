"""Where an interview's sealed details live, what they are bound to, and the one door that opens them."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from app.core.db import core
from app.crypto.errors import DecryptionFailed
from app.interviews.models import Interview
from app.interviews.schemas import InterviewDetails
from app.interviews.vocabulary import InterviewState
from app.keys.sealed import Place, open_json, seal_json
from app.keys.store import Keys

TABLE = "interviews"


def place(
    interview_id: uuid.UUID,
    person_id: uuid.UUID,
    case_id: uuid.UUID,
    participation_id: uuid.UUID,
    state: InterviewState,
) -> Place:
    """The details are bound to the clear columns that decide who reads them and what they may become:
    the case (access), the consent version they were taken under, and the state (material from an
    interview stopped by the interviewee is treated apart). Editing any of them in the database makes
    the details fail to open."""
    binding = {"case": case_id.hex, "participation": participation_id.hex, "state": state.value}
    return Place(TABLE, "details", interview_id, person_id, binding)


def state_of(interview: Interview) -> InterviewState:
    """The interview's state. A value that is no state was written outside the service: it is answered as
    the integrity failure it is, like an edited state that is one (which fails to open the details)."""
    return _state(interview.state)


def held_state(session: Session, interview: Interview) -> InterviewState:
    """The interview's state as last committed, with its row held until the transaction ends. A write that
    must not follow a change of state (nothing is added once the interviewee stopped) checks this: a change
    made at the same moment either waits for the write to commit, or has committed and is seen here. FOR NO
    KEY UPDATE, like people.records.hold: an UPDATE of the interview waits, a foreign key check passes."""
    return _state(core(session).execute(_HELD_STATE, {"interview_id": interview.id}).scalar_one())


_INTERVIEWS = cast(Table, Interview.__table__)
_HELD_STATE = (
    select(_INTERVIEWS.c.state).where(_INTERVIEWS.c.id == bindparam("interview_id")).with_for_update(key_share=True)
)


def _state(value: str) -> InterviewState:
    try:
        return InterviewState(value)
    except ValueError:
        raise DecryptionFailed from None


def place_of(interview: Interview) -> Place:
    return place(
        interview.id,
        interview.person_id,
        interview.case_id,
        interview.participation_id,
        state_of(interview),
    )


def seal_details(session: Session, keys: Keys, where: Place, details: InterviewDetails) -> bytes:
    return seal_json(session, keys, where, details.model_dump(mode="json"))


def open_details(session: Session, keys: Keys, interview: Interview) -> InterviewDetails:
    """A documenter on the case team reads an interview, or changes it (which reads what it changes)."""
    return InterviewDetails.model_validate(open_json(session, keys, place_of(interview), interview.details))
