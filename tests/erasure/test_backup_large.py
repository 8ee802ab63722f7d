"""A SQLite backup of a database far larger than one part streams through: it is never held whole in memory, the
snapshot it reads from lives in a private directory beside the database for the length of the backup only (gone
after success and after a failure half-way), and only the encrypted backup stays on disk."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import tracemalloc
from pathlib import Path

import pytest

from app.erasure import snapshots
from tests.erasure.backups import AgeKey, backup_env, run
from tests.support.database import ProvisionedDatabase

BALLAST = 48 * 1024 * 1024
"""Three parts' worth of incompressible rows: the old backup held all of it (and a copy) in memory."""


@pytest.fixture
def sqlite_file(database: ProvisionedDatabase) -> Path:
    if database.is_postgres:
        pytest.skip("the SQLite snapshot; PostgreSQL's pg_dump streams from its standard output")
    return snapshots.sqlite_path(database.url)


def _ballast(path: Path) -> str:
    """Fill the database with incompressible rows in a table of their own; the SHA-256 of what was written."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE ballast (n INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        row = 256 * 1024
        for n in range(BALLAST // row):
            data = os.urandom(row)
            digest.update(data)
            conn.execute("INSERT INTO ballast VALUES (?, ?)", (n, data))
        conn.commit()
    finally:
        conn.close()
    return digest.hexdigest()


def _snapshot_dirs(where: Path) -> list[Path]:
    return sorted(where.glob(".testimony-snapshot-*"))


def test_a_large_sqlite_database_is_backed_up_in_parts_and_leaves_only_ciphertext(
    sqlite_file: Path, database: ProvisionedDatabase, cli_env: dict[str, str], key: AgeKey, tmp_path: Path
) -> None:
    written = _ballast(sqlite_file)
    size = sqlite_file.stat().st_size
    assert size > 2 * snapshots.PART
    place = tmp_path / "backups"
    place.mkdir()
    beside = set(sqlite_file.parent.iterdir())
    temp = set(Path(tempfile.gettempdir()).iterdir())
    out = place / "large.age"
    tracemalloc.start()
    try:
        taken = run(backup_env(cli_env, database, key), "backup", "--out", str(out))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert taken.exit_code == 0, taken.output
    assert peak < 8 * 1024 * 1024, (peak, size)  # streamed a buffer at a time: not the database, nor a part
    # Nothing but the ciphertext stays: no snapshot beside the database, no temporary file anywhere else.
    assert set(sqlite_file.parent.iterdir()) == beside
    assert not {p for p in set(Path(tempfile.gettempdir()).iterdir()) - temp if "testimony" in p.name}
    assert [p.name for p in place.iterdir()] == ["large.age"]
    raw = out.read_bytes()
    assert b"SQLite format 3" not in raw
    # The backup holds the whole database: the parts put together are the database with every row.
    plain = subprocess.run(
        ["/usr/bin/age", "--decrypt", "--identity", str(key.identity)], input=raw, capture_output=True, check=True
    ).stdout
    copy = tmp_path / "copy.db"
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar, copy.open("wb") as f:
        parts = sorted(m.name for m in tar.getmembers() if m.name.startswith("database/"))
        assert len(parts) >= 3
        for name in parts:
            member = tar.extractfile(name)
            assert member is not None
            f.write(member.read())
    conn = sqlite3.connect(copy)
    try:
        digest = hashlib.sha256()
        for (data,) in conn.execute("SELECT data FROM ballast ORDER BY n"):
            digest.update(data)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    assert digest.hexdigest() == written


def test_the_snapshot_is_private_while_read_and_gone_when_the_backup_stops_half_way(
    sqlite_file: Path,
) -> None:
    _ballast(sqlite_file)
    parts = snapshots.sqlite_parts(sqlite_file)
    length, source = next(parts)
    assert length == snapshots.PART
    assert source.read(16) == b"SQLite format 3\x00"
    [private] = _snapshot_dirs(sqlite_file.parent)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    parts.close()  # the backup failed (age died, the disk filled): the caller closes the parts
    assert not _snapshot_dirs(sqlite_file.parent)
    assert not private.exists()
