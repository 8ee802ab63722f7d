"""A consistent snapshot of the running database, and putting one into an empty database.

SQLite: the online backup API copies the whole database in one step into memory, so the snapshot is one
committed state however many writers are busy, and no copy of it ever lies on disk. PostgreSQL: ``pg_dump``
(custom format, one repeatable-read transaction) streamed from its standard output, and ``pg_restore`` into an
empty database in one transaction, as the owner (only the owner reads every table, ``alembic_version`` too).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, make_url, text

from app.core.db import is_sqlite, make_engine
from app.erasure.archive import BackupError

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
PART = 16 * 1024 * 1024
"""A snapshot goes into the backup in parts of this size: a tar member's size is written before its bytes."""


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


def sqlite_parts(database: Path) -> Iterator[bytes]:
    """The snapshot, in parts: one consistent state taken while the service may be writing."""
    if not database.exists():
        raise BackupError(f"no database at {database}")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    memory = sqlite3.connect(":memory:")
    try:
        source.backup(memory)  # all pages in one step: a single read transaction of the source
        image = memory.serialize()
    finally:
        memory.close()
        source.close()
    view = memoryview(image)
    for start in range(0, len(view), PART):
        yield bytes(view[start : start + PART])


def pg_parts(url: str) -> Iterator[bytes]:
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
            yield part
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
