"""People whose identity is sealed and opened through the real path of app/people (seal_json and
open_json at the person's Place), for tests of what lies under it: data keys and their rotation."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.cases.models import Case
from app.core.db import db_now, new_id
from app.keys.sealed import seal_json
from app.keys.store import Keys
from app.people.models import Person
from app.people.records import identity_of, place
from app.people.schemas import Identity
from app.people.service import new_code


def add_case(session: Session, code: str = "KR-1") -> uuid.UUID:
    case = Case(id=new_id(), code=code, title="Sealed people", created_at=db_now(session))
    session.add(case)
    session.flush()
    return case.id


def add_person(session: Session, keys: Keys, case_id: uuid.UUID, name: str) -> uuid.UUID:
    """A person with a sealed identity; their data key is made on first use, as for a real person."""
    person = Person(id=new_id(), case_id=case_id, code=new_code(), created_at=db_now(session))
    session.add(person)
    session.flush()
    person.identity = seal_json(
        session, keys, place(person, "identity"), Identity(full_name=name).model_dump(mode="json")
    )
    session.flush()
    return person.id


def read_name(session: Session, keys: Keys, person_id: uuid.UUID) -> str:
    person = session.get(Person, person_id)
    assert person is not None
    identity = identity_of(session, keys, person)
    assert identity is not None
    return identity.full_name
