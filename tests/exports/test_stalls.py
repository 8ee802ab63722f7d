"""A stalled export worker cannot hold people up: on PostgreSQL its sessions carry a statement timeout and an
idle-in-transaction timeout, so a worker stuck inside a transaction loses its connection and its locks; a
withdrawal that meets a person's lock held elsewhere answers 503 with Retry-After after a bounded wait instead
of hanging; and a worker whose lease lapsed can neither fence a transaction, renew, nor finish its job."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import db_now, make_engine, make_sessionmaker, unit_of_work
from app.exports import jobs
from app.exports.models import ExportJob
from app.exports.worker import Worker, session_settings
from app.people.models import Person
from app.people.records import hold
from tests.support.consent import grant
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk, desk
from tests.support.locks import person_held, refused_after_the_wait

WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


@pytest.fixture
def pg(database: ProvisionedDatabase) -> None:
    if not database.is_postgres:
        pytest.skip("session timeouts and lock_timeout are PostgreSQL's; SQLite has one writer and a busy timeout")


def _worker_engine(database: ProvisionedDatabase, settings: Settings, **exports: int) -> Engine:
    changed = settings.model_copy(update={"exports": settings.exports.model_copy(update=exports)})
    return make_engine(database.url, pg_settings=session_settings(changed))


@pytest.fixture
def stalled(database: ProvisionedDatabase, settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = _worker_engine(
        database, settings, worker_idle_in_transaction_seconds=1, worker_statement_timeout_seconds=2
    )
    yield make_sessionmaker(engine)
    engine.dispose()


def _consent_of(d: Desk, person: str) -> str:
    consent: str = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]["id"]
    return consent


def _withdrawals(d: Desk, person: str) -> int:
    return len(d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]["withdrawals"])


def test_the_worker_sessions_carry_their_timeouts(pg: None, database: ProvisionedDatabase, settings: Settings) -> None:
    engine = make_engine(database.url, pg_settings=session_settings(settings))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1min"
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "5min"
    finally:
        engine.dispose()


def test_a_withdrawal_meeting_a_held_person_lock_answers_503_then_succeeds(
    pg: None, app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    """A transaction holds the person's lock and does nothing (a worker that stopped mid-build): the
    withdrawal waits exports.lock_wait_seconds, then answers 503 problem+json with Retry-After, saving nothing."""
    person = d.person(grant())
    consent = _consent_of(d, person)
    with person_held(database.url, person):
        started = time.monotonic()
        r = d.doc.post(f"/api/v1/consents/{consent}/withdraw", json=WITHDRAW)
        waited = time.monotonic() - started
    refused_after_the_wait(app, r, waited)
    assert r.json()["status"] == 503
    assert _withdrawals(d, person) == 0  # nothing was saved
    again = d.doc.post(f"/api/v1/consents/{consent}/withdraw", json=WITHDRAW)
    assert again.status_code == 201, again.text
    assert _withdrawals(d, person) == 1


def test_a_worker_stalled_inside_a_transaction_loses_its_locks(
    pg: None, app: FastAPI, d: Desk, stalled: sessionmaker[Session]
) -> None:
    """The worker's session holds a person's lock and stalls: PostgreSQL ends it after the idle timeout, the
    lock goes with it, and a withdrawal then goes through at once."""
    person = d.person(grant())
    consent = _consent_of(d, person)
    session = stalled()
    try:
        row = session.get(Person, uuid.UUID(person))
        assert row is not None
        hold(session, row)
        time.sleep(2.5)  # stalled past worker_idle_in_transaction_seconds
        started = time.monotonic()
        r = d.doc.post(f"/api/v1/consents/{consent}/withdraw", json=WITHDRAW)
        assert r.status_code == 201, r.text
        assert time.monotonic() - started < app.state.runtime.settings.exports.lock_wait_seconds
        with pytest.raises(DBAPIError, match="idle-in-transaction timeout"):  # its connection is gone
            session.execute(select(Person.id).where(Person.id == uuid.UUID(person))).all()
    finally:
        session.close()


def test_a_stuck_statement_of_the_worker_is_cancelled(pg: None, stalled: sessionmaker[Session]) -> None:
    with stalled() as s, pytest.raises(OperationalError, match="statement timeout"):
        s.execute(text("SELECT pg_sleep(5)"))


def test_a_worker_whose_lease_lapsed_can_neither_fence_renew_nor_finish(app: FastAPI, d: Desk) -> None:
    """On either database: the lease ran out and no sweeper has queued the job again yet."""
    d.person(grant())
    made = d.request()
    assert d.approve(made["id"]).json()["status"] == "approved"
    factory = app.state.sessionmaker
    with unit_of_work(factory) as s:
        mine = jobs.claim(s, "slow", db_now(s), timedelta(milliseconds=300))
    assert mine is not None
    with unit_of_work(factory) as s:
        jobs.hold_fence(s, mine)  # within the lease: fenced
    time.sleep(0.5)
    with unit_of_work(factory) as s:
        with pytest.raises(jobs.LeaseLost):
            jobs.hold_fence(s, mine)
    with unit_of_work(factory) as s:
        assert jobs.renew(s, mine, db_now(s)) is False
        with pytest.raises(jobs.LeaseLost):
            jobs.finish(s, mine, jobs.JobState.DONE, db_now(s))
    with unit_of_work(factory) as s:
        job = s.scalars(select(ExportJob).where(ExportJob.id == mine.job_id)).one()
        assert (job.state, job.finished_at) == ("running", None)
    # The sweeper queues it again and another worker builds it.
    assert Worker(factory, app.state.runtime).run_once() is True
    assert d.legal.get(f"/api/v1/exports/{made['id']}").json()["status"] == "ready"
