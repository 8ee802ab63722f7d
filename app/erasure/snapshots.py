"""A consistent snapshot of the running database, and putting one into an empty database.

SQLite: the online backup API copies the whole database in one step into a file in a private directory beside
the database (removed once read, or on any failure), so the snapshot is one committed state however many
writers are busy, and it is read in parts rather than held whole in memory. PostgreSQL: ``pg_dump``
(custom format, one repeatable-read transaction) streamed from its standard output, and ``pg_restore`` into an
empty database in one transaction, as the owner (only the owner reads every table, ``alembic_version`` too).
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, make_url, text

from app.core.db import is_sqlite, make_engine
from app.erasure.archive import BackupError

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
PART = 16 * 1024 * 1024
"""A snapshot goes into the backup in parts of this size: a tar member's size is written before its bytes."""
Part = tuple[int, BinaryIO]
"""A part's length, and where to read exactly that many bytes of it from."""


def kind(url: str) -> str:
    return SQLITE if is_sqlite(url) else POSTGRESQL


def sqlite_path(url: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise BackupError("only a SQLite database in a file (sqlite:///PATH) can be backed up this way")
    return Path(url.removeprefix("sqlite:///"))


def tool(name: str) -> str:
    """A PostgreSQL client program (Debian package postgresql-client), else a clear refusal."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install the Debian package postgresql-client")
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL (no driver name, no password) and an environment carrying the password, so it is never on a
    command line where ``ps`` shows it."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def sqlite_parts(database: Path) -> Generator[Part]:
    """The snapshot, in parts: one consistent state taken while the service may be writing.

    The backup API copies every page in one step (a single read transaction of the source) into a file in a
    private directory (0700) made beside the database, on the disk that already holds it, never in the backup's
    directory (a removable disk, say); each part is streamed from that file by its reader, so the database is
    never held in memory, and the directory is removed once the parts are read or anything fails (the caller
    closes this generator: ``contextlib.closing``)."""
    if not database.exists():
        raise BackupError(f"no database at {database}")
    private = Path(tempfile.mkdtemp(prefix=".testimony-snapshot-", dir=database.parent))  # mode 0700
    try:
        copy = private / "snapshot.db"
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # all pages in one step: a single read transaction of the source
            finally:
                target.close()
        finally:
            source.close()
        with copy.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            for start in range(0, size, PART):
                yield min(PART, size - start), f  # the reader takes exactly that many bytes: f moves on
    finally:
        shutil.rmtree(private, ignore_errors=True)


def pg_parts(url: str) -> Generator[Part]:
    """``pg_dump --format=custom`` of the database, in parts as it streams out."""
    conninfo, env = _libpq(url)
    process = subprocess.Popen(  # noqa: S603 - a fixed program and a URL as one argument, no shell
        [tool("pg_dump"), "--format=custom", "--no-password", "--dbname", conninfo],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    finished = False
    try:
        while part := process.stdout.read(PART):
            yield len(part), io.BytesIO(part)
        said = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            raise BackupError(f"pg_dump failed: {_first_error(said) or process.returncode}")
        finished = True
    finally:
        if not finished and process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def _engine(url: str) -> Engine:
    return make_engine(url, pool=False)


_OBJECTS = """
SELECT 'TABLE', format('%I', c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'f')
UNION ALL
SELECT 'VIEW', format('%I', c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'v'
UNION ALL
SELECT 'SEQUENCE', format('%I', c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'S'
UNION ALL
SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public'
UNION ALL
SELECT 'TYPE', format('%I', t.typname) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r')
"""


def pg_objects(url: str) -> list[tuple[str, str]]:
    """What the database's ``public`` schema holds: (kind, quoted name)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return [(str(k), str(n)) for k, n in conn.execute(text(_OBJECTS))]
    finally:
        engine.dispose()


def pg_refuse_unless_empty(url: str) -> None:
    held = pg_objects(url)
    if held:
        raise BackupError(
            f"the database is not empty ({len(held)} objects in schema public): restore into an empty database"
        )


def pg_drop_everything(url: str) -> None:
    """Undo a restore that failed half-way: drop every object of schema ``public`` (it was empty before)."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            for kind_, name in conn.execute(text(_OBJECTS)).all():
                conn.execute(text(f"DROP {kind_} IF EXISTS {name} CASCADE"))
    finally:
        engine.dispose()


class PgRestore:
    """``pg_restore`` into the empty database in one transaction, fed the dump's parts as they are decrypted."""

    def __init__(self, url: str) -> None:
        conninfo, env = _libpq(url)
        self._process = subprocess.Popen(  # noqa: S603 - a fixed program and a URL as one argument, no shell
            [
                tool("pg_restore"),
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",  # the migrations grant the application role afresh (app/core/db.py)
                "--no-password",
                "--dbname",
                conninfo,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )

    def write(self, data: bytes) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(data)
        except BrokenPipeError:
            self.finish()  # pg_restore stopped early: its own reason
            raise BackupError("pg_restore stopped before the end of the dump") from None

    def finish(self) -> None:
        process = self._process
        assert process.stdin is not None
        assert process.stderr is not None
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
        said = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        if process.wait() != 0:
            raise BackupError(f"pg_restore failed: {_first_error(said) or process.returncode}")

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def _first_error(said: str) -> str:
    """The tool's first error line, cut short: never its CONTEXT lines, which may quote a row being copied."""
    for line in said.splitlines():
        if "error:" in line or "FATAL" in line:
            return line.strip()[:300]
    return ""
