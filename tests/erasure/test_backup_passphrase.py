"""A backup encrypted to a passphrase (``--passphrase-file``) instead of an age recipient: age's own scrypt
recipient, the passphrase typed into age's prompt on a terminal of its own (never on a command line, in the
environment or on age's standard input). It restores with the same passphrase only; a wrong one, or a short one,
leaves nothing behind."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.erasure.backups import AgeKey, backup_env, empty_place, identities, nothing_left, run
from tests.support.consent import grant, identity
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk, desk

PASSPHRASE = "plenty of words make a long enough passphrase"


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def test_a_backup_to_a_passphrase_restores_with_it_and_only_with_it(
    app: FastAPI, d: Desk, database: ProvisionedDatabase, cli_env: dict[str, str], key: AgeKey, tmp_path: Path
) -> None:
    person = d.person(grant())
    named = d.doc.request("PATCH", f"/api/v1/people/{person}", json=identity("Anahit Petrosyan"))
    assert named.status_code == 200, named.text
    secret = _file(tmp_path, "passphrase.txt", PASSPHRASE)
    env = {k: v for k, v in backup_env(cli_env, database, key).items() if k != "TESTIMONY_BACKUP__RECIPIENT"}
    out = tmp_path / "backup.age"
    taken = run(env, "backup", "--out", str(out), "--passphrase-file", str(secret))
    assert taken.exit_code == 0, taken.output
    raw = out.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n-> scrypt ")  # age's passphrase recipient, alone
    assert PASSPHRASE.encode() not in raw
    assert b"Anahit" not in raw
    (tmp_path / "other").mkdir()
    wrong = _file(tmp_path / "other", "wrong.txt", "not the passphrase this backup was encrypted to")
    with empty_place(cli_env, database, key, tmp_path) as place:
        place = {k: v for k, v in place.items() if k != "TESTIMONY_BACKUP__IDENTITY"}
        for args in (["--passphrase-file", str(wrong)], ["--identity", str(key.identity)]):
            refused = run(place, "restore", str(out), *args)
            assert refused.exit_code == 2, refused.output
            assert "could not decrypt" in " ".join(refused.output.split())
            nothing_left(place, database)
        done = run(place, "restore", str(out), "--passphrase-file", str(secret))
        assert done.exit_code == 0, done.output
        keys = app.state.runtime.keys
        assert identities(place["TESTIMONY_DATABASE__URL"], keys)[uuid.UUID(person)] == "Anahit Petrosyan"


def test_a_short_passphrase_or_one_with_a_recipient_is_refused_and_nothing_is_written(
    database: ProvisionedDatabase, cli_env: dict[str, str], key: AgeKey, tmp_path: Path
) -> None:
    env = backup_env(cli_env, database, key)
    place = tmp_path / "backups"
    place.mkdir()
    short = _file(tmp_path, "short.txt", "too short")
    refused = run(env, "backup", "--out", str(place / "b.age"), "--passphrase-file", str(short))
    assert refused.exit_code == 2, refused.output
    assert "at least 16 characters" in " ".join(refused.output.split())
    long_enough = _file(tmp_path, "long.txt", PASSPHRASE)
    both = run(
        env,
        "backup",
        "--out",
        str(place / "b.age"),
        "--passphrase-file",
        str(long_enough),
        "--recipient",
        key.recipient,
    )
    assert both.exit_code == 2, both.output
    assert "not both" in both.output
    missing = run(env, "backup", "--out", str(place / "b.age"), "--passphrase-file", str(tmp_path / "none.txt"))
    assert missing.exit_code == 2, missing.output
    assert not list(place.iterdir())
