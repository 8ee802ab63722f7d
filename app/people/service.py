"""Interviewees: pseudonym codes, sealed identity and contact; the duplicate check is in duplicates.py."""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.cases.models import Case
from app.consent import service as consent
from app.consent.models import ParticipationConsent
from app.core.db import db_now, new_id
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.keys.sealed import seal_json
from app.people import duplicates
from app.people.models import Person
from app.people.records import identity_of, open_column, person_row, person_to_write, place
from app.people.schemas import (
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
    case = policy.load(session, principal, policy.Action.PERSON_CREATE, Case, case_id)
    code = new_code()
    while session.scalars(select(Person.id).where(Person.code == code)).first() is not None:
        code = new_code()
    person = Person(id=new_id(), case_id=case.id, code=code, created_at=db_now(session), created_by=principal.user_id)
    session.add(person)
    session.flush()
    audit.touch(session, resource_id=person.id)
    return _summary(person, None)


def list_people(
    session: Session, principal: Principal, case_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[PersonSummary]:
    """A case's people, by pseudonym code only, in the order they were registered (ids are time-ordered)."""
    case = policy.load(session, principal, policy.Action.PERSON_READ, Case, case_id)
    stmt = select(Person).where(Person.case_id == case.id)
    rows, cursor = keyset(session, stmt, Person.id, page, uuid.UUID, lambda p: p.id)
    return Page[PersonSummary](items=[_summary(p, consent.latest(session, p.id)) for p in rows], next_cursor=cursor)


def summary(session: Session, principal: Principal, person_id: uuid.UUID) -> PersonSummary:
    """One person as lists show them: the pseudonym code and the consent columns, nothing sealed opened."""
    person = person_row(session, principal, policy.Action.PERSON_READ, person_id)
    return _summary(person, consent.latest(session, person.id))


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
    person = person_to_write(session, principal, policy.Action.PERSON_UPDATE, person_id)
    audit.touch(session, resource_id=person.id)
    fields = [name for name in ("identity", "contact") if getattr(data, name) is not None]
    consent.require_collection(session, runtime, person, fields, data.identity)
    if data.identity is not None:
        value = data.identity.model_dump(mode="json")
        person.identity = _seal(session, runtime, person, "identity", value)
        duplicates.index(session, runtime, person, data.identity)
    if data.contact is not None:
        value = data.contact.model_dump(mode="json")
        person.contact = _seal(session, runtime, person, "contact", value)
    person.updated_at = db_now(session)
    session.flush()
    return read_person(session, runtime, principal, person.id)


def _seal(session: Session, runtime: Runtime, person: Person, column: str, value: object) -> bytes:
    return seal_json(session, runtime.keys, place(person, column), value)
