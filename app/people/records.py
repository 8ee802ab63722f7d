"""Opening a person's sealed columns, for callers that have already been authorised."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.keys.sealed import open_json
from app.keys.store import Keys
from app.people.models import Person
from app.people.schemas import Identity

TABLE = "people"


def open_column(session: Session, keys: Keys, person: Person, column: str) -> Any:
    blob = getattr(person, column)
    if blob is None:
        return None
    return open_json(session, keys, person.id, table=TABLE, column=column, row_id=person.id, blob=blob)


def identity_of(session: Session, keys: Keys, person: Person) -> Identity | None:
    value = open_column(session, keys, person, "identity")
    return Identity.model_validate(value) if value is not None else None
