"""Wire shapes for use grants: consent records, amendments, invalidation, withdrawal and reconfirmation."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.consent.schemas import Method, Note, Sha256, TextVariantName, Witness
from app.consent.vocabulary import (
    ConsentStatus,
    DataCategory,
    DisclosureLevel,
    Purpose,
    ReceiptOption,
    RecipientClass,
)
from app.core.schemas import Input, NonBlank, Output
from app.recipients.schemas import Jurisdiction

Retention = Annotated[str, StringConstraints(pattern=r"^P[1-9][0-9]?Y$")]
Restriction = Annotated[str, StringConstraints(max_length=64)]
"""A registered recipient's id, or a jurisdiction (ISO 3166-1 alpha-2 or ``international``); nothing else."""
Reason = Annotated[NonBlank, StringConstraints(max_length=1000)]


class GrantIn(Input):
    """One use grant. In an amendment or a narrowing, ``id`` names the grant of the earlier version it
    continues: an unchanged grant keeps its id, a changed one gets a new id."""

    id: uuid.UUID | None = None
    purpose: Purpose
    recipient_class: RecipientClass
    jurisdictions: Annotated[list[Jurisdiction], Field(min_length=1, max_length=50)] | None = None
    """Only these jurisdictions; required for national_authorities, where each is a country."""
    categories: Annotated[list[DataCategory], Field(min_length=1, max_length=len(DataCategory))]
    disclosure_level: DisclosureLevel
    expires_at: datetime | None = None


class RefusalIn(Input):
    """An explicit no: a purpose, for a recipient class or one registered recipient, of some categories."""

    purpose: Purpose
    categories: Annotated[list[DataCategory], Field(min_length=1, max_length=len(DataCategory))]
    recipient_class: RecipientClass | None = None
    recipient_id: uuid.UUID | None = None


class GrantContents(Input):
    """What a record decides: its grants, refusals, restrictions and retention per category."""

    grants: Annotated[list[GrantIn], Field(max_length=50)] = Field(default_factory=list)
    refusals: Annotated[list[RefusalIn], Field(max_length=50)] = Field(default_factory=list)
    restrictions: Annotated[list[Restriction], Field(max_length=100)] = Field(default_factory=list)
    retention: dict[DataCategory, Retention] = Field(default_factory=dict)
    """Per category, where it differs from the storage retention of participation consent; the shorter wins."""


class UseConsentCreate(GrantContents):
    """A new consent record (or an amendment: a new version of one), pinned to the published form read."""

    form_id: Annotated[str, StringConstraints(max_length=64)]
    form_version: Annotated[str, StringConstraints(max_length=16)]
    language: Annotated[str, StringConstraints(max_length=8)]
    text_variant: TextVariantName = "main"
    text_sha256: Sha256
    method: Method = Method.VERBAL_WITNESSED
    witness: Witness | None = None
    status: Literal[ConsentStatus.GIVEN, ConsentStatus.RENEWED, ConsentStatus.DEFERRED, ConsentStatus.REFUSED] = (
        ConsentStatus.GIVEN
    )
    place: Annotated[str, StringConstraints(max_length=200)] | None = None
    notes: Note | None = None
    receipt: ReceiptOption | None = None
    """What the person takes home: a printed receipt, a card with only the reference code, or nothing. Left
    out, a new record takes the choice made with participation consent (nothing, if none was made) and an
    amendment keeps the version's."""


class GrantRead(Output):
    id: uuid.UUID
    purpose: Purpose
    recipient_class: RecipientClass
    jurisdictions: list[str] | None
    categories: list[DataCategory]
    disclosure_level: DisclosureLevel
    expires_at: datetime | None
    withdrawn: bool
    """A withdrawal covers it: it allows nothing, whatever its version says."""


class RefusalRead(Output):
    purpose: Purpose
    categories: list[DataCategory]
    recipient_class: RecipientClass | None
    recipient_id: uuid.UUID | None


class RestrictionsRead(Output):
    recipient_ids: list[uuid.UUID]
    jurisdictions: list[str]


class InvalidationRead(Output):
    at: datetime
    by: uuid.UUID | None
    reason: str


class InvalidatedRead(Output):
    """What a custodian is told after invalidating: what changed, never what the record says."""

    consent_id: uuid.UUID
    chain_id: uuid.UUID
    invalidated_at: datetime
    invalidated_by: uuid.UUID | None


class WithdrawalMode(StrEnum):
    STOP_FUTURE_USE = "stop_future_use"
    WITHDRAW_AND_ERASE = "withdraw_and_erase"


class ReceivedVia(StrEnum):
    """How the survivor's withdrawal reached us."""

    IN_PERSON = "in_person"
    PHONE = "phone"
    SAFE_CHANNEL_MESSAGE = "safe_channel_message"
    LETTER = "letter"
    REPRESENTATIVE = "representative"


class WithdrawalSummary(Output):
    id: uuid.UUID
    consent_id: uuid.UUID
    scope: Literal["all"] | list[uuid.UUID]
    mode: WithdrawalMode
    received_via: ReceivedVia
    withdrawn_at: datetime
    withdrawn_by: uuid.UUID | None


class UseConsentRead(Output):
    id: uuid.UUID
    person_id: uuid.UUID
    chain_id: uuid.UUID
    version: int
    amends: uuid.UUID | None
    superseded_by: uuid.UUID | None
    """Set once a later version supersedes this one; the history stays readable."""
    state: Literal["current", "superseded", "invalid"]
    status: ConsentStatus
    form_id: str
    form_version: str
    language: str
    text_sha256: str
    method: Method
    witness: Witness | None
    obtained_by: uuid.UUID | None
    obtained_at: datetime
    recorded_at: datetime
    interview_id: uuid.UUID | None
    grants: list[GrantRead]
    refusals: list[RefusalRead]
    restrictions: RestrictionsRead
    retention: dict[DataCategory, str]
    effective_retention: dict[DataCategory, str]
    """Per category listed, the shorter of its own period and the storage retention of participation consent."""
    place: str | None
    notes: str | None
    invalidation: InvalidationRead | None
    withdrawals: list[WithdrawalSummary]
    receipt: ReceiptOption
    reference_code: str | None = None
    """Only in the answer that records a new record: the reference code the person keeps (on their card or
    receipt, or told aloud). It is stored only as a keyed hash and can never be shown again."""


class InvalidateIn(Input):
    reason: Reason


class WithdrawIn(Input):
    scope: Literal["all"] | Annotated[list[uuid.UUID], Field(min_length=1, max_length=50)]
    mode: WithdrawalMode
    reason: Reason | None = None
    received_via: ReceivedVia


class LinkedConsent(Output):
    """A current use-consent record of someone decided to be the same person: where to withdraw there too."""

    person_id: uuid.UUID
    consent_id: uuid.UUID
    """The record's current version: ``POST /api/v1/consents/{consent_id}/withdraw`` withdraws it."""


class WithdrawalRead(WithdrawalSummary):
    person_id: uuid.UUID
    erasure_request_id: uuid.UUID | None
    """A withdraw_and_erase withdrawal files a pending erasure request, which the erasure work carries out."""
    limits: str
    """What withdrawal cannot undo, as the consent form explained it (docs/api.md)."""
    linked_records: list[uuid.UUID]
    """For a custodian: other records decided to be the same person. The withdrawal does not cover them;
    the custodian decides whether it applies to them too. Empty for everyone else."""
    linked_consents: list[LinkedConsent]
    """For a custodian: the current records of those people (ids only, never what they say), so the
    withdrawal can be taken there too. Empty for everyone else."""


class LookupIn(Input):
    """What the survivor holds: their reference code (or, for a documenter on their case team, their
    pseudonym code) and, always, the withdrawal code word they chose. Never put either in a URL."""

    reference: Annotated[str, StringConstraints(max_length=40)] | None = None
    person_code: Annotated[str, StringConstraints(max_length=16)] | None = None
    code_word: Annotated[NonBlank, StringConstraints(max_length=60)]
    """Required: a reference code alone finds nothing."""


class LookupMatch(Output):
    consent_id: uuid.UUID
    """The record (its chain's first version): withdraw or read it by this id."""
    current_version_id: uuid.UUID
    state: Literal["current", "withdrawn", "invalid"]


class LookupRead(Output):
    person_id: uuid.UUID
    person_code: str
    consents: list[LookupMatch]
    reminder: str
    """Call back on the safe channel before acting: finding a record does not prove who is calling."""
