"""`testimony backup` and `testimony restore` on SQLite: a backup restored after an erasure and a withdrawal is
brought forward from the journal before anything else runs; the person stays unreadable, the withdrawal is
recorded again, every ready export is held, and `testimony audit verify` passes on the restored database."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner, Result

from app.audit.models import AuditCheckpoint, AuditEvent
from app.cli import cli
from app.consent.grant_models import ConsentWithdrawal
from app.core.db import make_engine, make_sessionmaker, unit_of_work
from app.crypto import keyring as kr
from app.crypto.errors import DecryptionFailed
from app.crypto.signing import fingerprint
from app.exports.models import ExportRequest
from app.keys import datakeys
from app.people.models import ErasedPerson, Person
from app.people.records import open_column
from tests.erasure.support import erase
from tests.erasure.test_erasure import with_attachment
from tests.support.consent import grant
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk, desk


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def d(app: FastAPI, database: ProvisionedDatabase) -> Desk:
    if database.is_postgres:
        pytest.skip("backup and restore handle SQLite only for now (docs/operations.md)")
    return desk(app)


def test_a_restored_backup_erases_again_and_withdraws_again_from_the_journal(
    app: FastAPI, d: Desk, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    person, attachment = with_attachment(app, d)
    withdrawn = d.person(grant())
    export, _ = d.ready()
    untouched = d.person(grant())
    other, _ = d.ready(filters={"people": [untouched]})  # nobody in it was erased or withdrew
    out = tmp_path / "backup.tar"
    signed = _run(cli_env, "audit", "checkpoint")
    assert signed.exit_code == 0, signed.output
    taken = _run(cli_env, "backup", "--out", str(out))
    assert taken.exit_code == 0, taken.output
    assert "NOT in this backup" in " ".join(taken.output.split())  # however the terminal wraps it
    assert _run(cli_env, "backup", "--out", str(out)).exit_code == 2  # never over an existing file

    erase(*d.custodians, person)
    [record] = d.doc.get(f"/api/v1/people/{withdrawn}/consents").json()["items"]
    body = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}
    made = d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=body)
    assert made.status_code == 201, made.text

    restored = tmp_path / "restored"
    env = {**cli_env, "TESTIMONY_DATA_DIR": str(restored), "TESTIMONY_DATABASE__URL": f"sqlite:///{restored}/t.db"}
    done = _run(env, "restore", str(out))
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())  # however the terminal wraps it
    assert "1 people erased again, 1 withdrawals recorded again" in said
    assert "1 ready exports held" in said
    assert _run(env, "restore", str(out)).exit_code == 2  # only into an empty data directory

    engine = make_engine(env["TESTIMONY_DATABASE__URL"])
    try:
        with unit_of_work(make_sessionmaker(engine)) as s:
            row = s.get(Person, uuid.UUID(person))
            assert row is not None
            assert not datakeys.has_data_key(s, row.id)
            with pytest.raises(DecryptionFailed):
                open_column(s, app.state.runtime.keys, row, "identity")
            tomb = s.get(ErasedPerson, row.id)
            assert tomb is not None
            assert tomb.origin == "journal"
            again = s.get(ConsentWithdrawal, uuid.UUID(made.json()["id"]))
            assert again is not None
            assert again.consent_id == uuid.UUID(record["id"])
            for made_before in (export, other):
                held = s.get(ExportRequest, uuid.UUID(made_before))
                assert held is not None
                assert held.status == "stale"
            [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "system.restore")).all()
            last = s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc())).first()
            assert last is not None
            assert (event.resource_type, event.resource_id) == ("audit_checkpoint", str(last.size))
    finally:
        engine.dispose()
    assert not list((restored / "attachments").rglob(uuid.UUID(attachment).hex))
    assert not list((restored / "exports").rglob(uuid.UUID(export).hex))
    assert not list((restored / "exports").rglob(uuid.UUID(other).hex))
    assert _run(env, "audit", "checkpoint").exit_code == 0
    pin = fingerprint(kr.loads(key_file.read_bytes(), None).signer.public_key)
    verified = _run(env, "audit", "verify", "--key", pin, "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True
    assert _run(env, "journal", "verify").exit_code == 0
    assert _run(cli_env, "journal", "verify").exit_code == 0


def test_what_is_not_a_backup_is_refused_and_leaves_nothing(
    cli_env: dict[str, str], database: ProvisionedDatabase, tmp_path: Path
) -> None:
    if database.is_postgres:
        refused = _run(cli_env, "backup", "--out", str(tmp_path / "b.tar"))
        assert refused.exit_code == 2
        assert "SQLite only" in refused.output
        assert not (tmp_path / "b.tar").exists()
        return
    fake = tmp_path / "fake.tar"
    with tarfile.open(fake, "w") as tar:
        data = b"not a database"
        info = tarfile.TarInfo("database.sqlite")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    restored = tmp_path / "restored"
    env = {**cli_env, "TESTIMONY_DATA_DIR": str(restored), "TESTIMONY_DATABASE__URL": f"sqlite:///{restored}/t.db"}
    done = _run(env, "restore", str(fake))
    assert done.exit_code == 2
    assert "not a Testimony Vault backup" in " ".join(done.output.split())
    assert not (restored / "t.db").exists()
