"""Use grants: consent records, recorded, read, amended (a new version) and invalidated; never changed.

Every write holds the person's row first (app/people/records.py hold), so of two amendments of one version
made at once the second waits, then finds the version superseded (409); the unique ``amends`` column backs
this up. Contents are sealed under the person's data key, bound to the clear columns that decide access.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import changes, checks, grant_checks, reference
from app.consent import service as participation
from app.consent.grant_models import (
    ERASURE_PENDING,
    ConsentInvalidation,
    ConsentWithdrawal,
    ErasureRequest,
    UseConsent,
)
from app.consent.grant_schemas import (
    GrantContents,
    GrantRead,
    InvalidatedRead,
    InvalidateIn,
    InvalidationRead,
    RefusalRead,
    RestrictionsRead,
    UseConsentCreate,
    UseConsentRead,
    WithdrawalSummary,
)
from app.consent.schemas import Method, Witness
from app.consent.vocabulary import ConsentStatus, DataCategory, ParticipationDecision, ReceiptOption
from app.core.db import db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.keys.sealed import Place, open_json, seal_json
from app.people.models import Person
from app.people.records import hold_to_write, lock_wait, person_row, person_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "use_consents"


def place(person: Person, row: UseConsent) -> Place:
    """The contents are bound to the person's case and to the version's place in its chain, its status and
    when it was obtained: editing any of them in the database makes the contents fail to open."""
    binding = {
        "amends": row.amends.hex if row.amends else "",
        "case": person.case_id.hex,
        "chain": row.chain_id.hex,
        "interview": row.interview_id.hex if row.interview_id else "",
        "obtained_at": _instant(row.obtained_at),
        "status": row.status,
        "version": str(row.version),
    }
    return Place(TABLE, "details", row.id, person.id, binding)


def withdrawal_place(person: Person, row: ConsentWithdrawal) -> Place:
    binding = {"case": person.case_id.hex, "consent": row.consent_id.hex, "mode": row.mode}
    return Place("consent_withdrawals", "details", row.id, person.id, binding)


def invalidation_place(person: Person, row: ConsentInvalidation) -> Place:
    return Place("consent_invalidations", "details", row.id, person.id, {"consent": row.consent_id.hex})


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def details_of(session: Session, runtime: Runtime, person: Person, row: UseConsent) -> dict[str, Any]:
    details: dict[str, Any] = open_json(session, runtime.keys, place(person, row), row.details)
    return details


def withdrawal_details(session: Session, runtime: Runtime, person: Person, row: ConsentWithdrawal) -> dict[str, Any]:
    details: dict[str, Any] = open_json(session, runtime.keys, withdrawal_place(person, row), row.details)
    return details


# Recording --------------------------------------------------------------------------------------------


def record_consent(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, data: UseConsentCreate
) -> UseConsentRead:
    person = person_to_write(session, principal, policy.Action.CONSENT_RECORD, person_id)
    recorded = record_for(session, runtime, principal, person, data)
    audit.touch(session, resource_id=recorded.row.id)
    read = read_of(session, runtime, person, recorded.row)
    return read.model_copy(update={"reference_code": recorded.reference_code})


@dataclass(frozen=True)
class Recorded:
    """A new record, and its reference code: told to the person now, and never again."""

    row: UseConsent
    reference_code: str


def record_for(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    person: Person,
    data: UseConsentCreate,
    interview_id: uuid.UUID | None = None,
) -> Recorded:
    """A new record (the first version of a new chain) with a new reference code, for an authorised caller."""
    opened = _require_participation(session, runtime, person)
    form = checks.form_of(runtime.forms, data)
    _witnessed(data)
    now = db_now(session)
    decided = grant_checks.check(session, form, data, now)
    receipt = data.receipt or _receipt_chosen(opened.details)
    code = reference.new_code()
    digest = reference.code_hash(runtime, reference.normalise(code) or "")
    row = _insert(
        session,
        runtime,
        principal,
        person,
        data,
        form.digest,
        decided,
        now,
        new_id(),
        None,
        1,
        interview_id,
        receipt,
        digest,
    )
    return Recorded(row, code)


def _receipt_chosen(participation_details: dict[str, Any]) -> ReceiptOption:
    """What the person chose to take home when they agreed to take part; nothing when they did not say."""
    chosen = participation_details.get("receipt")
    return ReceiptOption(chosen) if chosen else ReceiptOption.NO_RECEIPT


def receipt_of(details: dict[str, Any]) -> ReceiptOption:
    """A version's receipt choice (a version recorded before it was kept: no receipt, the safe reading)."""
    return ReceiptOption(details.get("receipt") or ReceiptOption.NO_RECEIPT)


def _require_participation(session: Session, runtime: Runtime, person: Person) -> participation.Opened:
    # Grants are stored about the person, so only while their participation consent agrees to storage;
    # this also holds the person's row until the transaction ends.
    opened = participation.require(
        session, runtime, person, ParticipationDecision.STORAGE, doing="recording use grants"
    )
    # The person asked to be erased: nothing new is recorded about their use consent until that is decided.
    pending = select(ErasureRequest.id).where(
        ErasureRequest.person_id == person.id, ErasureRequest.state == ERASURE_PENDING
    )
    if session.scalar(pending) is not None:
        raise Conflict(
            "the person asked to be erased; no use grants are recorded while that request is pending",
            fields=["person_id"],
            code="erasure_pending",
        )
    return opened


def _witnessed(data: UseConsentCreate) -> None:
    if data.method is Method.VERBAL_WITNESSED and data.witness is None:
        raise ValidationFailed("verbal consent needs a witness", fields=["witness"])


def _insert(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    person: Person,
    data: UseConsentCreate,
    form_digest: str,
    decided: grant_checks.Checked,
    now: datetime,
    chain_id: uuid.UUID,
    amends: UseConsent | None,
    version: int,
    interview_id: uuid.UUID | None,
    receipt: ReceiptOption,
    reference_hash: str | None = None,
) -> UseConsent:
    row = UseConsent(
        id=chain_id if amends is None else new_id(),
        person_id=person.id,
        case_id=person.case_id,
        chain_id=chain_id,
        version=version,
        amends=None if amends is None else amends.id,
        status=ConsentStatus(data.status).value,
        form_id=data.form_id,
        form_version=data.form_version,
        language=data.language,
        text_sha256=data.text_sha256,
        form_digest=form_digest,
        method=data.method.value,
        obtained_by=principal.user_id,
        obtained_at=now,
        recorded_at=now,
        interview_id=interview_id,
        details=b"",
        reference_hash=reference_hash,
    )
    details = {
        **decided.as_json(),
        "text_variant": data.text_variant,
        "witness": None if data.witness is None else data.witness.model_dump(mode="json"),
        "place": data.place,
        "notes": data.notes,
        "receipt": receipt.value,
    }
    row.details = seal_json(session, runtime.keys, place(person, row), details)
    session.add(row)
    session.flush()
    return row


# Reading ----------------------------------------------------------------------------------------------


def read_consent(session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID) -> UseConsentRead:
    row = policy.load(session, principal, policy.Action.CONSENT_READ, UseConsent, consent_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    return read_of(session, runtime, _person(session, row), row)


def list_consents(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[UseConsentRead]:
    """Every version of every use-consent record of the person, oldest first, superseded ones included."""
    person = person_row(session, principal, policy.Action.CONSENT_READ, person_id)
    audit.touch(session, resource_id=person.id)
    stmt = policy.scope(
        principal,
        policy.Action.CONSENT_READ,
        select(UseConsent).where(UseConsent.person_id == person.id),
        UseConsent.case_id,
    )
    rows, cursor = keyset(session, stmt, UseConsent.id, page, uuid.UUID, lambda r: r.id)
    return Page[UseConsentRead](items=[read_of(session, runtime, person, r) for r in rows], next_cursor=cursor)


def _person(session: Session, row: UseConsent) -> Person:
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    return person


@dataclass(frozen=True)
class ChainState:
    """What has happened to a chain of versions: its versions, withdrawals and invalidations."""

    versions: list[UseConsent]
    withdrawals: list[ConsentWithdrawal]
    invalidations: list[ConsentInvalidation]

    @property
    def ids(self) -> set[uuid.UUID]:
        return {v.id for v in self.versions}

    def successor(self, row: UseConsent) -> UseConsent | None:
        return next((v for v in self.versions if v.amends == row.id), None)


def chain_of(session: Session, chain_id: uuid.UUID) -> ChainState:
    versions = list(
        session.scalars(select(UseConsent).where(UseConsent.chain_id == chain_id).order_by(UseConsent.version))
    )
    ids = [v.id for v in versions]
    withdrawals = list(
        session.scalars(
            select(ConsentWithdrawal).where(ConsentWithdrawal.consent_id.in_(ids)).order_by(ConsentWithdrawal.id)
        )
    )
    invalidations = list(session.scalars(select(ConsentInvalidation).where(ConsentInvalidation.consent_id.in_(ids))))
    return ChainState(versions, withdrawals, invalidations)


def withdrawn_grants(
    session: Session, runtime: Runtime, person: Person, chain: ChainState
) -> tuple[bool, set[str], list[WithdrawalSummary]]:
    """Whether the whole chain is withdrawn, the grant ids withdrawn by name, and the withdrawals."""
    whole = False
    named: set[str] = set()
    summaries = []
    for w in chain.withdrawals:
        scope = withdrawal_details(session, runtime, person, w)["scope"]
        if scope == "all":
            whole = True
        else:
            named |= set(scope)
        summaries.append(
            WithdrawalSummary(
                id=w.id,
                consent_id=w.consent_id,
                scope=scope,
                mode=w.mode,
                received_via=w.received_via,
                withdrawn_at=w.withdrawn_at,
                withdrawn_by=w.withdrawn_by,
            )
        )
    return whole, named, summaries


def read_of(session: Session, runtime: Runtime, person: Person, row: UseConsent) -> UseConsentRead:
    details = details_of(session, runtime, person, row)
    chain = chain_of(session, row.chain_id)
    return read_in_chain(session, runtime, person, row, details, chain, storage_retention(session, runtime, person))


def read_in_chain(
    session: Session,
    runtime: Runtime,
    person: Person,
    row: UseConsent,
    details: dict[str, Any],
    chain: ChainState,
    storage: str | None,
) -> UseConsentRead:
    """``read_of`` from what its caller already read: the version's opened details, its chain and the
    person's storage retention (``app.consent.record_pages`` reads them for many people at once)."""
    whole, named, withdrawals = withdrawn_grants(session, runtime, person, chain)
    invalidation = next((i for i in chain.invalidations if i.consent_id == row.id), None)
    successor = chain.successor(row)
    retention: dict[str, str] = details["retention"]
    effective = {c: grant_checks.shorter(p, storage) or p for c, p in retention.items()}
    return UseConsentRead(
        id=row.id,
        person_id=row.person_id,
        chain_id=row.chain_id,
        version=row.version,
        amends=row.amends,
        superseded_by=None if successor is None else successor.id,
        state="invalid" if chain.invalidations else "superseded" if successor is not None else "current",
        status=ConsentStatus(row.status),
        form_id=row.form_id,
        form_version=row.form_version,
        language=row.language,
        text_sha256=row.text_sha256,
        method=Method(row.method),
        witness=None if details["witness"] is None else Witness.model_validate(details["witness"]),
        obtained_by=row.obtained_by,
        obtained_at=row.obtained_at,
        recorded_at=row.recorded_at,
        interview_id=row.interview_id,
        grants=[GrantRead.model_validate({**g, "withdrawn": whole or g["id"] in named}) for g in details["grants"]],
        refusals=[RefusalRead.model_validate(r) for r in details["refusals"]],
        restrictions=RestrictionsRead.model_validate(details["restrictions"]),
        retention={DataCategory(c): p for c, p in retention.items()},
        effective_retention={DataCategory(c): p for c, p in effective.items()},
        place=details["place"],
        notes=details["notes"],
        invalidation=None if invalidation is None else _invalidation(session, runtime, person, invalidation),
        withdrawals=withdrawals,
        receipt=receipt_of(details),
    )


def _invalidation(session: Session, runtime: Runtime, person: Person, row: ConsentInvalidation) -> InvalidationRead:
    details = open_json(session, runtime.keys, invalidation_place(person, row), row.details)
    return InvalidationRead(at=row.invalidated_at, by=row.invalidated_by, reason=details["reason"])


def storage_retention(session: Session, runtime: Runtime, person: Person) -> str | None:
    opened = participation.latest_opened(session, runtime, person)
    return None if opened is None else opened.details.get("retention")


# Amending, narrowing and invalidating -------------------------------------------------------------------


def _amendable(session: Session, runtime: Runtime, person: Person, row: UseConsent) -> dict[str, dict[str, Any]]:
    """The version may be amended: it is the chain's latest, the chain is not invalid or withdrawn whole.
    Read after the person's row is held, so an amendment or withdrawal made meanwhile is seen. Answers the
    chain's grants withdrawn by name, by id, which a new version may neither continue nor give again."""
    chain = chain_of(session, row.chain_id)
    if chain.successor(row) is not None:
        raise Conflict(
            "this version is superseded; amend the chain's latest version", fields=["consent_id"], code="superseded"
        )
    if chain.invalidations:
        raise Conflict("this record was found invalid; record a new one", fields=["consent_id"], code="invalidated")
    whole, named, _ = withdrawn_grants(session, runtime, person, chain)
    if whole:
        raise Conflict(
            "every grant of this record was withdrawn; a new consent conversation makes a new record",
            fields=["consent_id"],
            code="withdrawn",
        )
    return {
        g["id"]: g
        for v in chain.versions
        for g in details_of(session, runtime, person, v)["grants"]
        if g["id"] in named
    }


def amend(
    session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID, data: UseConsentCreate
) -> UseConsentRead:
    """A new version superseding this one, with whatever the person decides now; the old stays readable."""
    row = policy.load(session, principal, policy.Action.CONSENT_RECORD, UseConsent, consent_id)
    audit.touch(session, case_id=row.case_id)
    hold_to_write(session, row.person_id)
    person = _person(session, row)
    _require_participation(session, runtime, person)
    withdrawn = _amendable(session, runtime, person, row)
    form = checks.form_of(runtime.forms, data)
    _witnessed(data)
    now = db_now(session)
    earlier = details_of(session, runtime, person, row)
    decided = grant_checks.check(session, form, data, now, earlier["grants"], withdrawn)
    receipt = data.receipt or receipt_of(earlier)
    new = _insert(
        session,
        runtime,
        principal,
        person,
        data,
        form.digest,
        decided,
        now,
        row.chain_id,
        row,
        row.version + 1,
        None,
        receipt,
    )
    audit.touch(session, resource_id=new.id)
    changes.changed(session, runtime, person)
    return read_of(session, runtime, person, new)


def narrow(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    person: Person,
    consent_id: uuid.UUID,
    contents: GrantContents,
    interview_id: uuid.UUID,
) -> UseConsent:
    """A new version that only removes or lowers what the version allowed (422 naming what would widen),
    pinned to the same form text; for the end-of-interview reconfirmation."""
    row = session.get(UseConsent, consent_id)
    if row is None or row.person_id != person.id:
        raise ValidationFailed("the interviewee has no such consent record", fields=["consent_id"])
    _require_participation(session, runtime, person)
    withdrawn = _amendable(session, runtime, person, row)
    before = details_of(session, runtime, person, row)
    form = runtime.forms.get(row.form_id, row.form_version)
    if form is None:
        raise Conflict("the form this record was read from is no longer served", fields=["consent_id"])
    now = db_now(session)
    decided = grant_checks.check(session, form, contents, now, before["grants"], withdrawn)
    grant_checks.narrowing(before, decided, contents)
    same = UseConsentCreate(
        form_id=row.form_id,
        form_version=row.form_version,
        language=row.language,
        text_variant=before["text_variant"],
        text_sha256=row.text_sha256,
        method=Method(row.method),
        witness=None if before["witness"] is None else Witness.model_validate(before["witness"]),
        status=ConsentStatus(row.status),
        place=before["place"],
        notes=before["notes"],
    )
    narrowed = _insert(
        session,
        runtime,
        principal,
        person,
        same,
        row.form_digest,
        decided,
        now,
        row.chain_id,
        row,
        row.version + 1,
        interview_id,
        receipt_of(before),
    )
    changes.changed(session, runtime, person)
    return narrowed


def current_records(session: Session, runtime: Runtime, person: Person) -> list[UseConsent]:
    """The latest version of each of the person's chains that is neither invalid nor withdrawn whole."""
    rows = list(session.scalars(select(UseConsent).where(UseConsent.person_id == person.id).order_by(UseConsent.id)))
    superseded = {r.amends for r in rows if r.amends is not None}
    current = []
    for r in rows:
        if r.id in superseded:
            continue
        chain = chain_of(session, r.chain_id)
        if not chain.invalidations and not withdrawn_grants(session, runtime, person, chain)[0]:
            current.append(r)
    return current


def list_current(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID
) -> list[UseConsentRead]:
    """The person's records that may be confirmed or narrowed at the end of an interview, as read now."""
    person = person_row(session, principal, policy.Action.CONSENT_READ, person_id)
    return [read_of(session, runtime, person, r) for r in current_records(session, runtime, person)]


def invalidate(
    session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID, data: InvalidateIn
) -> InvalidatedRead:
    """A custodian marks a record invalid (consent given under pressure, say): its chain allows nothing more."""
    row = policy.load(session, principal, policy.Action.CONSENT_INVALIDATE, UseConsent, consent_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    # Bounded like a withdrawal's wait: a survivor's protection never hangs behind a stalled holder.
    hold_to_write(session, row.person_id, wait=lock_wait(runtime))
    # Finding a record invalid takes away every use the person allowed in it: a fresh second factor first.
    policy.require_step_up(principal, policy.Action.CONSENT_INVALIDATE, db_now(session))
    person = _person(session, row)
    if session.scalar(select(ConsentInvalidation.id).where(ConsentInvalidation.consent_id == row.id)) is not None:
        raise Conflict("this record is already marked invalid", fields=["consent_id"], code="invalidated")
    found = ConsentInvalidation(
        id=new_id(),
        consent_id=row.id,
        person_id=person.id,
        case_id=row.case_id,
        invalidated_by=principal.user_id,
        invalidated_at=db_now(session),
        details=b"",
    )
    found.details = seal_json(session, runtime.keys, invalidation_place(person, found), {"reason": data.reason})
    session.add(found)
    session.flush()
    changes.changed(session, runtime, person)
    # The custodian is told what changed, never what the record says.
    return InvalidatedRead(
        consent_id=row.id,
        chain_id=row.chain_id,
        invalidated_at=found.invalidated_at,
        invalidated_by=found.invalidated_by,
    )
