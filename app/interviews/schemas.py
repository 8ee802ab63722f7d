"""Wire shapes for interviews, and the shape of their sealed details.

Input models refuse unknown fields and NUL bytes. The sealed document (``InterviewDetails``) is what
``interviews.details`` holds; every field of it has a data category in app/consent/categories.py.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StrictInt, StringConstraints

from app.consent.grant_schemas import GrantContents, UseConsentCreate
from app.consent.schemas import Interpreter
from app.core.schemas import Input, NonBlank, Output
from app.interviews.vocabulary import (
    Companion,
    GenderWish,
    InterviewState,
    OrganisationType,
    Recorded,
    ReferralNeed,
    TaskState,
    ViolationType,
)

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
PlaceText = Annotated[NonBlank, StringConstraints(max_length=200)]
Short = Annotated[NonBlank, StringConstraints(max_length=200)]
Text = Annotated[NonBlank, StringConstraints(max_length=500)]
Note = Annotated[str, StringConstraints(max_length=1000)]
Interviewers = Annotated[list[uuid.UUID], Field(min_length=1, max_length=6)]


class GenderPreference(Input):
    """The survivor's preference for the gender of the interviewer and of the interpreter, and whether
    each was met; ``*_met`` is stated only for a preference (female or male)."""

    interviewer: GenderWish
    interpreter: GenderWish
    interviewer_met: bool | None = None
    interpreter_met: bool | None = None


class PriorStatement(Input):
    """A statement the person reports having given before: to what kind of organisation (never a name),
    roughly when (a year, and a month if they know it), and whether it was recorded."""

    to: OrganisationType
    year: int | None = Field(default=None, ge=1950, le=2100)
    month: int | None = Field(default=None, ge=1, le=12)
    recorded: Recorded


class Checklist(Input):
    """The do-no-harm checklist, completed before the interview starts.

    ``accompanied_by`` is a list of kinds of person (``["alone"]`` when no one is); ``prior_statements``
    is empty when the person reports none. When ``incident_types`` includes sexual or gender-based
    violence, ``care_available_locally`` must be true.
    """

    private_setting: bool
    accompanied_by: Annotated[list[Companion], Field(min_length=1, max_length=6)]
    referral_available_locally: bool
    """Whether a named referral (a specific service the person can be sent to) exists locally."""
    prior_statements: Annotated[list[PriorStatement], Field(max_length=20)]
    justification: Text
    """Why this interview adds value, in a sentence or two: re-interviewing harms people."""
    incident_types: Annotated[list[ViolationType], Field(min_length=1, max_length=10)]
    care_available_locally: bool | None = None


class ReconfirmOutcome(StrEnum):
    """What the interviewee decided about their use grants once their statement was read back."""

    CONFIRMED = "confirmed"
    """Every current grant stands as recorded."""
    NARROWED = "narrowed"
    """One record's grants are removed or lowered: a new version of it (``consent_id``, ``narrowed``)."""
    FIRST = "first"
    """Their first grants, made now: a new record (``first``)."""


class ReconfirmConsent(Input):
    """The end-of-interview reconfirmation of use grants (POST /interviews/{id}/reconfirm-consent).

    ``confirmed`` takes nothing else; ``narrowed`` takes the record narrowed (``consent_id``) and what it
    allows now (``narrowed``: the grants kept, each naming by ``id`` the grant it keeps or lowers; nothing
    may widen); ``first`` takes a whole new record (``first``).
    """

    outcome: ReconfirmOutcome
    consent_id: uuid.UUID | None = None
    narrowed: GrantContents | None = None
    first: UseConsentCreate | None = None
    notes: Note | None = None


class ReconfirmationRead(Output):
    id: uuid.UUID
    interview_id: uuid.UUID
    outcome: ReconfirmOutcome
    interview_state: InterviewState
    """A reconfirmation recorded once the interviewee stopped the interview allows use of its material again."""
    consent_ids: list[uuid.UUID]
    """The records confirmed, or the version or record made."""
    recorded_at: datetime
    recorded_by: uuid.UUID | None
    notes: str | None
    reference_code: str | None = None
    """Only when first grants were made: the new record's reference code, told to the person now and never
    shown again (it is stored only as a keyed hash)."""


class DistressObserved(Input):
    note: Text
    """What was seen and what was done, in a few words (never the testimony itself)."""


class Referral(Input):
    """A referral made: only the need and the contact of the service, never the narrative."""

    need: ReferralNeed
    contact: Short
    """The service referred to and how to reach it."""


class FeedbackPromise(Input):
    promise: Text
    due_on: date


class InterviewCreate(Input):
    scheduled_at: datetime
    """Date and time, with a time zone."""
    language: LanguageCode
    place: PlaceText | None = None
    interviewers: Interviewers | None = None
    """Accounts on the case team; the creator alone when left out."""
    gender_preference: GenderPreference | None = None
    checklist: Checklist | None = None


class InterviewUpdate(Input):
    """Changes to an interview made on the read of ``revision``; a stale revision is refused (409).

    ``state`` moves the interview (after the other changes are applied); ``break_reason`` goes with
    ``paused``. ``completed`` needs the end-of-interview reconfirmation recorded first
    (POST /interviews/{id}/reconfirm-consent). ``distress_observed``, ``referrals`` and ``feedback``
    are added to what is recorded, never replacing it.
    """

    revision: int = Field(ge=1, le=2**31 - 1)
    state: InterviewState | None = None
    scheduled_at: datetime | None = None
    language: LanguageCode | None = None
    place: PlaceText | None = None
    interviewers: Interviewers | None = None
    gender_preference: GenderPreference | None = None
    checklist: Checklist | None = None
    break_reason: Short | None = None
    distress_observed: Annotated[list[DistressObserved], Field(min_length=1, max_length=10)] | None = None
    referrals: Annotated[list[Referral], Field(min_length=1, max_length=10)] | None = None
    feedback: Annotated[list[FeedbackPromise], Field(min_length=1, max_length=10)] | None = None


# The sealed document.


class ChecklistRecord(Checklist):
    completed_at: datetime
    completed_by: uuid.UUID | None


class BreakRecord(Output):
    started_at: datetime
    ended_at: datetime | None
    reason: str | None


class DistressRecord(Output):
    at: datetime
    note: str
    recorded_by: uuid.UUID | None


class ReferralRecord(Output):
    at: datetime
    need: ReferralNeed
    contact: str
    recorded_by: uuid.UUID | None


class FeedbackRecord(Output):
    task_id: uuid.UUID
    at: datetime
    promise: str
    due_on: date
    recorded_by: uuid.UUID | None


class ReconfirmationRecord(Output):
    """The reconfirmation the interview was completed on (the latest recorded before completion)."""

    confirmed: bool
    at: datetime
    notes: str | None
    recorded_by: uuid.UUID | None
    outcome: ReconfirmOutcome | None = None
    consent_ids: list[uuid.UUID] = Field(default_factory=list)


class InterviewDetails(Output):
    """What ``interviews.details`` holds, sealed under the person's data key."""

    place: str | None = None
    gender_preference: GenderPreference | None = None
    checklist: ChecklistRecord | None = None
    breaks: list[BreakRecord] = Field(default_factory=list)
    distress_observed: list[DistressRecord] = Field(default_factory=list)
    referrals: list[ReferralRecord] = Field(default_factory=list)
    feedback: list[FeedbackRecord] = Field(default_factory=list)
    reconfirmation: ReconfirmationRecord | None = None


# Answers.


class InterviewerChoice(Output):
    """An account that may be named an interviewer: an active documenter on the case team."""

    id: uuid.UUID
    display_name: str


class InterviewSummary(Output):
    """What lists show: the person's pseudonym code and metadata, nothing sealed."""

    id: uuid.UUID
    person_id: uuid.UUID
    person_code: str
    case_id: uuid.UUID
    participation_id: uuid.UUID
    state: InterviewState
    revision: int
    language: str
    scheduled_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    checklist_at: datetime | None
    interviewers: list[uuid.UUID]
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime | None


class FeedbackRead(FeedbackRecord):
    state: TaskState
    done_at: datetime | None


class InterviewRead(InterviewSummary):
    """An interview opened for a documenter on the case team (an audited read)."""

    place: str | None
    gender_preference: GenderPreference | None
    interpreter: Interpreter | None
    """From the participation consent the interview was taken under."""
    checklist: ChecklistRecord | None
    breaks: list[BreakRecord]
    distress_observed: list[DistressRecord]
    referrals: list[ReferralRecord]
    feedback: list[FeedbackRead]
    reconfirmation: ReconfirmationRecord | None


class FeedbackTaskRead(Output):
    """A feedback task as the case team plans by: no word of what was promised (read the interview)."""

    id: uuid.UUID
    interview_id: uuid.UUID
    person_id: uuid.UUID
    person_code: str
    case_id: uuid.UUID
    due_on: date
    state: TaskState
    created_by: uuid.UUID | None
    created_at: datetime
    done_by: uuid.UUID | None
    done_at: datetime | None


class FeedbackTaskUpdate(Input):
    state: Literal[TaskState.DONE]


class SealedAttachmentFacts(Output):
    """What an attachment's sealed ``content`` holds: the original's SHA-256 and exact size, which
    would fingerprint a circulated file if kept in clear, and the file name it came with."""

    sha256: str
    size: int
    file_name: str | None


class SealedUploadDetails(Output):
    """What a resumable upload's sealed ``details`` hold until it completes or expires."""

    length: int
    file_name: str | None


# Attachments ----------------------------------------------------------------------------------------------


class AttachmentSummary(Output):
    """An attachment in a list: metadata only. The padded ``stored_size`` reveals a size bucket, never
    the exact size; the SHA-256 and file name stay sealed."""

    id: uuid.UUID
    interview_id: uuid.UUID
    kind: str
    category: str
    media_type: str
    stored_size: int
    uploaded_by: uuid.UUID | None
    uploaded_at: datetime


class AttachmentRead(AttachmentSummary):
    """One attachment for a documenter on the case team, with its sealed facts opened."""

    size: int
    sha256: str
    file_name: str | None


class AttachmentStored(Output):
    """The uploader's answer: what was stored, with the SHA-256 and size the server computed, so the
    client can check them against its own file."""

    id: uuid.UUID
    interview_id: uuid.UUID
    kind: str
    category: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class UploadOpen(Input):
    """Begin a resumable upload of ``length`` bytes; ``category`` may be left out for a kind that allows
    only one (audio, video)."""

    kind: str = Field(max_length=16)
    category: str | None = Field(default=None, max_length=40)
    length: StrictInt  # a number, never true or "12"
    file_name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class UploadStateRead(Output):
    """Where a resumable upload stands: send from ``offset`` on, in any pieces."""

    id: uuid.UUID
    offset: int
    length: int
    segment_size: int
    expires_at: datetime
