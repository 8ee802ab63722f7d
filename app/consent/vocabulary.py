"""The closed consent vocabulary (docs/architecture.md): every term a form version may declare.

Each version declares the terms it uses; a term added here never stops an earlier version from loading.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Purpose(StrEnum):
    """What a use grant allows the data to be used for."""

    CRIMINAL_INVESTIGATION = "criminal_investigation"
    INTERSTATE_LITIGATION = "interstate_litigation"
    UN_FACT_FINDING = "un_fact_finding"
    UN_COMMUNICATION = "un_communication"
    VICTIM_PARTICIPATION_REPARATIONS = "victim_participation_reparations"
    SERVICE_REFERRAL = "service_referral"
    ADVOCACY_AGGREGATE = "advocacy_aggregate"
    ADVOCACY_STORY = "advocacy_story"
    MEDIA = "media"
    RESEARCH = "research"
    ARCHIVE_MEMORY = "archive_memory"
    FOLLOW_UP = "follow_up"


class RecipientClass(StrEnum):
    """The kind of registered recipient a grant names; recipients themselves come from the registry."""

    CASE_TEAM = "case_team"
    OUR_LEGAL_TEAM = "our_legal_team"
    INTL_CRIMINAL_INVESTIGATORS = "intl_criminal_investigators"
    INTERSTATE_COURTS = "interstate_courts"
    UN_INVESTIGATIVE_BODIES = "un_investigative_bodies"
    UN_COMMUNICATIONS_PROCEDURES = "un_communications_procedures"
    NATIONAL_AUTHORITIES = "national_authorities"
    VICTIMS_LAWYER = "victims_lawyer"
    SERVICE_PROVIDERS = "service_providers"
    DOCUMENTATION_PARTNERS = "documentation_partners"
    RESEARCHERS = "researchers"
    JOURNALISTS = "journalists"
    PUBLIC = "public"


class DataCategory(StrEnum):
    """Every exportable field maps to exactly one of these; there is deliberately no ethnicity category."""

    IDENTITY = "identity"
    CONTACT = "contact"
    DEMOGRAPHICS = "demographics"
    ORIGIN_PLACE = "origin_place"
    CURRENT_LOCATION = "current_location"
    NARRATIVE_GENERAL = "narrative_general"
    NARRATIVE_SEXUAL_VIOLENCE = "narrative_sexual_violence"
    DETENTION_OR_SERVICE = "detention_or_service"
    HEALTH = "health"
    THIRD_PARTY_INFO = "third_party_info"
    ALLEGED_PERPETRATORS = "alleged_perpetrators"
    INTERVIEW_METADATA = "interview_metadata"
    AUDIO_RECORDING = "audio_recording"
    VIDEO_RECORDING = "video_recording"
    PHOTOS_OF_PERSON = "photos_of_person"
    PHOTOS_OTHER = "photos_other"
    IDENTITY_DOCUMENTS = "identity_documents"
    EVIDENTIARY_DOCUMENTS = "evidentiary_documents"


class DisclosureLevel(StrEnum):
    """How much of the person's identity a recipient may see."""

    NAMED_PUBLIC = "named_public"
    NAMED_PROTECTED = "named_protected"
    PSEUDONYMOUS = "pseudonymous"
    DEIDENTIFIED = "deidentified"
    AGGREGATE_ONLY = "aggregate_only"


class ConsentStatus(StrEnum):
    """Consent statuses, named after the W3C Data Privacy Vocabulary (DPV) concepts."""

    REQUESTED = "requested"
    DEFERRED = "deferred"
    GIVEN = "given"
    RENEWED = "renewed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"
    UNKNOWN = "unknown"

    @property
    def dpv_iri(self) -> str:
        """The DPV concept this status stands for, for receipts other tools can read."""
        return _DPV + _DPV_NAMES[self]

    @property
    def valid_for_processing(self) -> bool:
        """True only where DPV files the status under ConsentStatusValidForProcessing."""
        return self in (ConsentStatus.GIVEN, ConsentStatus.RENEWED)


_DPV = "https://w3id.org/dpv#"
# DPV's names are not a mechanical transform of ours ("deferred" is a deferred *request*).
_DPV_NAMES: dict[ConsentStatus, str] = {
    ConsentStatus.REQUESTED: "ConsentRequested",
    ConsentStatus.DEFERRED: "ConsentRequestDeferred",
    ConsentStatus.GIVEN: "ConsentGiven",
    ConsentStatus.RENEWED: "RenewedConsentGiven",
    ConsentStatus.REFUSED: "ConsentRefused",
    ConsentStatus.WITHDRAWN: "ConsentWithdrawn",
    ConsentStatus.EXPIRED: "ConsentExpired",
    ConsentStatus.INVALIDATED: "ConsentInvalidated",
    ConsentStatus.UNKNOWN: "ConsentUnknown",
}


class ParticipationDecision(StrEnum):
    """The separate decisions recorded before anything about the person is stored."""

    INTERVIEW_NOW = "interview_now"
    NOTES = "notes"
    AUDIO_RECORDING = "audio_recording"
    VIDEO_RECORDING = "video_recording"
    PHOTOS = "photos"
    STORAGE = "storage"
    REFERRAL = "referral"
    RE_CONTACT = "re_contact"


class TeachBackQuestion(StrEnum):
    """The key points the person explains back in their own words."""

    VOLUNTARINESS = "voluntariness"
    RECORDING = "recording"
    COURTS_AND_DEFENCE = "courts_and_defence"
    RISKS = "risks"
    WITHDRAWAL_LIMITS = "withdrawal_limits"
    RE_CONTACT = "re_contact"


class ReceiptOption(StrEnum):
    """What the person takes home; a printed list of choices can endanger them if found."""

    PRINTED_RECEIPT = "printed_receipt"
    CODE_CARD = "code_card"
    NO_RECEIPT = "no_receipt"


class FormSection(StrEnum):
    """The sections every consent text covers, in the order they must be read."""

    WHO_WE_ARE = "who_we_are"
    VOLUNTARY = "voluntary"
    WHAT_WE_ASK = "what_we_ask"
    RECORDING = "recording"
    INTERPRETER = "interpreter"
    USES = "uses"
    COURTS = "courts"
    RISKS = "risks"
    STORAGE = "storage"
    WITHDRAWAL = "withdrawal"
    RE_CONTACT = "re_contact"
    FEEDBACK = "feedback"
    RECEIPT = "receipt"
    COMPLAINTS = "complaints"


DISCLOSURE_MOST_PROTECTIVE_FIRST: tuple[DisclosureLevel, ...] = (
    DisclosureLevel.AGGREGATE_ONLY,
    DisclosureLevel.DEIDENTIFIED,
    DisclosureLevel.PSEUDONYMOUS,
    DisclosureLevel.NAMED_PROTECTED,
    DisclosureLevel.NAMED_PUBLIC,
)
_PROTECTION_RANK = {level: rank for rank, level in enumerate(DISCLOSURE_MOST_PROTECTIVE_FIRST)}


def is_more_protective(a: DisclosureLevel, b: DisclosureLevel) -> bool:
    """True when level a reveals strictly less about the person than level b."""
    return _PROTECTION_RANK[a] < _PROTECTION_RANK[b]


def most_protective(levels: Iterable[DisclosureLevel]) -> DisclosureLevel:
    """The most protective of the given levels; ValueError when there are none."""
    chosen = min(levels, key=_PROTECTION_RANK.__getitem__, default=None)
    if chosen is None:
        raise ValueError("no disclosure levels to choose from")
    return chosen
