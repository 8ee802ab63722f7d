"""`testimony keys status`: the values an auditor pins, whole at any width, and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.audit import note
from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import new_id, unit_of_work
from app.crypto import keyring as kr
from app.crypto.signing import fingerprint
from app.keys import service as keys_service
from app.keys.store import Keys

ORIGIN = "testimony-vault.example/audit"


def _pins(key_file: Path) -> tuple[str, str]:
    public = kr.loads(key_file.read_bytes(), None).signer.public_key
    return fingerprint(public), note.vkey(ORIGIN, public)


@pytest.mark.parametrize("columns", [80, 40])
def test_status_prints_the_fingerprint_and_verifier_key_whole_on_one_line(
    cli_env: dict[str, str], key_file: Path, columns: int
) -> None:
    # CliRunner's stdout is not a terminal: this is the output piped to a file, at a narrow width.
    result = CliRunner().invoke(cli, ["keys", "status"], env={**cli_env, "COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    fp, vkey = _pins(key_file)
    lines = result.stdout.splitlines()
    assert any(line.startswith("signing key fingerprint:") and line.endswith(f" {fp}") for line in lines)
    assert any(line.startswith("verifier key (pin this):") and line.endswith(f" {vkey}") for line in lines)
    assert "…" not in result.stdout


def test_status_as_json(
    cli_env: dict[str, str], key_file: Path, keys: Keys, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as s:
        for _ in range(2):
            keys_service.create_data_key(s, keys, new_id())
        before = s.scalar(select(func.count()).where(AuditEvent.action == "keys.status"))
    result = CliRunner().invoke(cli, ["keys", "status", "--json"], env={**cli_env, "COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    fp, vkey = _pins(key_file)
    assert json.loads(result.stdout) == {
        "kek_versions": [1],
        "kek_primary": 1,
        "kek_retired": [],
        "root_primary": 1,
        "signing_key_id": keys.current.signer.key_id,
        "signing_key_fingerprint": fp,
        "verifier_key": vkey,
        "data_keys_by_kek": {"1": 2},
        "pending_rewrap": 0,
    }
    with unit_of_work(session_factory) as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "keys.status")) == (before or 0) + 1
