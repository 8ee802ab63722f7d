"""Interviewees: pseudonym codes, sealed identity and contact, and the duplicate check."""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.cases.models import Case
from app.consent import service as consent
from app.consent.models import ParticipationConsent
from app.core.db import db_now, new_id
from app.core.errors import Conflict, NotFound
from app.crypto.derive import Purpose as KeyPurpose
from app.keys.sealed import seal_json
from app.people.blind_index import blind_index, normalize_name
from app.people.models import BlindIndexEntry, DuplicateReview, Person
from app.people.records import identity_of, open_column, person_row, place
from app.people.schemas import (
    DuplicateDecision,
    DuplicateReviewRead,
    Identity,
    PersonRead,
    PersonSummary,
    PersonUpdate,
    SafeContact,
)

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_code() -> str:
    """A pseudonym code such as KX7-42QM, from characters that are hard to confuse."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(7))
    return f"{raw[:3]}-{raw[3:]}"


def _case(session: Session, case_id: uuid.UUID) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound
    return case


def _summary(person: Person, latest: ParticipationConsent | None) -> PersonSummary:
    """Lists show the consent columns as stored; reading one person checks them against the sealed details."""
    return PersonSummary(
        id=person.id,
        code=person.code,
        case_id=person.case_id,
        created_at=person.created_at,
        participation_status=latest.status if latest else None,
        allows_collection=bool(latest and latest.allows_collection),
    )


def create_person(session: Session, principal: Principal, case_id: uuid.UUID) -> PersonSummary:
    policy.require(principal, policy.Action.PERSON_CREATE)
    case = _case(session, case_id)
    policy.authorize(principal, policy.Action.PERSON_CREATE, policy.CaseRef(case.id))
    code = new_code()
    while session.scalars(select(Person.id).where(Person.code == code)).first() is not None:
        code = new_code()
    person = Person(id=new_id(), case_id=case.id, code=code, created_at=db_now(session), created_by=principal.user_id)
    session.add(person)
    session.flush()
    audit.touch(session, resource_id=person.id)
    return _summary(person, None)


def list_people(session: Session, principal: Principal, case_id: uuid.UUID) -> list[PersonSummary]:
    policy.require(principal, policy.Action.PERSON_READ)
    case = _case(session, case_id)
    policy.authorize(principal, policy.Action.PERSON_READ, policy.CaseRef(case.id))
    stmt = policy.scope(
        principal,
        policy.Action.PERSON_READ,
        select(Person).where(Person.case_id == case.id).order_by(Person.created_at),
        Person.case_id,
    )
    return [_summary(p, consent.latest(session, p.id)) for p in session.scalars(stmt)]


def read_person(session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID) -> PersonRead:
    """A documenter on the case team reads the record: one of the named doors to plaintext."""
    person = person_row(session, principal, policy.Action.PERSON_READ, person_id)
    audit.touch(session, resource_id=person.id)
    contact = open_column(session, runtime.keys, person, "contact")
    identity = identity_of(session, runtime.keys, person)
    born = identity.date_of_birth if identity else None
    latest = consent.latest_opened(session, runtime, person)
    return PersonRead(
        **_summary(person, latest.row if latest else None).model_dump(),
        identity=identity,
        contact=SafeContact.model_validate(contact) if contact is not None else None,
        reconsent_due=consent.reconsent_due(session, latest, born),
    )


def update_person(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, data: PersonUpdate
) -> PersonRead:
    """Identity and contact are refused until participation consent with storage is recorded."""
    person = person_row(session, principal, policy.Action.PERSON_UPDATE, person_id)
    audit.touch(session, resource_id=person.id)
    fields = [name for name in ("identity", "contact") if getattr(data, name) is not None]
    consent.require_collection(session, runtime, person, fields, data.identity)
    if data.identity is not None:
        value = data.identity.model_dump(mode="json")
        person.identity = _seal(session, runtime, person, "identity", value)
        _index(session, runtime, person, data.identity)
    if data.contact is not None:
        value = data.contact.model_dump(mode="json")
        person.contact = _seal(session, runtime, person, "contact", value)
    person.updated_at = db_now(session)
    session.flush()
    return read_person(session, runtime, principal, person.id)


def _seal(session: Session, runtime: Runtime, person: Person, column: str, value: object) -> bytes:
    return seal_json(session, runtime.keys, place(person, column), value)


def _index_keys(runtime: Runtime, identity: Identity) -> set[str]:
    key = runtime.derived_key(KeyPurpose.BLIND_INDEX)
    year = identity.date_of_birth.year if identity.date_of_birth else None
    names = [identity.full_name, *identity.other_names]
    return {blind_index(key, n, year) for n in names if normalize_name(n)}


def _index(session: Session, runtime: Runtime, person: Person, identity: Identity) -> None:
    """Replace the person's blind-index rows; a match elsewhere raises a review item for custodians
    and says nothing to the person who entered the record."""
    for row in session.scalars(select(BlindIndexEntry).where(BlindIndexEntry.person_id == person.id)):
        session.delete(row)
    keys = _index_keys(runtime, identity)
    for k in keys:
        session.add(BlindIndexEntry(id=new_id(), person_id=person.id, key=k))
    session.flush()
    if not keys:
        return
    others = set(
        session.scalars(
            select(BlindIndexEntry.person_id).where(
                BlindIndexEntry.key.in_(keys), BlindIndexEntry.person_id != person.id
            )
        )
    )
    now = db_now(session)
    for other in others:
        a, b = sorted((person.id, other))
        exists = session.scalars(
            select(DuplicateReview.id).where(DuplicateReview.person_a == a, DuplicateReview.person_b == b)
        ).first()
        if exists is None:
            session.add(DuplicateReview(id=new_id(), person_a=a, person_b=b, created_at=now, status="open"))
    session.flush()


def list_duplicate_reviews(session: Session, principal: Principal) -> list[DuplicateReviewRead]:
    policy.require(principal, policy.Action.DUPLICATE_REVIEW)
    rows = session.scalars(select(DuplicateReview).order_by(DuplicateReview.created_at)).all()
    return [_review(session, r) for r in rows]


def _review(session: Session, row: DuplicateReview) -> DuplicateReviewRead:
    both = select(Person.id, Person.code).where(or_(Person.id == row.person_a, Person.id == row.person_b))
    codes = {pid: code for pid, code in session.execute(both)}
    return DuplicateReviewRead(
        id=row.id,
        person_a_code=codes[row.person_a],
        person_b_code=codes[row.person_b],
        created_at=row.created_at,
        status=row.status,
    )


def decide_duplicate(
    session: Session, principal: Principal, review_id: uuid.UUID, data: DuplicateDecision
) -> DuplicateReviewRead:
    policy.require(principal, policy.Action.DUPLICATE_REVIEW)
    row = session.get(DuplicateReview, review_id, with_for_update=True)
    if row is None:
        raise NotFound
    audit.touch(session, resource_id=row.id)
    if row.status != "open":
        raise Conflict(f"this review was already decided ({row.status})")
    row.status = data.decision
    row.decided_by = principal.user_id
    row.decided_at = db_now(session)
    session.flush()
    return _review(session, row)
