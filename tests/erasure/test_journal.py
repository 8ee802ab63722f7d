"""The journal: authenticated JSON lines, chained; a changed, removed, reordered or cut line is detected, and
`testimony journal verify` names an erasure or withdrawal the database holds and the journal lacks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.cli import cli
from app.crypto import keyring as kr
from app.keys import journal
from tests.erasure.support import erase
from tests.support.exports import desk

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _written(path: Path, keyring: kr.Keyring, n: int = 3) -> list[uuid.UUID]:
    people = [uuid.uuid4() for _ in range(n)]
    for i, person in enumerate(people):
        event = journal.ERASURE if i % 2 else journal.WITHDRAWAL
        journal.append(
            path, keyring, event, person, uuid.uuid4(), AT, {"mode": "stop_future_use"} if i % 2 == 0 else None
        )
    return people


def test_entries_read_back_in_order_and_hold_ids_and_times_only(tmp_path: Path) -> None:
    keyring = kr.generate()
    path = tmp_path / "keys" / "journal.jsonl"
    people = _written(path, keyring)
    entries = journal.read(path, keyring)
    assert [e.person_id for e in entries] == people
    assert [e.seq for e in entries] == [1, 2, 3]
    assert path.stat().st_mode & 0o777 == 0o600
    assert set(json.loads(path.read_text().splitlines()[0])) == {
        "seq", "at", "event", "person", "ref", "root", "prev", "mac", "extra"
    }  # fmt: skip
    assert journal.read(tmp_path / "absent.jsonl", keyring) == []


@pytest.mark.parametrize("damage", ["change", "remove_middle", "reorder", "cut", "other_keyring"])
def test_a_damaged_journal_is_refused(tmp_path: Path, damage: str) -> None:
    keyring = kr.generate()
    path = tmp_path / "journal.jsonl"
    _written(path, keyring)
    lines = path.read_bytes().splitlines(keepends=True)
    if damage == "change":
        lines[1] = lines[1].replace(b'"event":"erasure"', b'"event":"withdrawal"')
    elif damage == "remove_middle":
        del lines[1]
    elif damage == "reorder":
        lines[0], lines[1] = lines[1], lines[0]
    elif damage == "cut":
        lines[-1] = lines[-1][:40]
    path.write_bytes(b"".join(lines))
    with pytest.raises(journal.JournalBroken):
        journal.read(path, kr.generate() if damage == "other_keyring" else keyring)
    if damage == "cut":  # nothing is appended after a cut line either
        with pytest.raises(journal.JournalBroken):
            journal.append(path, keyring, journal.ERASURE, uuid.uuid4(), uuid.uuid4(), AT)


def test_verify_names_what_the_database_holds_and_the_journal_lacks(cli_env: dict[str, str], app: FastAPI) -> None:
    d = desk(app)
    person = d.person()
    erase(*d.custodians, person)
    path = app.state.runtime.settings.journal_path
    ok = CliRunner().invoke(cli, ["journal", "verify"], env=cli_env)
    assert ok.exit_code == 0, ok.output
    path.write_bytes(b"")  # lines cut off at the end leave a valid, shorter chain: the database tells
    lacking = CliRunner().invoke(cli, ["journal", "verify"], env=cli_env)
    assert lacking.exit_code == 1
    assert f"erasure of {person}" in lacking.output
