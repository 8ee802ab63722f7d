"""The standard consent record: a use-consent version in the structure of ISO/IEC TS 27560, as W3C DPV maps
it (docs/consent-record.md maps every field to its element), and the survivor's receipt built from it.

DPV terms stand for purposes, statuses, categories and parties where DPV has a concept that means the same;
elsewhere the term is our vocabulary's name and ``dpv`` is None. Nothing here says what the person told us:
the record holds their decisions, never their words, names or contact, and the pseudonym code stands for
them. Withdrawal and invalidation reasons never appear.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.consent import grants
from app.consent.grant_models import UseConsent
from app.consent.grant_schemas import GrantRead, UseConsentRead
from app.consent.record_schemas import (
    ConsentRecord,
    Event,
    Metadata,
    Party,
    PersonalData,
    PrivacyNotice,
    Processing,
    Receipt,
    RecipientThirdParty,
    Refusal,
    Term,
)
from app.consent.vocabulary import ConsentStatus, DataCategory, Purpose, RecipientClass
from app.core.db import db_now
from app.people.models import Person

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.consent.forms import ConsentForm
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

SCHEMA_VERSION = "ISO/IEC TS 27560:2023 as mapped by W3C DPV 2.0; testimony-vault consent record 1"
DPV = "https://w3id.org/dpv#"
PD = "https://w3id.org/dpv/pd#"

PURPOSES: dict[Purpose, str] = {
    Purpose.SERVICE_REFERRAL: DPV + "ServiceProvision",
    Purpose.RESEARCH: DPV + "ResearchAndDevelopment",
    Purpose.FOLLOW_UP: DPV + "CommunicationManagement",
}
"""Only where DPV has a purpose that means the same; courts, UN procedures, advocacy and memory have none."""

PURPOSE_TYPES: dict[Purpose, str] = {
    Purpose.CRIMINAL_INVESTIGATION: "legal_proceedings",
    Purpose.INTERSTATE_LITIGATION: "legal_proceedings",
    Purpose.VICTIM_PARTICIPATION_REPARATIONS: "legal_proceedings",
    Purpose.UN_FACT_FINDING: "un_procedures",
    Purpose.UN_COMMUNICATION: "un_procedures",
    Purpose.SERVICE_REFERRAL: "services_to_the_person",
    Purpose.FOLLOW_UP: "services_to_the_person",
    Purpose.ADVOCACY_AGGREGATE: "advocacy_and_media",
    Purpose.ADVOCACY_STORY: "advocacy_and_media",
    Purpose.MEDIA: "advocacy_and_media",
    Purpose.RESEARCH: "research_and_memory",
    Purpose.ARCHIVE_MEMORY: "research_and_memory",
}

CATEGORIES: dict[DataCategory, str] = {
    DataCategory.IDENTITY: PD + "Identifying",
    DataCategory.CONTACT: PD + "Contact",
    DataCategory.DEMOGRAPHICS: PD + "Demographic",
    DataCategory.CURRENT_LOCATION: PD + "Location",
    DataCategory.HEALTH: PD + "Health",
    DataCategory.IDENTITY_DOCUMENTS: PD + "OfficialID",
}
SPECIAL_CATEGORIES = frozenset({DataCategory.HEALTH, DataCategory.NARRATIVE_SEXUAL_VIOLENCE})
NOT_SENSITIVE = frozenset({DataCategory.INTERVIEW_METADATA})
"""Everything else a survivor of mass atrocities tells us is sensitive."""

RECIPIENTS: dict[RecipientClass, str] = {
    RecipientClass.CASE_TEAM: DPV + "DataController",
    RecipientClass.OUR_LEGAL_TEAM: DPV + "DataController",
    RecipientClass.NATIONAL_AUTHORITIES: DPV + "NationalAuthority",
}
THIRD_PARTY = DPV + "ThirdParty"

LAWFUL_BASIS = Term(term="consent", dpv=DPV + "Consent")
STORAGE = Term(term="service_storage_encrypted_at_rest", dpv=None)
CONTROLLER_ID = "controller"
WITHDRAWAL_METHOD = (
    "Tell us, in person, by phone, on your safe channel, by letter or through a representative, with your "
    "reference code and your code word; it takes effect at once. It cannot call back what was already shared."
)


def status_term(status: ConsentStatus) -> Term:
    return Term(term=status.value, dpv=status.dpv_iri)


def category_term(category: DataCategory | str) -> Term:
    c = DataCategory(category)
    return Term(term=c.value, dpv=CATEGORIES.get(c))


def purpose_term(purpose: Purpose | str) -> Term:
    p = Purpose(purpose)
    return Term(term=p.value, dpv=PURPOSES.get(p))


def recipient_term(recipient_class: RecipientClass | str) -> Term:
    r = RecipientClass(recipient_class)
    return Term(term=r.value, dpv=RECIPIENTS.get(r, THIRD_PARTY))


@dataclass(frozen=True)
class Opened:
    """What a record and a receipt are built from: the version read as the API reads it, and its person."""

    row: UseConsent
    read: UseConsentRead
    person: Person
    chain: grants.ChainState
    versions: dict[uuid.UUID, dict[str, Any]]
    storage: str | None
    now: datetime


def open_version(session: Session, runtime: Runtime, person: Person, row: UseConsent) -> Opened:
    chain = grants.chain_of(session, row.chain_id)
    storage = grants.storage_retention(session, runtime, person)
    return open_in_chain(session, runtime, person, row, chain, storage, db_now(session))


def open_in_chain(
    session: Session,
    runtime: Runtime,
    person: Person,
    row: UseConsent,
    chain: grants.ChainState,
    storage: str | None,
    now: datetime,
) -> Opened:
    """``open_version`` from its chain and the person's storage retention, read by the caller (for many
    people at once: ``app.consent.record_pages``); each version's details are opened once."""
    versions = {v.id: grants.details_of(session, runtime, person, v) for v in chain.versions}
    return Opened(
        row=row,
        read=grants.read_in_chain(session, runtime, person, row, versions[row.id], chain, storage),
        person=person,
        chain=chain,
        versions=versions,
        storage=storage,
        now=now,
    )


def overall_status(o: Opened) -> ConsentStatus:
    if o.read.invalidation is not None or o.chain.invalidations:
        return ConsentStatus.INVALIDATED
    if any(w.scope == "all" for w in o.read.withdrawals):
        return ConsentStatus.WITHDRAWN
    return o.read.status


def _grant_status(o: Opened, grant: GrantRead) -> ConsentStatus:
    overall = overall_status(o)
    if overall in (ConsentStatus.INVALIDATED, ConsentStatus.WITHDRAWN):
        return overall
    if grant.withdrawn:
        return ConsentStatus.WITHDRAWN
    if grant.expires_at is not None and o.now >= grant.expires_at:
        return ConsentStatus.EXPIRED
    return o.read.status


def notice(row: UseConsent) -> PrivacyNotice:
    return PrivacyNotice(
        form_id=row.form_id,
        form_version=row.form_version,
        language=row.language,
        text_sha256=row.text_sha256,
        form_digest=row.form_digest,
    )


def _retention(o: Opened, categories: list[DataCategory]) -> dict[str, str]:
    periods: dict[str, str] = {}
    for c in categories:
        period = o.read.effective_retention.get(c) or o.storage
        if period is not None:
            periods[c.value] = period
    return periods


def processing(o: Opened) -> list[Processing]:
    restricted = sorted(o.read.restrictions.jurisdictions)
    return [
        Processing(
            grant_id=g.id,
            privacy_notice=notice(o.row),
            language=o.row.language,
            purposes=[purpose_term(g.purpose)],
            purpose_type=Term(term=PURPOSE_TYPES[g.purpose], dpv=None),
            pii_information=[category_term(c) for c in g.categories],
            pii_controllers=[CONTROLLER_ID],
            storage_locations=[STORAGE],
            retention_period=_retention(o, g.categories),
            jurisdiction=g.jurisdictions,
            recipient_third_parties=[
                RecipientThirdParty(recipient_class=recipient_term(g.recipient_class), jurisdictions=g.jurisdictions)
            ],
            disclosure_level=Term(term=g.disclosure_level.value, dpv=None),
            withdrawal_method=WITHDRAWAL_METHOD,
            lawful_basis=LAWFUL_BASIS,
            collection_method=Term(term=o.row.method, dpv=None),
            processing_location=[STORAGE],
            geographic_restrictions=restricted,
            expires_at=g.expires_at,
            status=status_term(_grant_status(o, g)),
        )
        for g in o.read.grants
    ]


def parties(o: Opened, form: ConsentForm | None) -> list[Party]:
    name = None if form is None else form.organisation.get(o.row.language) or form.organisation.get("en")
    return [
        Party(
            id=o.person.code,
            name=None,
            type=Term(term="pii_principal", dpv=DPV + "DataSubject"),
            contact=None,
        ),
        Party(
            id=CONTROLLER_ID,
            name=name,
            type=Term(term="pii_controller", dpv=DPV + "DataController"),
            contact=None if form is None else form.complaints_email,
        ),
    ]


def personal_data(o: Opened) -> list[PersonalData]:
    covered = sorted(
        {c for g in o.read.grants for c in g.categories} | {c for r in o.read.refusals for c in r.categories}
    )
    return [
        PersonalData(
            pii_type=category_term(c), sensitive=c not in NOT_SENSITIVE, special_category=c in SPECIAL_CATEGORIES
        )
        for c in covered
    ]


def _validity(at: datetime, details: dict[str, Any]) -> str | None:
    ends = [g["expires_at"] for g in details["grants"]]
    if not ends or any(e is None for e in ends):
        return None
    seconds = max(0, int((max(datetime.fromisoformat(e) for e in ends) - at).total_seconds()))
    return f"PT{seconds}S"


def events(o: Opened) -> list[Event]:
    """Given, each amendment (amended, or narrowed at the end of an interview), each withdrawal and the
    invalidation, in time order."""
    found: list[tuple[datetime, int, Event]] = []
    for v in o.chain.versions:
        kind = (
            ("given" if v.status == ConsentStatus.GIVEN else v.status)
            if v.version == 1
            else ("narrowed" if v.interview_id is not None else "amended")
        )
        found.append(
            (
                v.obtained_at,
                0,
                Event(
                    event_time=v.obtained_at,
                    validity_duration=_validity(v.obtained_at, o.versions[v.id]),
                    entity_id=o.person.code,
                    event_type=kind,
                    event_state=status_term(ConsentStatus(v.status)),
                    version_id=v.id,
                    grant_ids=None,
                ),
            )
        )
    for w in o.read.withdrawals:
        found.append(
            (
                w.withdrawn_at,
                1,
                Event(
                    event_time=w.withdrawn_at,
                    validity_duration=None,
                    entity_id=o.person.code,
                    event_type="withdrawn",
                    event_state=status_term(ConsentStatus.WITHDRAWN),
                    version_id=w.consent_id,
                    grant_ids=None if w.scope == "all" else list(w.scope),
                ),
            )
        )
    for i in o.chain.invalidations:
        found.append(
            (
                i.invalidated_at,
                2,
                Event(
                    event_time=i.invalidated_at,
                    validity_duration=None,
                    entity_id=CONTROLLER_ID,
                    event_type="invalidated",
                    event_state=status_term(ConsentStatus.INVALIDATED),
                    version_id=i.consent_id,
                    grant_ids=None,
                ),
            )
        )
    return [e for _, _, e in sorted(found, key=lambda f: (f[0], f[1]))]


def refusals(o: Opened) -> list[Refusal]:
    return [
        Refusal(
            purposes=[purpose_term(r.purpose)],
            pii_information=[category_term(c) for c in r.categories],
            recipient_class=None if r.recipient_class is None else recipient_term(r.recipient_class),
            recipient_id=r.recipient_id,
        )
        for r in o.read.refusals
    ]


def build(o: Opened, form: ConsentForm | None) -> ConsentRecord:
    return ConsentRecord(
        metadata=Metadata(
            schema_version=SCHEMA_VERSION,
            record_id=o.row.chain_id,
            version_id=o.row.id,
            receipt_id=o.row.id,
            pii_principal_id=o.person.code,
            status=status_term(overall_status(o)),
        ),
        processing=processing(o),
        refusals=refusals(o),
        restricted_recipients=sorted(o.read.restrictions.recipient_ids),
        personal_data=personal_data(o),
        parties=parties(o, form),
        events=events(o),
    )


KANTARA_VERSION = "KI-CR-v1.1.0"


def receipt(o: Opened, form: ConsentForm | None) -> Receipt:
    """The 27560 receipt fields, and what Kantara Consent Receipt v1.1 adds to them."""
    granted = sorted({c for g in o.read.grants for c in g.categories})
    sensitive = [c for c in granted if c not in NOT_SENSITIVE]
    return Receipt(
        receipt_id=o.row.id,
        schema_version=SCHEMA_VERSION,
        version=KANTARA_VERSION,
        jurisdiction=None,
        consent_timestamp=o.row.obtained_at,
        collection_method=Term(term=o.row.method, dpv=None),
        consent_receipt_id=o.row.id,
        public_key=None,
        language=o.row.language,
        pii_principal_id=o.person.code,
        pii_controllers=[p for p in parties(o, form) if p.id == CONTROLLER_ID],
        policy_url=None,
        privacy_notice=notice(o.row),
        services=processing(o),
        sensitive=bool(sensitive),
        spi_cat=[category_term(c) for c in sensitive],
        receipt_option=o.read.receipt,
        withdrawal_method=WITHDRAWAL_METHOD,
    )
