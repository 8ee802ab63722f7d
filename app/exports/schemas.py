"""Wire shapes of export requests, their approvals and their previews."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self, TypeVar

from pydantic import Field, StringConstraints, model_validator

from app.consent.vocabulary import DataCategory, DisclosureLevel, Purpose
from app.core.schemas import Input, NonBlank, Output
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


SMALL = 5
"""Counts below this (but above zero) are shown as null: a small count can point at a person."""


class PreviewRead(Output):
    people: dict[DisclosureLevel, int | None]
    """People per level they would be disclosed at; null when 1 to 4."""
    excluded: int | None
    """People in scope with nothing they allow to go; null when 1 to 4."""


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
    person_code: str
    """The person's code in that export (the bundle names nothing else of them)."""
    submitted_to_proceedings: bool
    """True: the records are part of a proceeding, and the notice can only ask the recipient to withdraw them."""
    kind: str
    """``demand`` (return or destroy) or ``request`` (submitted to proceedings: we can only ask)."""
    state: RecallState
    raised_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None


class LedgerSubmitted(Output):
    export_id: uuid.UUID
    ledger_id: uuid.UUID
    submitted_to_proceedings: bool


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
