"""Wire shapes for consent forms and participation consent."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.consent.vocabulary import ConsentStatus, ReceiptOption, TeachBackQuestion
from app.core.schemas import Input, NonBlank, Output

Short = Annotated[NonBlank, StringConstraints(max_length=120)]
Note = Annotated[str, StringConstraints(max_length=1000)]


class FormSummary(Output):
    form_id: str
    version: str
    languages: list[str]
    digest: str


class FormTextRead(Output):
    form_id: str
    version: str
    language: str
    variant: str
    sha256: str
    content: str


class Method(StrEnum):
    VERBAL_WITNESSED = "verbal_witnessed"
    WRITTEN = "written"
    ELECTRONIC = "electronic"


class TeachBackResult(StrEnum):
    PASS = "pass"  # noqa: S105 - a result, not a secret
    RE_EXPLAINED = "re_explained"


class Decisions(Input):
    """One explicit yes or no per decision: declining is an answer, and nothing defaults to yes."""

    interview_now: bool
    notes: bool
    audio_recording: bool
    video_recording: bool
    photos: bool
    storage: bool
    referral: bool
    re_contact: bool


class Witness(Input):
    name: Short
    role: Short


class Interpreter(Input):
    name: Short
    accepted_by_interviewee: bool
    confidentiality_signed: bool
    conflict_check: Literal["clear", "same_village", "family", "other"]
    conflict_note: Note | None = None


class Guardian(Input):
    name: Short
    relation: Short
    consent: bool


class Minor(Input):
    assent: bool
    guardian: Guardian | None = None
    guardian_conflict: bool = False
    social_worker: Short | None = None
    """Stands in for the guardian when the guardian has a conflict of interest."""
    best_interests_checked_by: Short


class ReContact(Input):
    channel: Short
    phone_owner: Short
    may_leave_messages: bool
    safe_times: Short
    if_someone_else_answers: Annotated[NonBlank, StringConstraints(max_length=500)]
    expires_on: date


class DeferredReason(StrEnum):
    TIME_TO_THINK = "time_to_think"
    ACUTE_DISTRESS = "acute_distress"


class ParticipationCreate(Input):
    form_id: Annotated[str, StringConstraints(max_length=64)]
    form_version: Annotated[str, StringConstraints(max_length=16)]
    language: Annotated[str, StringConstraints(max_length=8)]
    text_variant: Literal["main", "child", "guardian", "verbal_script"] = "main"
    text_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    method: Method = Method.VERBAL_WITNESSED
    witness: Witness | None = None
    status: Literal[ConsentStatus.GIVEN, ConsentStatus.DEFERRED, ConsentStatus.REFUSED, ConsentStatus.RENEWED] = (
        ConsentStatus.GIVEN
    )
    deferred_reason: DeferredReason | None = None
    obtained_at: datetime | None = None
    place: Annotated[str, StringConstraints(max_length=200)] | None = None
    decisions: Decisions
    retention: Annotated[str, StringConstraints(pattern=r"^P[1-9][0-9]?Y$")] | None = None
    teach_back: dict[TeachBackQuestion, TeachBackResult] = Field(default_factory=dict)
    interpreter: Interpreter | None = None
    date_of_birth: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=130)
    minor: Minor | None = None
    recontact: ReContact | None = None
    withdrawal_code_word: Annotated[NonBlank, StringConstraints(min_length=3, max_length=60)] | None = None
    receipt: ReceiptOption | None = None
    notes: Note | None = None


class ParticipationRead(Output):
    id: uuid.UUID
    person_id: uuid.UUID
    version: int
    status: ConsentStatus
    allows_collection: bool
    blocked_reason: str | None
    form_id: str
    form_version: str
    language: str
    text_sha256: str
    method: Method
    obtained_by: uuid.UUID | None
    obtained_at: datetime
    recorded_at: datetime
    age_at_decision: int | None
    details: dict[str, object]
    """The sealed part, opened for the documenter on the case team."""
