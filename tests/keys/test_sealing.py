"""Sealed values never reach disk in clear, and do not survive being moved."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import new_id, unit_of_work
from app.crypto.errors import DecryptionFailed
from app.keys.store import Keys
from tests.support.database import ProvisionedDatabase
from tests.support.sealed import SealedNote, add_note, create_table, read_note

LATIN = "canary-Latin-q8Zt3vW"
ARMENIAN = "կանարի-Գրիգորյան-q8Zt3vW"


@pytest.fixture
def sealed(engine: Engine, database: ProvisionedDatabase) -> Engine:
    create_table(database)
    return engine


def test_canaries_never_reach_the_database_files_or_logs(
    sealed: Engine,
    session_factory: sessionmaker[Session],
    keys: Keys,
    database: ProvisionedDatabase,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    person = new_id()
    with caplog.at_level(logging.DEBUG), unit_of_work(session_factory) as s:
        note = add_note(s, keys, person, LATIN, ARMENIAN)
    with unit_of_work(session_factory) as s:
        assert read_note(s, keys, note) == (LATIN, ARMENIAN)

    needles = [LATIN.encode(), ARMENIAN.encode(), ARMENIAN.encode("utf-16-le"), b"q8Zt3vW"]
    if database.path is not None:
        files = [database.path, database.path.with_name(database.path.name + "-wal")]
        files.append(database.path.with_name(database.path.name + "-shm"))
        seen = [f for f in files if f.exists()]
        assert database.path in seen
        assert len(seen) >= 2
        for f in seen:
            raw = f.read_bytes()
            assert not any(n in raw for n in needles), f.name
    else:
        dump = subprocess.run(
            ["pg_dump", "--data-only", database.owner_url.replace("+psycopg", "")],
            check=True,
            capture_output=True,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        ).stdout
        assert b"test_sealed_notes" in dump
        assert not any(n in dump for n in needles)
    out, err = capfd.readouterr()
    for text_out in (caplog.text, out, err):
        assert "q8Zt3vW" not in text_out


def _swap(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def _two_notes(session_factory: sessionmaker[Session], keys: Keys, same_person: bool) -> tuple[uuid.UUID, uuid.UUID]:
    with unit_of_work(session_factory) as s:
        p1 = new_id()
        a = add_note(s, keys, p1, "first body", "first title")
        b = add_note(s, keys, p1 if same_person else new_id(), "second body", "second title")
    return a, b


def _unreadable(session_factory: sessionmaker[Session], keys: Keys, note: uuid.UUID) -> None:
    with pytest.raises(DecryptionFailed), unit_of_work(session_factory) as s:
        read_note(s, keys, note)


def test_ciphertext_moved_to_another_row_fails(
    sealed: Engine, session_factory: sessionmaker[Session], keys: Keys
) -> None:
    a, b = _two_notes(session_factory, keys, same_person=True)
    _swap(
        sealed,
        "UPDATE test_sealed_notes SET body = (SELECT body FROM test_sealed_notes WHERE id = :a) WHERE id = :b",
        a=_db_id(sealed, a),
        b=_db_id(sealed, b),
    )
    _unreadable(session_factory, keys, b)
    with unit_of_work(session_factory) as s:
        assert read_note(s, keys, a) == ("first body", "first title")


def test_ciphertext_moved_to_another_column_fails(
    sealed: Engine, session_factory: sessionmaker[Session], keys: Keys
) -> None:
    a, _ = _two_notes(session_factory, keys, same_person=True)
    _swap(sealed, "UPDATE test_sealed_notes SET title = body WHERE id = :a", a=_db_id(sealed, a))
    _unreadable(session_factory, keys, a)


def test_ciphertext_moved_to_another_person_fails(
    sealed: Engine, session_factory: sessionmaker[Session], keys: Keys
) -> None:
    a, b = _two_notes(session_factory, keys, same_person=False)
    with Session(sealed) as s:
        person_b = s.get(SealedNote, b)
        assert person_b is not None
        pid_b = person_b.person_id
    # Same row and column, re-labelled as another person's: AAD and key both differ.
    _swap(
        sealed,
        "UPDATE test_sealed_notes SET person_id = :p WHERE id = :a",
        p=_db_id(sealed, pid_b),
        a=_db_id(sealed, a),
    )
    _unreadable(session_factory, keys, a)


def test_wrapped_key_moved_to_another_person_fails(
    sealed: Engine, session_factory: sessionmaker[Session], keys: Keys
) -> None:
    a, b = _two_notes(session_factory, keys, same_person=False)
    with Session(sealed) as s:
        na, nb = s.get(SealedNote, a), s.get(SealedNote, b)
        assert na is not None
        assert nb is not None
        pa, pb = na.person_id, nb.person_id
    _swap(
        sealed,
        "UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE subject_id = :pa) WHERE subject_id = :pb",
        pa=_db_id(sealed, pa),
        pb=_db_id(sealed, pb),
    )
    _unreadable(session_factory, keys, b)
    with unit_of_work(session_factory) as s:
        assert read_note(s, keys, a) == ("first body", "first title")


def _db_id(engine: Engine, value: uuid.UUID) -> object:
    """How the Uuid type stores an id on this backend (hex text on SQLite, uuid on PostgreSQL)."""
    return value.hex if engine.dialect.name == "sqlite" else value
