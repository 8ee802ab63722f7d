"""`testimony keys reseal`: values sealed before AAD v2 are sealed again, resumably, then refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.access.principal import Principal
from app.access.roles import Role
from app.cli import cli
from app.consent import service as consent
from app.consent.models import ParticipationConsent
from app.core.db import unit_of_work
from app.crypto import aead
from app.keys import service as keys_service
from app.keys.models import SealState
from app.keys.sealed import STATE_ROW, Place
from app.people import records, reseal
from app.people.models import Person
from tests.support.actors import Actor, actor, runtime
from tests.support.consent import participation, person_in, recontact
from tests.support.database import ProvisionedDatabase

NAMES = ("Narine Avetisyan", "Levon Harutyunyan", "Gayane Sargsyan")


@pytest.fixture
def people(app: FastAPI) -> tuple[Actor, list[str]]:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KB-5", "title": "Upgrade"}).json()["id"]
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
    ids = []
    for name in NAMES:
        pid = person_in(doc, case)["id"]
        assert doc.post(f"/api/v1/people/{pid}/participation", json=participation(app)).status_code == 201
        body = {"identity": {"full_name": name}, "contact": {**recontact(), "value": "+374 10 000000"}}
        assert doc.request("PATCH", f"/api/v1/people/{pid}", json=body).status_code == 200
        ids.append(pid)
    return doc, ids


def _v1(session: Session, app: FastAPI, place: Place, blob: bytes) -> bytes:
    dek = keys_service.data_key(session, runtime(app).keys, place.person_id)
    where: dict[str, Any] = {"table": place.table, "column": place.column, "row_id": place.row_id}
    plain = aead.open_bound(dek, blob, **where, person_id=place.person_id, binding=place.binding, accept_v1=False)
    return aead.seal(dek, plain, **where, person_id=place.person_id)


def as_before_v2(app: FastAPI, *, accept_v1: bool = True) -> None:
    """Seal every value in the v1 format, as a database upgraded from 0.1.0 holds them."""
    with unit_of_work(app.state.sessionmaker) as s:
        for person in s.scalars(select(Person)).all():
            for column in ("identity", "contact"):
                blob = getattr(person, column)
                setattr(person, column, _v1(s, app, records.place(person, column), blob))
        for row in s.scalars(select(ParticipationConsent)).all():
            owner = s.get(Person, row.person_id)
            assert owner is not None
            row.details = _v1(s, app, consent.place(owner, row), row.details)
        state = s.get(SealState, STATE_ROW)
        assert state is not None
        state.accept_v1 = accept_v1


def _formats(database: ProvisionedDatabase) -> list[bytes]:
    rows = database.as_owner("SELECT identity FROM people UNION ALL SELECT contact FROM people")
    rows += database.as_owner("SELECT details FROM participation_consents")
    return sorted(bytes(r[0])[:1] for r in rows)


def _accepts_v1(database: ProvisionedDatabase) -> bool:
    return bool(database.as_owner("SELECT accept_v1 FROM seal_state")[0][0])


def _integrity(r: Any) -> None:
    assert r.status_code == 500
    assert r.json()["title"] == "Integrity check failed"
    assert not any(name.split()[1] in r.text for name in NAMES)


def _reseal_outcomes(database: ProvisionedDatabase) -> list[str]:
    rows = database.as_owner("SELECT outcome FROM audit_events WHERE action = 'keys.reseal' ORDER BY seq")
    return [r[0] for r in rows]


def test_a_fresh_database_refuses_the_old_format(
    app: FastAPI, database: ProvisionedDatabase, people: tuple[Actor, list[str]]
) -> None:
    doc, ids = people
    assert not _accepts_v1(database)
    assert _formats(database) == [aead.FORMAT_V2] * 9  # new data is always v2
    as_before_v2(app, accept_v1=False)
    _integrity(doc.get(f"/api/v1/people/{ids[0]}"))


def test_reseal_binds_old_values_then_refuses_the_old_format(
    app: FastAPI, database: ProvisionedDatabase, people: tuple[Actor, list[str]], cli_env: dict[str, str]
) -> None:
    doc, ids = people
    as_before_v2(app)
    assert _formats(database) == [aead.FORMAT_V1] * 9
    assert doc.get(f"/api/v1/people/{ids[0]}").json()["identity"]["full_name"] == NAMES[0]  # accepted until re-sealed
    old = database.as_owner("SELECT identity FROM people WHERE id = :p", p=uuid.UUID(ids[0]))[0][0]

    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "reseal", "--batch-size", "2"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "re-sealed 9 values" in result.output
    assert _formats(database) == [aead.FORMAT_V2] * 9
    assert not _accepts_v1(database)
    assert _reseal_outcomes(database) == ["started", "allowed"]
    for pid, name in zip(ids, NAMES, strict=True):
        assert doc.get(f"/api/v1/people/{pid}").json()["identity"]["full_name"] == name
        assert doc.get(f"/api/v1/people/{pid}/participation").status_code == 200

    again = runner.invoke(cli, ["keys", "reseal"], env=cli_env)
    assert again.exit_code == 0, again.output
    assert "re-sealed 0 values" in again.output

    # An old value put back after the re-seal opens no more, and a new run does not bless it.
    database.as_owner("UPDATE people SET identity = :old WHERE id = :p", old=old, p=uuid.UUID(ids[0]))
    _integrity(doc.get(f"/api/v1/people/{ids[0]}"))
    refused = runner.invoke(cli, ["keys", "reseal"], env=cli_env)
    assert refused.exit_code == 1
    assert f"people {ids[0]}" in refused.output
    assert "no longer accepted" in refused.output
    _integrity(doc.get(f"/api/v1/people/{ids[0]}"))
    assert _reseal_outcomes(database)[-2:] == ["started", "failed"]


def test_an_interrupted_reseal_resumes(
    app: FastAPI, database: ProvisionedDatabase, people: tuple[Actor, list[str]]
) -> None:
    doc, ids = people
    as_before_v2(app)
    factory, keys = app.state.sessionmaker, runtime(app).keys

    def die(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reseal.reseal(Principal.system("test"), factory, keys, batch_size=1, on_batch=die)
    assert _formats(database) == [aead.FORMAT_V1] * 7 + [aead.FORMAT_V2] * 2  # one person, both columns
    assert _accepts_v1(database)
    for pid in ids:  # old and new formats side by side
        assert doc.get(f"/api/v1/people/{pid}").status_code == 200

    result = reseal.reseal(Principal.system("test"), factory, keys, batch_size=1)
    assert (result.resealed, result.complete) == (7, True)
    assert _formats(database) == [aead.FORMAT_V2] * 9
    assert not _accepts_v1(database)


def test_a_value_that_will_not_open_keeps_the_old_format_accepted(
    app: FastAPI, database: ProvisionedDatabase, people: tuple[Actor, list[str]], cli_env: dict[str, str]
) -> None:
    doc, ids = people
    as_before_v2(app)
    damaged = uuid.UUID(ids[1])
    old = bytes(database.as_owner("SELECT contact FROM people WHERE id = :p", p=damaged)[0][0])
    database.as_owner("UPDATE people SET contact = :c WHERE id = :p", c=old[:-1] + bytes([old[-1] ^ 1]), p=damaged)

    result = CliRunner().invoke(cli, ["keys", "reseal"], env=cli_env)
    assert result.exit_code == 1
    assert f"people {damaged}" in result.output
    assert "still accepted" in result.output
    assert _accepts_v1(database)
    assert _reseal_outcomes(database) == ["started", "failed"]
    # The damaged row is left whole, in the old format; the rest was re-sealed.
    assert _formats(database) == [aead.FORMAT_V1] * 2 + [aead.FORMAT_V2] * 7
    for pid in (ids[0], ids[2]):
        assert doc.get(f"/api/v1/people/{pid}").status_code == 200
    _integrity(doc.get(f"/api/v1/people/{damaged}"))
