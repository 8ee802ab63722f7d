"""Wire shapes for consent forms and participation consent."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import Field, StringConstraints

from app.consent.review import ReviewState
from app.consent.vocabulary import (
    ConsentStatus,
    DataCategory,
    DisclosureLevel,
    FormSection,
    ParticipationDecision,
    Purpose,
    ReceiptOption,
    RecipientClass,
    TeachBackQuestion,
)
from app.core.schemas import Input, NonBlank, Output

Short = Annotated[NonBlank, StringConstraints(max_length=120)]
Note = Annotated[str, StringConstraints(max_length=1000)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class FormSummary(Output):
    form_id: str
    version: str
    languages: list[str]
    digest: str
    review: ReviewState
    """`unreviewed`: a translation is not signed off; only a development deployment serves the version,
    and every page that shows its text must say so."""


class FormTextRead(Output):
    form_id: str
    version: str
    language: str
    variant: str
    sha256: str
    """The SHA-256 of content, the text as read; a consent record pins it."""
    content: str
    review: ReviewState


TextVariantName = Literal["main", "child", "guardian", "verbal_script"]
Term = TypeVar("Term")


class TermLabel(Output, Generic[Term]):
    """One term of the form's vocabulary and its plain label in one language."""

    id: Term
    label: str


class PurposeLabel(TermLabel[Purpose]):
    example_recipient: str


class DecisionQuestion(TermLabel[ParticipationDecision]):
    question: str
    """Asked on its own; declining is an answer."""


class TeachBackPrompt(Output):
    id: TeachBackQuestion
    question: str
    listen_for: str
    """The key point the interviewer listens for in the person's own words."""


class TextRef(Output):
    """A text of the language; its content is served by GET /consent-forms/{form}/{version}/{language}."""

    variant: TextVariantName
    sha256: str


class ReviewerRead(Output):
    name: str
    role: str
    date: date


class FormLanguageRead(Output):
    """Everything a client shows in one language, in the order the form declares it."""

    code: str
    name: str
    title: str
    organisation: str
    review: Literal["source", "reviewed", "unreviewed"]
    """`source`: the text translations are reviewed against; a translation is `reviewed` once signed off."""
    reviewers: list[ReviewerRead]
    texts: list[TextRef]
    decisions: list[DecisionQuestion]
    teach_back: list[TeachBackPrompt]
    """The adult set."""
    child_teach_back: list[TeachBackPrompt]
    """The same points in words a child knows; empty when the version has none."""
    parameters: dict[str, str]
    """The values the texts were filled in with, such as what the region is called."""
    retention_options: list[TermLabel[str]]
    receipt_options: list[TermLabel[ReceiptOption]]
    purposes: list[PurposeLabel]
    recipient_classes: list[TermLabel[RecipientClass]]
    data_categories: list[TermLabel[DataCategory]]
    disclosure_levels: list[TermLabel[DisclosureLevel]]


class FormRead(Output):
    """A published form version, whole: a client never needs its form.yaml."""

    form_id: str
    version: str
    digest: str
    review: ReviewState
    source_language: str
    complaints_email: str
    sections: list[FormSection]
    languages: list[FormLanguageRead]


class Method(StrEnum):
    VERBAL_WITNESSED = "verbal_witnessed"
    WRITTEN = "written"
    ELECTRONIC = "electronic"


class TeachBackResult(StrEnum):
    PASS = "pass"  # noqa: S105 - a result, not a secret
    RE_EXPLAINED = "re_explained"


class Decisions(Input):
    """One explicit yes or no per decision: declining is an answer, and nothing defaults to yes.

    A decision left out (or null) is not yet made: only a deferred record may leave one out.
    """

    interview_now: bool | None = None
    notes: bool | None = None
    audio_recording: bool | None = None
    video_recording: bool | None = None
    photos: bool | None = None
    storage: bool | None = None
    referral: bool | None = None
    re_contact: bool | None = None


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
    text_variant: TextVariantName = "main"
    text_sha256: Sha256
    guardian_text_sha256: Sha256 | None = None
    """A minor's record: the hash of the guardian text read to the guardian, in the same language."""
    method: Method = Method.VERBAL_WITNESSED
    witness: Witness | None = None
    status: Literal[ConsentStatus.GIVEN, ConsentStatus.DEFERRED, ConsentStatus.REFUSED, ConsentStatus.RENEWED] = (
        ConsentStatus.GIVEN
    )
    deferred_reason: DeferredReason | None = None
    obtained_at: datetime | None = None
    place: Annotated[str, StringConstraints(max_length=200)] | None = None
    decisions: Decisions | None = None
    """Required whole unless the record is deferred: see Decisions."""
    retention: Annotated[str, StringConstraints(pattern=r"^P[1-9][0-9]?Y$")] | None = None
    teach_back: dict[TeachBackQuestion, TeachBackResult] = Field(default_factory=dict)
    teach_back_set: Literal["adult", "child"] | None = None
    """Which questions were asked: the child set by default when the child text was read and the
    version has one, else the adult set."""
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
    guardian_text_sha256: str | None
    """Pinned for a minor: the guardian text read to the guardian."""
    method: Method
    obtained_by: uuid.UUID | None
    obtained_at: datetime
    recorded_at: datetime
    age_at_decision: int | None
    details: dict[str, object]
    """The sealed part, opened for the documenter on the case team."""
