"""KEK rotation re-wraps data keys, never data, and resumes after interruption."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.access.principal import Principal
from app.access.roles import Role
from app.cli import cli
from app.core.config import Settings
from app.core.db import db_now, new_id, unit_of_work
from app.crypto import envelope
from app.crypto.derive import Purpose, derive_key
from app.keys import service
from app.keys.models import DataKey
from app.keys.store import FileKeyStore, Keys
from app.main import create_app
from app.people.models import Person
from tests.support.actors import actor, login
from tests.support.consent import identity, participation, person_in
from tests.support.people import add_case, add_person, read_name


@pytest.fixture
def notes(session_factory: sessionmaker[Session], keys: Keys) -> dict[uuid.UUID, str]:
    """Seven people, each with an identity sealed under their own data key."""
    written = {}
    with unit_of_work(session_factory) as s:
        case_id = add_case(s)
        for i in range(7):
            name = f"Պետրոսյան {i}"
            written[add_person(s, keys, case_id, name)] = name
    return written


def _ciphertexts(engine: Engine) -> dict[uuid.UUID, bytes | None]:
    with Session(engine) as s:
        return {p.id: p.identity for p in s.scalars(select(Person))}


def _versions(engine: Engine) -> set[int]:
    with Session(engine) as s:
        return set(s.scalars(select(DataKey.kek_version)))


def _all_open(session_factory: sessionmaker[Session], keys: Keys, notes: dict[uuid.UUID, str]) -> None:
    with unit_of_work(session_factory) as s:
        for person_id, name in notes.items():
            assert read_name(s, keys, person_id) == name


def test_rotate_rewraps_every_key_and_no_data(
    engine: Engine,
    session_factory: sessionmaker[Session],
    key_store: FileKeyStore,
    key_file: Path,
    notes: dict[uuid.UUID, str],
) -> None:
    before = _ciphertexts(engine)
    old = key_store.load()
    result = service.rotate(Principal.system("test"), session_factory, key_store, batch_size=3)
    assert (result.kek_primary, result.resumed, result.rewrapped, result.retired) == (2, False, 7, [1])
    assert _versions(engine) == {2}
    assert _ciphertexts(engine) == before  # data itself untouched
    new = key_store.load()
    assert new.kek_primary == 2
    assert new.kek_retired == frozenset({1})
    assert derive_key(new.root(), Purpose.BLIND_INDEX) == derive_key(old.root(), Purpose.BLIND_INDEX)

    # With the old KEK removed from the key file entirely, everything still opens.
    doc = json.loads(key_file.read_text())
    del doc["kek"]["1"]
    doc["kek_retired"] = []
    key_file.write_text(json.dumps(doc))
    pruned = FileKeyStore(key_file, None)
    _all_open(session_factory, Keys(pruned, pruned.load()), notes)


def test_interrupted_rotation_resumes(
    engine: Engine,
    session_factory: sessionmaker[Session],
    key_store: FileKeyStore,
    notes: dict[uuid.UUID, str],
) -> None:
    def die(_: int) -> None:
        raise KeyboardInterrupt

    before_rotation = key_store.load()
    with pytest.raises(KeyboardInterrupt):
        service.rotate(Principal.system("test"), session_factory, key_store, batch_size=2, on_batch=die)
    assert _versions(engine) == {1, 2}  # half-way: one batch committed
    # Mid-rotation, a service holding the old keyring still opens everything (it reloads).
    assert sorted(before_rotation.keks) == [1]
    _all_open(session_factory, Keys(key_store, before_rotation), notes)

    result = service.rotate(Principal.system("test"), session_factory, key_store, batch_size=2)
    assert result.resumed
    assert result.kek_primary == 2
    assert result.rewrapped == 5
    assert sorted(key_store.load().keks) == [1, 2]  # resuming made no third KEK
    assert _versions(engine) == {2}
    _all_open(session_factory, Keys(key_store, key_store.load()), notes)


def test_cli_rotate_and_status(cli_env: dict[str, str], engine: Engine, notes: dict[uuid.UUID, str]) -> None:
    runner = CliRunner()
    status = runner.invoke(cli, ["keys", "status"], env=cli_env)
    assert status.exit_code == 0, status.output
    assert "data keys under KEK 1" in status.output
    assert "verifier key (pin this)" in status.output
    assert "testimony-vault.example/audit+" in status.output
    rotated = runner.invoke(cli, ["keys", "rotate", "--batch-size", "4"], env=cli_env)
    assert rotated.exit_code == 0, rotated.output
    assert "rotated to KEK 2; re-wrapped 7 data keys" in rotated.output
    assert _versions(engine) == {2}


def test_stragglers_are_rewrapped_and_retired_keks_pruned(
    engine: Engine,
    session_factory: sessionmaker[Session],
    key_store: FileKeyStore,
    notes: dict[uuid.UUID, str],
    cli_env: dict[str, str],
) -> None:
    old = key_store.load()
    system = Principal.system("test")
    assert service.rotate(system, session_factory, key_store).kek_primary == 2
    straggler = new_id()  # e.g. wrapped by a key provider's worker that had not reloaded
    wrapped = envelope.wrap(old, straggler, envelope.new_data_key())
    with unit_of_work(session_factory) as s:
        s.add(
            DataKey(subject_id=straggler, kek_version=wrapped.kek_version, wrapped=wrapped.blob, created_at=db_now(s))
        )
    assert _versions(engine) == {1, 2}
    runner = CliRunner()
    refused = runner.invoke(cli, ["keys", "prune"], env=cli_env)
    assert refused.exit_code == 2
    assert runner.invoke(cli, ["keys", "prune", "--yes"], env=cli_env).output.strip().endswith("none")
    assert sorted(key_store.load().keks) == [1, 2]  # KEK 1 still wraps the straggler
    assert "re-wrapped 1 data key under KEK 2" in runner.invoke(cli, ["keys", "rewrap"], env=cli_env).output
    assert _versions(engine) == {2}
    pruned = runner.invoke(cli, ["keys", "prune", "--yes"], env=cli_env)
    assert pruned.exit_code == 0, pruned.output
    assert "destroyed KEK versions: 1" in pruned.output
    assert sorted(key_store.load().keks) == [2]
    _all_open(session_factory, Keys(key_store, key_store.load()), notes)


def test_a_worker_reloads_the_key_file_before_wrapping_after_a_rotation(
    engine: Engine, session_factory: sessionmaker[Session], key_store: FileKeyStore, notes: dict[uuid.UUID, str]
) -> None:
    worker = Keys(key_store, key_store.load())  # loaded before the rotation
    service.rotate(Principal.system("test"), session_factory, key_store)
    subject = new_id()
    with unit_of_work(session_factory) as s:
        service.create_data_key(s, worker, subject)
    with Session(engine) as s:
        row = s.get(DataKey, subject)
        assert row is not None
        assert row.kek_version == 2


def test_an_unreadable_data_key_does_not_stop_a_rotation(
    engine: Engine, session_factory: sessionmaker[Session], key_store: FileKeyStore, notes: dict[uuid.UUID, str]
) -> None:
    damaged = new_id()
    with unit_of_work(session_factory) as s:
        s.add(DataKey(subject_id=damaged, kek_version=1, wrapped=b"\x01" + bytes(40), created_at=db_now(s)))
    result = service.rotate(Principal.system("test"), session_factory, key_store, batch_size=2)
    assert result.unreadable == [damaged]
    assert result.rewrapped == len(notes)
    with Session(engine) as s:
        assert set(s.scalars(select(DataKey.kek_version).where(DataKey.subject_id != damaged))) == {2}


def test_a_person_read_through_the_api_after_rotation_and_prune(
    app: FastAPI, settings: Settings, cli_env: dict[str, str], key_file: Path
) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KR-2", "title": "Rotation"}).json()["id"]
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
    pid = person_in(doc, case)["id"]
    assert doc.post(f"/api/v1/people/{pid}/participation", json=participation(app)).status_code == 201
    stored = doc.request("PATCH", f"/api/v1/people/{pid}", json=identity("Anahit Petrosyan"))
    assert stored.status_code == 200, stored.text
    before = doc.get(f"/api/v1/people/{pid}").json()
    assert before["identity"]["full_name"] == "Anahit Petrosyan"

    runner = CliRunner()
    rotated = runner.invoke(cli, ["keys", "rotate"], env=cli_env)
    assert rotated.exit_code == 0, rotated.output
    assert doc.get(f"/api/v1/people/{pid}").json() == before  # the running service reloads the new KEK

    pruned = runner.invoke(cli, ["keys", "prune", "--yes"], env=cli_env)
    assert pruned.exit_code == 0, pruned.output
    assert sorted(json.loads(key_file.read_text())["kek"]) == ["2"]
    assert doc.get(f"/api/v1/people/{pid}").json() == before

    store = FileKeyStore(key_file, None)
    restarted = create_app(settings, Keys(store, store.load()))  # a service started without KEK 1
    try:
        again = login(restarted, "doc", doc.totp_secret, steps=1)
        assert again.get(f"/api/v1/people/{pid}").json() == before
    finally:
        restarted.state.engine.dispose()
