"""What auditing costs a write: the same unit of work with and without the audit append, in one run.

Each unit of work creates one case the way app.cases.service.create_case does (a code lookup, the
database clock, an insert and a flush) and commits once. The audited variant then appends its event as
the last statement before commit, as every request does. The two variants alternate in rounds on the
same database, so growth of the tables and the write-ahead log weighs on both alike.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.cases.models import Case
from app.core.db import db_now, make_engine, make_sessionmaker, new_id, unit_of_work
from app.core.migrate import upgrade

PG_URL_ENV = "TESTIMONY_TEST_DATABASE_URL"
WARMUP = 20


def _create_case(session: Session, n: int) -> uuid.UUID:
    """The statements create_case issues; its policy check runs no query and is left out."""
    code = f"BENCH-{n:08d}"
    if session.scalars(select(Case.id).where(Case.code == code)).first() is not None:
        raise RuntimeError(f"case {code} exists: the benchmark needs a fresh database")
    case = Case(id=new_id(), code=code, title="Benchmark case", created_at=db_now(session))
    session.add(case)
    session.flush()
    return case.id


class _Workload:
    """Units of work against one database, numbering cases so every code is unique."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._numbers = itertools.count()
        self._actor = f"user:{uuid.uuid4()}"
        self._client = os.urandom(32).hex()

    def plain(self) -> None:
        with unit_of_work(self._factory) as session:
            _create_case(session, next(self._numbers))

    def audited(self) -> None:
        with unit_of_work(self._factory) as session:
            case_id = _create_case(session, next(self._numbers))
            trail = audit.Trail(
                action=audit.AuditAction.CASE_CREATE,
                actor=self._actor,
                actor_roles=("admin",),
                resource_type="case",
                resource_id=str(case_id),
                case_id=case_id,
                request_id=str(new_id()),
                client=self._client,
            )
            audit.append(session, trail, audit.Outcome.ALLOWED, 201)


def _timed(work: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        work()
    return time.perf_counter() - started


def _row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    return {"cases": cases, "audit_events": events}


def measure(url: str, transactions: int, rounds: int = 10, warmup: int = WARMUP) -> dict[str, Any]:
    """Time `transactions` units of work of each variant on a migrated, empty database at `url`."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    try:
        work = _Workload(factory)
        for _ in range(warmup):
            work.plain()
            work.audited()
        rounds = max(1, min(rounds, transactions))
        sizes = [transactions // rounds + (1 if r < transactions % rounds else 0) for r in range(rounds)]
        plain = audited = 0.0
        for r, size in enumerate(sizes):
            # Alternate which variant goes first, so neither always runs on the slightly larger tables.
            if r % 2 == 0:
                plain += _timed(work.plain, size)
                audited += _timed(work.audited, size)
            else:
                audited += _timed(work.audited, size)
                plain += _timed(work.plain, size)
        rows = _row_counts(factory)
    finally:
        engine.dispose()
    plain_ms = plain * 1000 / transactions
    audited_ms = audited * 1000 / transactions
    return {
        "backend": make_url(url).get_backend_name(),
        "transactions": transactions,
        "warmup": warmup,
        "rounds": rounds,
        "without_audit_ms": plain_ms,
        "with_audit_ms": audited_ms,
        "audit_append_ms": audited_ms - plain_ms,
        "ratio": audited_ms / plain_ms,
        "rows": rows,
    }


@contextmanager
def fresh_sqlite() -> Iterator[str]:
    """A migrated SQLite file in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tv-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        yield url


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database created for this run and dropped afterwards."""
    name = f"tv_bench_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def run(transactions: int, rounds: int = 10, postgres_url: str | None = None) -> dict[str, Any]:
    """SQLite always; PostgreSQL too when an admin URL is given (by default from TESTIMONY_TEST_DATABASE_URL)."""
    results: dict[str, Any] = {}
    with fresh_sqlite() as url:
        results["sqlite"] = measure(url, transactions, rounds)
    admin_url = postgres_url if postgres_url is not None else os.environ.get(PG_URL_ENV) or None
    if admin_url:
        with fresh_postgres(admin_url) as url:
            results["postgresql"] = measure(url, transactions, rounds)
    return results
