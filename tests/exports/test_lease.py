"""A build slower than its lease keeps it, on SQLite and PostgreSQL: each build transaction renews the lease as
it takes the fence, and the heartbeat waits for the write lock (SQLite) or the job row (PostgreSQL) within the
lease's margin instead of giving up. The slow steps are real: SQLAlchemy's cursor hook makes each ledger insert
and the bundle's read of the approvals sleep inside the build's own transactions, which on SQLite hold the one
write lock the heartbeat needs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, select

from app.core.config import Settings
from app.core.db import db_now, make_engine, make_sessionmaker, unit_of_work
from app.exports import build, jobs
from app.exports.models import ExportJob
from app.exports.schemas import ExportStatus
from app.exports.worker import Heartbeat, session_settings
from tests.support.consent import grant
from tests.support.database import ProvisionedDatabase
from tests.support.exports import desk

LEASE = timedelta(seconds=1)
BEAT = timedelta(milliseconds=250)
SLOW = {"INSERT INTO disclosure_ledger": 0.4, "FROM export_approvals": 1.3}
"""Seconds a statement sleeps before it runs: each person's decide transaction (one per person below), and the
bundle's write transaction, which alone outlasts the lease."""


@contextmanager
def slowed(app: FastAPI) -> Iterator[None]:
    engine: Engine = app.state.sessionmaker.kw["bind"]

    def slow(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        for marker, seconds in SLOW.items():
            if marker in statement:
                time.sleep(seconds)

    event.listen(engine, "before_cursor_execute", slow)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", slow)


def test_a_build_slower_than_its_lease_keeps_it(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    d = desk(app)
    for _ in range(4):
        d.person(grant())
    made = d.request()
    assert d.approve(made["id"]).json()["status"] == "approved"
    factory, export_id = app.state.sessionmaker, uuid.UUID(made["id"])
    with unit_of_work(factory) as s:
        mine = jobs.claim(s, "slow", db_now(s), LEASE, export_id=export_id)
    assert mine is not None

    def build_slowly() -> ExportStatus | None:
        with Heartbeat(factory, mine, LEASE, BEAT):
            return build.run_build(factory, app.state.runtime, mine, batch=1)

    started = time.monotonic()
    with slowed(app):
        status = build_slowly()
    took = time.monotonic() - started

    assert status is ExportStatus.READY  # before: None, the lease lost between two decide transactions
    assert took > 2 * LEASE.total_seconds()  # the build did outlast its lease
    assert "export heartbeat failed" not in caplog.text  # a beat meeting the build's write lock is no failure
    assert d.legal.get(f"/api/v1/exports/{made['id']}").json()["status"] == "ready"
    with unit_of_work(factory) as s:
        job = s.scalars(select(ExportJob).where(ExportJob.id == mine.job_id)).one()
        assert (job.state, job.attempts, job.fencing) == ("done", 1, mine.fencing)  # never claimed again


def test_on_postgresql_the_heartbeat_renews_beside_a_long_bundle_transaction(
    app: FastAPI, database: ProvisionedDatabase, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The build's last transaction (the bundle) holds the job row for longer than the lease and than the
    worker's statement timeout; the heartbeat, on the worker's own connections, commits renewals meanwhile
    instead of waiting behind it (and being cancelled by the timeout: "export heartbeat failed"). Seen from a
    connection of its own while the bundle's transaction is still open."""
    if not database.is_postgres:
        pytest.skip("row lock modes are PostgreSQL's; on SQLite a beat waits for the one write lock by design")
    d = desk(app)
    for _ in range(3):
        d.person(grant())
    made = d.request()
    assert d.approve(made["id"]).json()["status"] == "approved"
    export_id = uuid.UUID(made["id"])
    timeouts = settings.model_copy(
        update={"exports": settings.exports.model_copy(update={"worker_statement_timeout_seconds": 1})}
    )
    worker = make_engine(database.url, pg_settings=session_settings(timeouts))
    watcher = make_engine(database.url)
    factory = make_sessionmaker(worker)
    seen: list[tuple[datetime, datetime]] = []

    def beats() -> tuple[datetime, datetime]:
        with watcher.connect() as c:
            row = c.execute(
                select(ExportJob.heartbeat_at, ExportJob.lease_expires_at).where(ExportJob.export_id == export_id)
            ).one()
            assert row[0] is not None
            assert row[1] is not None
            return row[0], row[1]

    def slow_bundle(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM export_approvals" in statement:  # inside the bundle's transaction, which holds the job row
            seen.append(beats())
            time.sleep(3 * LEASE.total_seconds())
            seen.append(beats())

    try:
        with unit_of_work(factory) as s:
            mine = jobs.claim(s, "slow", db_now(s), LEASE, export_id=export_id)
        assert mine is not None
        event.listen(worker, "before_cursor_execute", slow_bundle)
        with Heartbeat(factory, mine, LEASE, BEAT):
            status = build.run_build(factory, app.state.runtime, mine)
    finally:
        worker.dispose()
        watcher.dispose()
    assert status is ExportStatus.READY
    assert len(seen) == 2
    (beat_before, _), (beat_after, lease_after) = seen
    assert beat_after > beat_before  # renewals committed while the bundle's transaction held the row
    assert lease_after > beat_before + 2 * LEASE  # the lease moved on with them
    assert "export heartbeat failed" not in caplog.text
