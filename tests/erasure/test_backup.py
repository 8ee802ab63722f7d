"""`testimony backup` and `testimony restore`, on SQLite and on PostgreSQL: a backup restored after an erasure and
a withdrawal is brought forward from the journal before anything else runs; the person stays unreadable, every
other person opens, the withdrawal is recorded again, every ready export is held, and `testimony audit verify`
passes on the restored database. A backup is encrypted with age, restored only into an empty place, and a
restore that fails half-way leaves nothing behind."""

from __future__ import annotations

import io
import subprocess
import tarfile
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditCheckpoint, AuditEvent
from app.consent.grant_models import ConsentWithdrawal
from app.core.db import make_engine, make_sessionmaker, unit_of_work
from app.crypto import keyring as kr
from app.erasure import backup as backups
from app.erasure import signature
from app.exports.models import ExportRequest
from app.keys import datakeys
from app.people.models import ErasedPerson, Person
from tests.erasure.backups import (
    AgeKey,
    age_key,
    audit_verifies,
    backup_env,
    empty_place,
    identities,
    nothing_left,
    run,
)
from tests.erasure.support import erase
from tests.erasure.test_erasure import with_attachment
from tests.support.consent import grant, identity
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk, desk

SAID_NOT_INSIDE = "The keys and the journal are NOT in this backup."


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def test_a_restored_backup_erases_again_and_withdraws_again_from_the_journal(
    app: FastAPI,
    d: Desk,
    database: ProvisionedDatabase,
    cli_env: dict[str, str],
    key_file: Path,
    key: AgeKey,
    tmp_path: Path,
) -> None:
    person, attachment = with_attachment(app, d)
    withdrawn = d.person(grant())
    export, _ = d.ready()
    untouched = d.person(grant())
    assert d.doc.request("PATCH", f"/api/v1/people/{untouched}", json=identity("Lilit Hakobyan")).status_code == 200
    other, _ = d.ready(filters={"people": [untouched]})  # nobody in it was erased or withdrew
    out = tmp_path / "backup.age"
    signed = run(cli_env, "audit", "checkpoint")
    assert signed.exit_code == 0, signed.output
    taken = run(backup_env(cli_env, database, key), "backup", "--out", str(out))
    assert taken.exit_code == 0, taken.output
    assert SAID_NOT_INSIDE in " ".join(taken.output.split())  # however the terminal wraps it
    assert out.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert (out.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left
    again = run(backup_env(cli_env, database, key), "backup", "--out", str(out))
    assert again.exit_code == 2  # never over an existing file

    erase(*d.custodians, person)
    [record] = d.doc.get(f"/api/v1/people/{withdrawn}/consents").json()["items"]
    body = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}
    made = d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=body)
    assert made.status_code == 201, made.text

    with empty_place(cli_env, database, key, tmp_path) as env:
        done = run(env, "restore", str(out))
        assert done.exit_code == 0, done.output
        said = " ".join(done.output.split())  # however the terminal wraps it
        assert "1 people erased again, 1 withdrawals recorded again" in said
        assert "1 ready exports held" in said  # the other went stale with the erasure
        refused = run(env, "restore", str(out))
        assert refused.exit_code == 2  # only into an empty place
        assert "empty" in " ".join(refused.output.split())

        url = env["TESTIMONY_DATABASE__URL"]
        opened = identities(url, app.state.runtime.keys)
        assert opened[uuid.UUID(person)] is None
        assert opened[uuid.UUID(untouched)] == "Lilit Hakobyan"
        assert [p for p, name in opened.items() if name is None] == [uuid.UUID(person)]
        engine = make_engine(url, pool=False)
        try:
            with unit_of_work(make_sessionmaker(engine)) as s:
                row = s.get(Person, uuid.UUID(person))
                assert row is not None
                assert not datakeys.has_data_key(s, row.id)
                tomb = s.get(ErasedPerson, row.id)
                assert tomb is not None
                assert tomb.origin == "journal"
                withdrawal = s.get(ConsentWithdrawal, uuid.UUID(made.json()["id"]))
                assert withdrawal is not None
                assert withdrawal.consent_id == uuid.UUID(record["id"])
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
        restored = Path(env["TESTIMONY_DATA_DIR"])
        assert not list((restored / "attachments").rglob(uuid.UUID(attachment).hex))
        assert not list((restored / "exports").rglob(uuid.UUID(export).hex))
        audit_verifies(env, key_file)
        assert run(env, "journal", "verify").exit_code == 0
    assert run(cli_env, "journal", "verify").exit_code == 0


def test_a_backup_needs_a_recipient_and_writes_nothing_without_one(
    database: ProvisionedDatabase, cli_env: dict[str, str], key: AgeKey, tmp_path: Path
) -> None:
    env = backup_env(cli_env, database, key)
    place = tmp_path / "backups"
    place.mkdir()
    for bad in ("", "not-a-key", "AGE-SECRET-KEY-1QQQQ"):
        refused = run({**env, "TESTIMONY_BACKUP__RECIPIENT": bad}, "backup", "--out", str(place / "b.age"))
        assert refused.exit_code == 2, refused.output
        assert "recipient" in " ".join(refused.output.split()) or "secret key" in refused.output
    assert not list(place.iterdir())


def _fake(path: Path, key: AgeKey, members: dict[str, bytes]) -> Path:
    """A tar of these members, encrypted to the key like a backup, but not one."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    subprocess.run(
        ["/usr/bin/age", "--encrypt", "--recipient", key.recipient, "--output", str(path)],
        input=raw.getvalue(),
        check=True,
    )
    return path


def test_what_is_not_a_backup_is_refused_and_leaves_nothing(
    app: FastAPI, d: Desk, database: ProvisionedDatabase, cli_env: dict[str, str], key: AgeKey, tmp_path: Path
) -> None:
    with_attachment(app, d)
    out = tmp_path / "backup.age"
    assert run(backup_env(cli_env, database, key), "backup", "--out", str(out)).exit_code == 0
    whole = out.read_bytes()
    cut = tmp_path / "cut.age"
    cut.write_bytes(whole[: len(whole) - 200])  # the database is in, the end of the blobs is not
    changed = tmp_path / "changed.age"
    changed.write_bytes(whole[:-100] + bytes([whole[-100] ^ 1]) + whole[-99:])
    plain = tmp_path / "plain.tar"
    plain.write_bytes(b"not a backup at all" * 100)
    (tmp_path / "other").mkdir()
    other_key = age_key(tmp_path / "other")
    cases = {
        cut: "could not decrypt",
        changed: "could not decrypt",
        plain: "could not decrypt",
        _fake(tmp_path / "fake.age", key, {"database.sqlite": b"x"}): "not a Testimony Vault backup",
        _fake(
            tmp_path / "no-db.age", key, {"manifest.json": b'{"format": "testimony-backup/2", "engine": "sqlite"}'}
        ): "not a Testimony Vault backup",
    }
    with empty_place(cli_env, database, key, tmp_path) as env:
        for path, reason in cases.items():
            done = run(env, "restore", str(path))
            said = " ".join(done.output.split())
            assert done.exit_code == 2, said
            assert reason in said or (path.name == "no-db.age" and "backup of a" in said), (path.name, said)
            nothing_left(env, database)
        wrong = run({**env, "TESTIMONY_BACKUP__IDENTITY": str(other_key.identity)}, "restore", str(out))
        assert wrong.exit_code == 2
        assert "could not decrypt" in " ".join(wrong.output.split())
        nothing_left(env, database)
        done = run(env, "restore", str(out))  # and the whole backup still restores there
        assert done.exit_code == 0, done.output


def _members(backup: Path, key: AgeKey) -> list[tuple[str, bytes]]:
    """What a backup holds, decrypted with its identity: as anyone holding the recipient could rebuild it."""
    plain = subprocess.run(
        ["/usr/bin/age", "--decrypt", "--identity", str(key.identity), str(backup)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def _signed_by(members: list[tuple[str, bytes]], keyring: kr.Keyring) -> list[tuple[str, bytes]]:
    digest = signature.Digest()
    for name, data in members:
        digest.member(name, len(data))
        digest.update(data)
    return [*members, (signature.SIGNATURE, signature.signed(digest, keyring))]


def test_a_backup_the_service_did_not_sign_is_refused_and_leaves_nothing(
    app: FastAPI, d: Desk, database: ProvisionedDatabase, cli_env: dict[str, str], key: AgeKey, tmp_path: Path
) -> None:
    """The review's F9: age proves a backup unchanged, not who made it; anyone with the public recipient could
    write one that restore took. Each forgery below is encrypted to the same recipient, well formed."""
    with_attachment(app, d)
    out = tmp_path / "backup.age"
    taken = run(backup_env(cli_env, database, key), "backup", "--out", str(out))
    assert taken.exit_code == 0, taken.output
    members = _members(out, key)
    assert members[-1][0] == signature.SIGNATURE
    body = members[:-1]
    database_part = next(i for i, (name, _) in enumerate(body) if name.startswith("database/"))
    tampered = list(members)
    name, data = tampered[database_part]
    tampered[database_part] = (name, data[:-1] + bytes([data[-1] ^ 1]))
    forgeries = {
        "unsigned.age": (body, "it has no signature"),
        "other-key.age": (_signed_by(body, kr.generate()), "signed by a key this keyring never held"),
        "tampered.age": (tampered, "its signature does not match what it holds"),
        "appended.age": ([*members, ("attachments/extra", b"x")], "something follows its signature"),
    }
    with empty_place(cli_env, database, key, tmp_path) as env:
        for file, (content, reason) in forgeries.items():
            done = run(env, "restore", str(_fake(tmp_path / file, key, dict(content))))
            said = " ".join(done.output.split())
            assert done.exit_code == 2, (file, said)
            assert "not a Testimony Vault backup signed by this service's keys" in said, (file, said)
            assert reason in said, (file, said)
            nothing_left(env, database)
        done = run(env, "restore", str(out))  # the service's own backup restores there
        assert done.exit_code == 0, done.output


def test_a_backup_signed_before_the_signing_key_was_retired_still_restores(
    app: FastAPI,
    d: Desk,
    database: ProvisionedDatabase,
    cli_env: dict[str, str],
    key_file: Path,
    key: AgeKey,
    tmp_path: Path,
) -> None:
    """Restore checks the signature against the keyring's whole signing-key history, not the active key only."""
    with_attachment(app, d)
    out = tmp_path / "backup.age"
    assert run(backup_env(cli_env, database, key), "backup", "--out", str(out)).exit_code == 0
    old = kr.loads(key_file.read_bytes(), None)
    [was] = old.signing_keys
    rotated = replace(old, signing_keys=(replace(was, retired=True), kr.generate().signing_keys[0]))
    key_file.write_bytes(kr.dumps(rotated, None))
    assert kr.loads(key_file.read_bytes(), None).signer.key_id != was.key_id
    with empty_place(cli_env, database, key, tmp_path) as env:
        done = run(env, "restore", str(out))
        assert done.exit_code == 0, done.output


def test_a_restore_that_fails_after_unpacking_leaves_nothing(
    app: FastAPI,
    d: Desk,
    database: ProvisionedDatabase,
    cli_env: dict[str, str],
    key: AgeKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The journal is re-applied once the database and blobs are unpacked and migrated: when that step fails
    (here it is made to, after doing its work), the database and every blob restored are removed again."""
    person, _ = with_attachment(app, d)
    out = tmp_path / "backup.age"
    assert run(backup_env(cli_env, database, key), "backup", "--out", str(out)).exit_code == 0
    erase(*d.custodians, person)
    real = backups.bring_forward

    def fails_after(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise OSError("the disk went away")

    with empty_place(cli_env, database, key, tmp_path) as env:
        monkeypatch.setattr(backups, "bring_forward", fails_after)
        done = run(env, "restore", str(out))
        assert done.exit_code == 2, done.output
        assert "nothing of it was left behind" in " ".join(done.output.split())
        nothing_left(env, database)
        monkeypatch.setattr(backups, "bring_forward", real)
        again = run(env, "restore", str(out))
        assert again.exit_code == 0, again.output


def test_without_the_postgresql_client_programs_it_says_so_and_writes_nothing(
    database: ProvisionedDatabase, cli_env: dict[str, str], key: AgeKey, tmp_path: Path
) -> None:
    if not database.is_postgres:
        pytest.skip("pg_dump and pg_restore are used on PostgreSQL only")
    nowhere = str(tmp_path / "no-programs-here")
    out = tmp_path / "b.age"
    refused = run({**backup_env(cli_env, database, key), "PATH": nowhere}, "backup", "--out", str(out))
    assert refused.exit_code == 2
    assert "pg_dump is not installed: install the Debian package postgresql-client" in " ".join(refused.output.split())
    assert not out.exists()
    assert run(backup_env(cli_env, database, key), "backup", "--out", str(out)).exit_code == 0
    with empty_place(cli_env, database, key, tmp_path) as env:
        refused = run({**env, "PATH": nowhere}, "restore", str(out))
        assert refused.exit_code == 2
        assert "pg_restore is not installed" in " ".join(refused.output.split())
        nothing_left(env, database)
