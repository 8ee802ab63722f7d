"""Wire shapes of the standard consent record (ISO/IEC TS 27560 as W3C DPV maps it) and of the receipt.

docs/consent-record.md maps every field to its 27560 element.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from app.consent.vocabulary import ReceiptOption
from app.core.schemas import Output


class Term(Output):
    """A vocabulary term: our name, and the DPV concept it stands for where DPV has one."""

    term: str
    dpv: str | None


class PrivacyNotice(Output):
    form_id: str
    form_version: str
    language: str
    text_sha256: str
    """The SHA-256 of the text read to the person, pinned when the record was made."""
    form_digest: str


class Party(Output):
    id: str
    name: str | None
    type: Term
    contact: str | None


class RecipientThirdParty(Output):
    recipient_class: Term
    jurisdictions: list[str] | None
    """Only these jurisdictions (for national authorities, the countries allowed); None for any."""


class Processing(Output):
    """One use grant: what may be done, with which data, by whom, until when."""

    grant_id: uuid.UUID
    privacy_notice: PrivacyNotice
    language: str
    purposes: list[Term]
    purpose_type: Term
    pii_information: list[Term]
    pii_controllers: list[str]
    storage_locations: list[Term]
    retention_period: dict[str, str]
    """Per category, as an ISO 8601 duration: the shorter of its own period and the storage retention."""
    jurisdiction: list[str] | None
    recipient_third_parties: list[RecipientThirdParty]
    disclosure_level: Term
    withdrawal_method: str
    lawful_basis: Term
    collection_method: Term
    processing_location: list[Term]
    geographic_restrictions: list[str]
    """Jurisdictions that must never receive anything (the record's restrictions)."""
    expires_at: datetime | None
    status: Term


class Refusal(Output):
    """An explicit no: the purpose, for a recipient class or a registered recipient, of some categories."""

    purposes: list[Term]
    pii_information: list[Term]
    recipient_class: Term | None
    recipient_id: uuid.UUID | None


class PersonalData(Output):
    pii_type: Term
    sensitive: bool
    special_category: bool


class Event(Output):
    event_time: datetime
    validity_duration: str | None
    """ISO 8601 duration until the last grant of the version expires; None while no expiry ends them all."""
    entity_id: str
    """Who made the event: the person (by pseudonym code) or the controller."""
    event_type: str
    event_state: Term
    version_id: uuid.UUID | None
    grant_ids: list[uuid.UUID] | None
    """For a withdrawal of named grants: those grants; None for every grant of the record."""


class Metadata(Output):
    schema_version: str
    record_id: uuid.UUID
    """The consent record: its chain's first version."""
    version_id: uuid.UUID
    receipt_id: uuid.UUID
    pii_principal_id: str
    """The person's pseudonym code, never a name or an internal id."""
    status: Term


class ConsentRecord(Output):
    """GET /api/v1/consents/{id}/record: one version of a consent record, with its chain's events."""

    metadata: Metadata
    processing: list[Processing]
    refusals: list[Refusal]
    restricted_recipients: list[uuid.UUID]
    """Registered recipients that must never receive anything (27560 has no element for them)."""
    personal_data: list[PersonalData]
    parties: list[Party]
    events: list[Event]


class Receipt(Output):
    """GET /api/v1/consents/{id}/receipt: the 27560 receipt fields and what Kantara Consent Receipt v1.1 adds."""

    receipt_id: uuid.UUID
    schema_version: str
    version: str
    """Kantara: the receipt specification version."""
    jurisdiction: str | None
    consent_timestamp: datetime
    collection_method: Term
    consent_receipt_id: uuid.UUID
    public_key: str | None
    language: str
    pii_principal_id: str
    pii_controllers: list[Party]
    policy_url: str | None
    """Kantara: where the notice lives; the notice here is the pinned form text (privacy_notice)."""
    privacy_notice: PrivacyNotice
    services: list[Processing]
    sensitive: bool
    spi_cat: list[Term]
    """Kantara: the sensitive categories the grants cover."""
    receipt_option: ReceiptOption
    """What the person chose to take home: a printed receipt, a card with only the reference code, or nothing."""
    withdrawal_method: str


class ReceiptUse(Output):
    """One use, in the words of the form the person was read."""

    purpose: str
    recipients: str
    jurisdictions: list[str] | None
    categories: list[str]
    level: str
    until: str


class ReceiptRefusal(Output):
    purpose: str
    recipients: str
    categories: list[str]


class ReceiptPage(Output):
    """What the printable receipt shows: the code card shows the code alone."""

    language: str
    kind: Literal["code_card", "printed_receipt"]
    texts: dict[str, str]
    date: str
    uses: list[ReceiptUse]
    taken_back: list[ReceiptUse]
    refusals: list[ReceiptRefusal]
    reference_code: str | None
    """Printed only when the caller sent it (the Reference-Code header) and it is this record's."""
