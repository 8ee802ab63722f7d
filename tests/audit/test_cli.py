"""`testimony audit`: counts that read right, verification as JSON, and a forensic copy left untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import unit_of_work
from app.crypto import keyring as kr
from app.crypto.signing import fingerprint
from tests.support.database import ProvisionedDatabase


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def _pin(key_file: Path) -> str:
    return fingerprint(kr.loads(key_file.read_bytes(), None).signer.public_key)


def _events(factory: sessionmaker[Session], action: str | None = None) -> int:
    with unit_of_work(factory) as s:
        stmt = select(func.count()).select_from(AuditEvent)
        if action is not None:
            stmt = stmt.where(AuditEvent.action == action)
        return int(s.scalar(stmt) or 0)


def test_counts_are_singular_for_one_and_each_checkpoint_counts_once(
    cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "offsite.txt"
    signed = _run(cli_env, "audit", "checkpoint", "--out", str(kept))  # the log holds only this command's event
    assert signed.exit_code == 0, signed.output
    assert "signed checkpoint of 1 entry, root " in signed.output
    # The stored checkpoint and the copy kept off the server are one checkpoint.
    ok = _run(cli_env, "audit", "verify", "--key", _pin(key_file), "--checkpoint", str(kept))
    assert ok.exit_code == 0, ok.output
    assert "OK: 1 entry of the database and 1 checkpoint verified" in ok.output
    assert "0 newer entries not yet covered" in ok.output
    again = _run(cli_env, "audit", "checkpoint")
    assert "signed checkpoint of 3 entries" in again.output  # + the verification and this checkpointing
    both = _run(cli_env, "audit", "verify", "--key", _pin(key_file), "--checkpoint", str(kept), "--json")
    report = json.loads(both.stdout)
    assert report["checkpoints_verified"] == 2
    assert [c["label"] for c in report["checkpoints"]] == [
        "stored checkpoint 1",
        "stored checkpoint 3",
        "external offsite.txt",
    ]
    dump = tmp_path / "events.jsonl"
    assert "wrote 5 entries to" in _run(cli_env, "audit", "export", "--out", str(dump)).output
    ran = _run(cli_env, "audit", "checkpointer", "--every-events", "1", "--every-seconds", "0.1", "--max-runs", "1")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.strip() == "signed 1 checkpoint"


def test_verify_as_json_is_one_document_and_is_recorded(
    cli_env: dict[str, str], key_file: Path, session_factory: sessionmaker[Session]
) -> None:
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    result = _run(cli_env, "audit", "verify", "--key", _pin(key_file), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {
        "ok",
        "database",
        "entries",
        "root",
        "key_name",
        "key_fingerprint",
        "checkpoints_verified",
        "checkpoints",
        "uncovered",
        "problems",
        "recorded",
    }
    assert report["ok"] is True
    assert report["database"] == "live"
    assert report["recorded"] is True
    assert report["entries"] == 1
    assert report["key_fingerprint"] == _pin(key_file)
    assert report["checkpoints"][0]["size"] == 1
    assert report["problems"] == []
    assert _events(session_factory, "audit.verify") == 1


def _fingerprint_of_file(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_verifying_a_copy_reads_it_without_writing_and_records_nothing(
    cli_env: dict[str, str],
    key_file: Path,
    tmp_path: Path,
    database: ProvisionedDatabase,
    session_factory: sessionmaker[Session],
) -> None:
    if database.path is None:
        pytest.skip("a file copy is a SQLite database; PostgreSQL is covered by the read-only transaction test")
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    copy = evidence / "copy.db"
    with sqlite3.connect(database.path) as live, sqlite3.connect(copy) as target:
        live.backup(target)
    target.close()
    live.close()
    copy.chmod(0o444)  # as a forensic copy is kept
    before = _fingerprint_of_file(copy)
    live_events = _events(session_factory)
    result = _run(cli_env, "audit", "verify", "--key", _pin(key_file), "--database-url", f"sqlite:///{copy}", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["database"] == "copy"
    assert report["recorded"] is False
    assert _fingerprint_of_file(copy) == before
    assert sorted(p.name for p in evidence.iterdir()) == ["copy.db"]  # no journal, WAL or index beside it
    assert _events(session_factory) == live_events
    text = _run(cli_env, "audit", "verify", "--key", _pin(key_file), "--database-url", f"sqlite:///{copy}")
    assert "OK: 1 entry of the copy (read-only; not recorded)" in text.output
    assert _fingerprint_of_file(copy) == before
    # The live database's verification is the one that is recorded.
    assert _run(cli_env, "audit", "verify", "--key", _pin(key_file)).exit_code == 0
    assert _events(session_factory, "audit.verify") == 1


def test_a_copy_elsewhere_is_verified_in_a_read_only_transaction_and_records_nothing(
    cli_env: dict[str, str], key_file: Path, database: ProvisionedDatabase, session_factory: sessionmaker[Session]
) -> None:
    if database.owner_url == database.url:
        pytest.skip("needs a second URL for the same data: PostgreSQL with an application role")
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    before = _events(session_factory)
    result = _run(cli_env, "audit", "verify", "--key", _pin(key_file), "--database-url", database.owner_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["database"] == "copy"
    assert _events(session_factory) == before


def test_a_missing_copy_is_refused_and_not_created(cli_env: dict[str, str], key_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    result = _run(cli_env, "audit", "verify", "--key", _pin(key_file), "--database-url", f"sqlite:///{missing}")
    assert result.exit_code == 2
    assert "must name an existing SQLite file" in result.output
    assert not missing.exists()
