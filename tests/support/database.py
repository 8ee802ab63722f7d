"""Per-test databases copied from one migrated template (SQLite file or PostgreSQL TEMPLATE)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Row, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from app.core.db import grant_app_role
from app.core.migrate import upgrade

PG_URL_ENV = "TESTIMONY_TEST_DATABASE_URL"
PG_APP_ROLE_ENV = "TESTIMONY_TEST_APP_ROLE"
DROPPERS = 3
"""Databases dropped at once, beside the tests: PostgreSQL 15's DROP DATABASE waits for a checkpoint (seconds on a
busy server), and drops waiting together share one."""
DROPS_PENDING = 12
"""At most this many test databases wait for their drop; the next test waits for the oldest drop first."""


def postgres_admin_url() -> str | None:
    return os.environ.get(PG_URL_ENV) or None


def postgres_app_role() -> str | None:
    return os.environ.get(PG_APP_ROLE_ENV) or None


@dataclass
class ProvisionedDatabase:
    url: str
    """What the application connects with (the app role on PostgreSQL)."""
    owner_url: str
    """The schema owner's URL: for tamper drills and dumps, never for the app."""
    path: Path | None = None
    app_role: str | None = None

    def create_tables(self, metadata: MetaData) -> None:
        """Create test-only tables as the owner, granted to the app role like real ones."""
        engine = create_engine(self.owner_url, poolclass=NullPool)
        with engine.begin() as conn:
            metadata.create_all(conn)
            if self.is_postgres and self.app_role:
                grant_app_role(conn, metadata, self.app_role)
        engine.dispose()

    def as_owner(self, sql: str, **params: object) -> list[Row[Any]]:
        """Run SQL as the schema owner, as someone with write access to the database would.

        ``uuid.UUID`` parameters are passed the way the Uuid type stores them (hex text on SQLite).
        """
        engine = create_engine(self.owner_url, poolclass=NullPool)
        sqlite = engine.dialect.name == "sqlite"
        bound = {k: v.hex if sqlite and isinstance(v, uuid.UUID) else v for k, v in params.items()}
        try:
            with engine.begin() as conn:
                result = conn.execute(text(sql), bound)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    @property
    def source(self) -> str:
        """What Templates.database() copies when this database is the source: its file or its name."""
        if self.path is not None:
            return str(self.path)
        name = make_url(self.owner_url).database
        assert name is not None
        return name


class Templates:
    """Makes the migrated template once per session (per xdist worker) and a copy per test.

    PostgreSQL databases are named after the worker's process id, so parallel workers never
    copy from or drop one another's templates.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.admin_url = postgres_admin_url()
        self.app_role = postgres_app_role()
        self._template: str | None = None
        self._kept: list[str] = []
        self._dropper: ThreadPoolExecutor | None = None
        self._drops: deque[Future[None]] = deque()

    def _admin(self) -> Engine:
        assert self.admin_url is not None
        return create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def _db_url(self, name: str, user: str | None = None) -> str:
        assert self.admin_url is not None
        url = make_url(self.admin_url).set(database=name)
        if user is not None:
            url = url.set(username=user, password=None)
        return url.render_as_string(hide_password=False)

    def template(self) -> str:
        if self._template is not None:
            return self._template
        if self.admin_url is None:
            path = self.workdir / "template.db"
            upgrade(f"sqlite:///{path}")
            self._template = str(path)
        else:
            name = f"tv_tmpl_{os.getpid()}"
            engine = self._admin()
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
            upgrade(self._db_url(name), app_role=self.app_role)
            self._template = name
        return self._template

    def _copy(self, source: str, tmp_path: Path, name: str) -> ProvisionedDatabase:
        if self.admin_url is None:
            path = tmp_path / f"{name}.db"
            shutil.copyfile(source, path)
            if Path(f"{source}-wal").exists():  # a source still in WAL mode keeps recent pages there
                shutil.copyfile(f"{source}-wal", f"{path}-wal")
            url = f"sqlite:///{path}"
            return ProvisionedDatabase(url=url, owner_url=url, path=path)
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        engine.dispose()
        return ProvisionedDatabase(
            url=self._db_url(name, self.app_role), owner_url=self._db_url(name), app_role=self.app_role
        )

    def _drop(self, name: str) -> None:
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    def _drop_later(self, name: str) -> None:
        """Drop a test's database beside the next tests (its connections are ended by the drop's FORCE). A drop that
        failed fails the test that waits for it, or the session's end."""
        if self._dropper is None:
            self._dropper = ThreadPoolExecutor(DROPPERS, thread_name_prefix="drop-test-database")
        while self._drops and (self._drops[0].done() or len(self._drops) >= DROPS_PENDING):
            self._drops.popleft().result()
        self._drops.append(self._dropper.submit(self._drop, name))

    def _drops_done(self) -> None:
        while self._drops:
            self._drops.popleft().result()
        if self._dropper is not None:
            self._dropper.shutdown()

    @contextmanager
    def database(self, tmp_path: Path, source: str | None = None) -> Iterator[ProvisionedDatabase]:
        """A fresh copy of the migrated template, or of ``source`` (a database kept with keep())."""
        if self.admin_url is None:
            yield self._copy(source or self.template(), tmp_path, "testimony")
            return
        name = f"tv_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        try:
            yield self._copy(source or self.template(), tmp_path, name)
        finally:
            self._drop_later(name)

    def keep(self, label: str) -> ProvisionedDatabase:
        """A copy of the migrated template that lives until the session ends, to build a shared world
        in once and then copy per test. Close every connection to it before copying it."""
        name = f"tv_{label}_{os.getpid()}"
        if self.admin_url is not None:
            self._drop(name)  # left by a killed run whose process id this one reuses
        db = self._copy(self.template(), self.workdir, name)
        self._kept.append(name)
        return db

    def drop_template(self) -> None:
        if self.admin_url is not None:
            self._drops_done()
            for name in [*self._kept, self._template]:
                if name is not None:
                    self._drop(name)
