"""is_held: only a confirmed, unlifted legal hold holds; one requested or active hold per person."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.access.roles import Role
from app.core.db import db_now, new_id
from app.people.holds import is_held
from app.people.models import LegalHold, Person
from tests.support.actors import actor
from tests.support.consent import person_in


def _hold(session: Session, person: Person, user: uuid.UUID, state: str) -> LegalHold:
    row = LegalHold(
        id=new_id(),
        person_id=person.id,
        case_id=person.case_id,
        state=state,
        details=b"sealed",
        requested_by=user,
        requested_at=db_now(session),
    )
    session.add(row)
    session.flush()
    return row


def test_only_an_active_hold_holds(app: FastAPI, session_factory: sessionmaker[Session]) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KB-1", "title": "Holds"}).json()["id"]
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
    pid = uuid.UUID(person_in(doc, case)["id"])
    other = uuid.UUID(person_in(doc, case)["id"])
    with session_factory.begin() as session:
        person = session.get(Person, pid)
        assert person is not None
        assert not is_held(session, pid)
        hold = _hold(session, person, admin.user_id, "requested")
        assert not is_held(session, pid)
        hold.state = "active"
        session.flush()
        assert is_held(session, pid)
        assert not is_held(session, other)
        hold.state = "lifted"
        session.flush()
        assert not is_held(session, pid)
        _hold(session, person, admin.user_id, "active")
        assert is_held(session, pid)
    with session_factory() as session:
        person = session.get(Person, pid)
        assert person is not None
        with pytest.raises(IntegrityError):
            _hold(session, person, admin.user_id, "requested")
