"""Wire shapes of export requests, their approvals and their previews."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self, TypeVar

from pydantic import Field, StringConstraints, model_validator

from app.consent.vocabulary import DataCategory, DisclosureLevel, Purpose
from app.core.schemas import Input, NonBlank, Output
from app.interviews.schemas_redactions import RedactedAnswerRecord
from app.interviews.vocabulary import ViolationType


class ExportStatus(StrEnum):
    REQUESTED = "requested"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval"
    APPROVED = "approved"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"
    STALE = "stale"
    REJECTED = "rejected"


T = TypeVar("T")


def _unique(values: list[T]) -> list[T]:
    if len(set(values)) != len(values):
        raise ValueError("each value once")
    return values


class ExportFilters(Input):
    people: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)] | None = None
    """Only these people (refused at aggregate_only: a count of named people is no aggregate)."""
    interviewed_from: date | None = None
    interviewed_to: date | None = None
    """Only people with an interview scheduled within these days (inclusive)."""
    violation_types: Annotated[list[ViolationType], Field(min_length=1, max_length=20)] | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.interviewed_from and self.interviewed_to and self.interviewed_from > self.interviewed_to:
            raise ValueError("interviewed_from is after interviewed_to")
        return self


Justification = Annotated[NonBlank, StringConstraints(strip_whitespace=True, max_length=4000)]
Reason = Annotated[NonBlank, StringConstraints(strip_whitespace=True, max_length=2000)]


class ExportCreate(Input):
    case_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=50)]
    filters: ExportFilters = ExportFilters()
    purpose: Purpose
    recipient_id: uuid.UUID
    justification: Justification
    categories: Annotated[list[DataCategory], Field(min_length=1, max_length=len(DataCategory))]
    max_disclosure_level: DisclosureLevel

    @model_validator(mode="after")
    def _unique_lists(self) -> Self:
        _unique(self.case_ids)
        _unique(self.categories)
        return self


class ExportDecision(Input):
    reason: Reason


class ApprovalRead(Output):
    decided_by: uuid.UUID
    decision: str
    reason: str
    """The custodian's reason, sealed at rest under the service key; shown to whoever may read the export."""
    decided_at: datetime


class ExportRead(Output):
    id: uuid.UUID
    status: ExportStatus
    revision: int
    case_ids: list[uuid.UUID]
    filters: ExportFilters
    purpose: Purpose
    recipient_id: uuid.UUID
    categories: list[DataCategory]
    max_disclosure_level: DisclosureLevel
    requester_id: uuid.UUID
    requested_at: datetime
    approvals_needed: int
    approvals: list[ApprovalRead]
    people_count: int | None
    """Set when built: how many people are in the disclosure ledger."""
    excluded_count: int | None
    level_counts: dict[str, int] | None
    bundle_written: bool
    """Whether the build wrote the bundle (a ready export whose ledger holds nobody may still have one)."""
    bundle_size: int | None
    """The size of what the recipient receives: the ZIP, or its age encryption."""
    bundle_sha256: str | None
    """Its SHA-256, to compare the download with."""
    bundle_encrypted: bool | None
    """Whether it is encrypted to the recipient's age key."""
    downloads: int = 0
    """Downloads of the bundle so far."""
    copy_of: uuid.UUID | None = None
    """The stale export this request was made again from."""
    bundle_removed_at: datetime | None = None
    """When the bundle was deleted because its downloads were used up or its download period ended."""


SMALL = 5
"""Counts below this (but above zero) are shown as null: a small count can point at a person."""


class PreviewRead(Output):
    people: dict[DisclosureLevel, int | None]
    """People per level they would be disclosed at, rounded to the nearest multiple of 5; null when 1 to 4, and
    every count null when 1 to 4 people are in scope (0 when nobody is)."""
    excluded: int | None
    """People in scope with nothing they allow to go, rounded to the nearest multiple of 5; null when 1 to 4."""


class ReviewCounts(Output):
    """The counts a custodian deciding an export reads: exact, zero included."""

    people: dict[DisclosureLevel, int]
    """People per level they would be disclosed at."""
    excluded: int
    """People in scope with nothing they allow to go."""
    in_scope: int
    """People the request covers."""


class RecallState(StrEnum):
    OPEN = "open"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"


class RecallRead(Output):
    """A recall notice: to whom, for which export, which person (by their per-export code only)."""

    id: uuid.UUID
    export_id: uuid.UUID
    ledger_id: uuid.UUID
    """The ledger row recalled (for ``POST /exports/{id}/ledger/{ledger_id}/submitted``)."""
    recipient_id: uuid.UUID
    record_id: str | None
    """The person's record id in that export's bundle: the ``record`` column of ``records.csv`` and
    ``records.jsonl``, and ``consent/<record_id>.json``, so the recipient finds what to destroy (the bundle
    names nothing else of them). Null when the person left only as counts (``aggregate_only``)."""
    submitted_to_proceedings: bool
    """True: the records are part of a proceeding, and the notice can only ask the recipient to withdraw them."""
    submitted_reason: str | None = None
    """Why a custodian marked them submitted (sealed under the person's key); null when not submitted, or erased."""
    submitted_reason_erased: bool = False
    """True: the person was erased, and the reason with them (it was sealed under their key)."""
    kind: str
    """``demand`` (return or destroy) or ``request`` (submitted to proceedings: we can only ask)."""
    state: RecallState
    raised_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None


class LedgerSubmitIn(Input):
    reason: Reason
    """Why the records count as submitted (which proceeding, when): kept on the ledger row."""


class LedgerSubmitted(Output):
    export_id: uuid.UUID
    ledger_id: uuid.UUID
    submitted_to_proceedings: bool
    submitted_at: datetime | None


class FeedbackOutcome(StrEnum):
    INFORMED = "informed"
    NOT_REACHED = "not_reached"


class FeedbackState(StrEnum):
    OPEN = "open"
    INFORMED = "informed"
    NOT_REACHED = "not_reached"
    NOT_CONTACTABLE = "not_contactable"


class FeedbackOutcomeIn(Input):
    outcome: FeedbackOutcome


class DisclosureFeedbackRead(Output):
    """A survivor to be told of an approval or a recall: ids and codes only, never what or to whom."""

    id: uuid.UUID
    case_id: uuid.UUID
    person_code: str
    """The person's pseudonym code in the case (never their name)."""
    reason: str
    due_on: date
    state: FeedbackState
    owner: str | None
    """The username of the documenter who is to tell the person (staff, never the survivor); none when the
    case team had no active documenter to give it to."""


class NarrativeWaiting(Output):
    """A statement version whose narrative an export would send at ``deidentified``: ids and the person's
    pseudonym code."""

    interview_id: uuid.UUID
    statement_version_id: uuid.UUID
    statement_version: int
    person_code: str


class NarrativeReview(NarrativeWaiting):
    """The redacted narrative that would leave for it, as a custodian reviews it."""

    redaction_id: uuid.UUID
    redaction_number: int
    text: str | None
    answers: list[RedactedAnswerRecord]


class ExportReviewRead(Output):
    """What an export waiting for a decision would send if built now, for the custodian who decides it."""

    export_id: uuid.UUID
    status: ExportStatus
    purpose: Purpose
    counts: ReviewCounts
    """People per level and people excluded, against the grants as they stand, exact: the custodian who decides
    sees the records anyway."""
    grant_ids: list[str]
    """The use grants the disclosure would rely on (ids only)."""
    narratives: list[NarrativeReview]
    """Each narrative that would leave at ``deidentified``, as its redaction: approving needs your review of each."""
    without_redaction: list[NarrativeWaiting]
    """Statements whose narrative would leave at ``deidentified`` but have no redaction yet: the narrative will
    not leave."""
    review_recorded: bool
    """Whether this reading counts as your review for approval: only in a browser session, never by API token."""


class RedactionNeeded(NarrativeWaiting):
    """An interview whose latest statement version waiting export requests need as a de-identified narrative,
    with no redaction of that version yet: ids and the person's pseudonym code, never content."""

    case_id: uuid.UUID
    export_ids: list[uuid.UUID]
