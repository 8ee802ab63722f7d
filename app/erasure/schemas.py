"""Wire shapes of legal holds and erasure requests: ids, codes, states and times; never a reason read back."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import Input, NonBlank, Output

Reason = Annotated[NonBlank, StringConstraints(strip_whitespace=True, max_length=2000)]
Reference = Annotated[NonBlank, StringConstraints(strip_whitespace=True, max_length=200)]


class LegalHoldIn(Input):
    reason: Reason
    proceedings_reference: Reference
    """The court's or mechanism's reference of the proceedings; sealed, never logged or shown in lists."""


class LiftIn(Input):
    reason: Reason


class DecisionIn(Input):
    """The second custodian's answer to a request another custodian made."""

    confirm: bool


class HoldState(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    LIFTED = "lifted"
    REJECTED = "rejected"
    EXPIRED = "expired"


class LegalHoldRead(Output):
    id: uuid.UUID
    person_id: uuid.UUID
    person_code: str
    """The person's pseudonym code, as custodians name people (never by name)."""
    state: HoldState
    requested_by: uuid.UUID
    requested_at: datetime
    confirmed_by: uuid.UUID | None
    confirmed_at: datetime | None
    lifted_by: uuid.UUID | None
    lifted_at: datetime | None
    confirmation_id: uuid.UUID | None = None
    """The two-person request a second custodian answers (``POST /legal-holds/{id}/decision``), while requested."""


class ErasureIn(Input):
    reason: Reason
    include_linked: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    """Records decided to be the same person (shown as ``linked_records``) to erase with this one."""


class RefuseIn(Input):
    reason: Reason


class ErasureState(StrEnum):
    PENDING = "pending"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    """Pending, and a custodian asked for it to be carried out: a second custodian confirms."""
    ERASED = "erased"
    REFUSED = "refused"
    JOINED = "joined"


class LinkedRecord(Output):
    person_id: uuid.UUID
    code: str


class ErasureRead(Output):
    """An erasure request as custodians see it: ids and codes only."""

    id: uuid.UUID
    person_id: uuid.UUID
    person_code: str
    origin: str
    """``withdrawal`` (the survivor's withdraw_and_erase) or ``custodian``."""
    state: ErasureState
    requested_at: datetime
    asked_by: uuid.UUID | None
    confirmation_id: uuid.UUID | None
    """The open two-person request, while awaiting confirmation."""
    confirmation_expires_at: datetime | None
    linked_records: list[LinkedRecord]
    """Records decided to be the same person: the custodians decide whether the erasure covers them."""
    include_linked: list[uuid.UUID]
    legal_hold: bool
    """A legal hold is on the person (or a linked record to erase): it cannot be carried out."""
    decided_by: uuid.UUID | None
    decided_at: datetime | None
