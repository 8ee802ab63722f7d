"""The interview's states, as pure functions: which moves are allowed, what each move records, and
that completion needs the end-of-interview reconfirmation.

The service applies the result with one conditional UPDATE on the expected state and revision, so of
two workers moving the same interview only one succeeds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from app.core.errors import Conflict, ValidationFailed
from app.interviews.schemas import BreakRecord, InterviewDetails, ReconfirmationRecord
from app.interviews.vocabulary import ENDED, TRANSITIONS, InterviewState


@dataclass(frozen=True)
class Move:
    """What a transition changes: the sealed details and the clear time columns."""

    details: InterviewDetails
    clear: dict[str, datetime] = field(default_factory=dict)


def allowed(current: InterviewState, target: InterviewState) -> None:
    """409 naming ``state`` for a move the state machine does not have, listing the moves it has."""
    if target in TRANSITIONS[current]:
        return
    following = sorted(s.value for s in TRANSITIONS[current])
    raise Conflict(
        "that state change is not allowed; from %(interview_state)s the interview can go to: %(interview_states)s"
        if following
        else "that state change is not allowed; %(interview_state)s is final",
        fields=["state"],
        params={"interview_state": current.value, "interview_states": following}
        if following
        else {"interview_state": current.value},
        code="illegal_transition",
    )


def reconfirmed(latest: ReconfirmationRecord | None) -> ReconfirmationRecord:
    """What ``completed`` needs: the interviewee's end-of-interview reconfirmation of their use grants,
    recorded with POST /interviews/{id}/reconfirm-consent once the statement was read back. Without it,
    completion is refused (409 ``reconfirmation_required``); if they do not reconfirm, the interview is
    ``stopped_by_interviewee``, which never needs it."""
    if latest is None:
        raise Conflict(
            "completing an interview needs the interviewee's end-of-interview reconfirmation of their use "
            "grants (POST /api/v1/interviews/{id}/reconfirm-consent); if they do not reconfirm, record "
            "stopped_by_interviewee",
            fields=["state"],
            code="reconfirmation_required",
        )
    return latest


def move(
    details: InterviewDetails,
    current: InterviewState,
    target: InterviewState,
    *,
    now: datetime,
    by: uuid.UUID | None,
    started_at: datetime | None,
    break_reason: str | None = None,
    reconfirmation: ReconfirmationRecord | None = None,
) -> Move:
    """The record of one move: a break opened on pausing and closed on leaving the pause, the start
    and end times, and the reconfirmation on completion."""
    allowed(current, target)
    if break_reason is not None and target is not InterviewState.PAUSED:
        raise ValidationFailed("a break reason goes with pausing (state paused)", fields=["break_reason"])
    breaks = list(details.breaks)
    if current is InterviewState.PAUSED and breaks and breaks[-1].ended_at is None:
        breaks[-1] = breaks[-1].model_copy(update={"ended_at": now})
    if target is InterviewState.PAUSED:
        breaks.append(BreakRecord(started_at=now, ended_at=None, reason=break_reason))
    update: dict[str, object] = {"breaks": breaks}
    clear: dict[str, datetime] = {}
    if target is InterviewState.COMPLETED:
        update["reconfirmation"] = reconfirmed(reconfirmation)
    if current is InterviewState.PLANNED:
        clear["started_at"] = now
    if target in ENDED:
        clear["ended_at"] = now
    return Move(details.model_copy(update=update), clear)
