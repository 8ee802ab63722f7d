"""Export jobs under real concurrency on PostgreSQL: workers on connections of their own race for one job and
exactly one builds it; a withdrawal that holds the person's lock while a build reaches that person is seen by
the build, which leaves the person out. Skipped on SQLite, where BEGIN IMMEDIATE serialises every writer."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from app.access.principal import Principal
from app.access.roles import Role
from app.consent import withdrawal
from app.consent.grant_schemas import WithdrawIn
from app.core.db import db_now, make_engine, make_sessionmaker, unit_of_work
from app.exports import jobs
from app.exports.models import DisclosureEntry, ExportJob, RedactionPin
from app.exports.worker import Worker
from app.people.models import Person
from app.people.records import hold
from tests.support.actors import Actor, actor
from tests.support.consent import grant
from tests.support.database import ProvisionedDatabase
from tests.support.exports import DEIDENTIFIED_NARRATIVE, Desk, desk
from tests.support.server import at_once, serve


@pytest.fixture
def d(app: FastAPI, database: ProvisionedDatabase) -> Desk:
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    return desk(app)


@pytest.fixture
def factories(database: ProvisionedDatabase) -> Iterator[list[sessionmaker[Session]]]:
    """Session factories on engines of their own, as separate worker processes would have."""
    engines = [make_engine(database.url) for _ in range(4)]
    yield [make_sessionmaker(e) for e in engines]
    for e in engines:
        e.dispose()


def _approved(d: Desk) -> str:
    made = d.request()
    assert d.approve(made["id"]).json()["status"] == "approved"
    export: str = made["id"]
    return export


def _ledger(app: FastAPI, export_id: str) -> list[uuid.UUID]:
    with unit_of_work(app.state.sessionmaker) as s:
        return list(
            s.scalars(select(DisclosureEntry.person_id).where(DisclosureEntry.export_id == uuid.UUID(export_id)))
        )


def test_two_workers_racing_for_one_job_build_it_once(
    app: FastAPI, d: Desk, factories: list[sessionmaker[Session]]
) -> None:
    people = {uuid.UUID(d.person(grant())) for _ in range(3)}
    for _ in range(3):
        export = _approved(d)
        workers = [Worker(f, app.state.runtime) for f in factories[:2]]
        worked = at_once([w.run_once for w in workers])
        assert sorted(worked) == [False, True]
        ledger = _ledger(app, export)
        assert sorted(ledger) == sorted(people)  # each person once
        with unit_of_work(app.state.sessionmaker) as s:
            job = s.scalars(select(ExportJob).where(ExportJob.export_id == uuid.UUID(export))).one()
            assert (job.state, job.attempts, job.fencing) == ("done", 1, 1)
        assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "ready"


def test_claims_made_at_once_never_take_one_job_twice(d: Desk, factories: list[sessionmaker[Session]]) -> None:
    d.person(grant())
    exports = {uuid.UUID(_approved(d)) for _ in range(2)}

    def claim(factory: sessionmaker[Session]) -> jobs.Claim | str:
        with unit_of_work(factory) as s:
            return jobs.claim(s, f"w{id(factory)}", db_now(s)) or "none"

    claims = [c for c in at_once([partial(claim, f) for f in factories]) if isinstance(c, jobs.Claim)]
    assert len(claims) == len({c.job_id for c in claims}) <= 2
    assert {c.export_id for c in claims} <= exports
    assert all(c.fencing == 1 for c in claims)


def _waiting_on_a_lock(factory: sessionmaker[Session]) -> bool:
    with factory() as s:
        waiting = s.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


def test_a_withdrawal_holding_the_person_while_a_build_reaches_them_excludes_them(
    app: FastAPI, d: Desk, factories: list[sessionmaker[Session]]
) -> None:
    staying = uuid.UUID(d.person(grant()))
    leaving = uuid.UUID(d.person(grant()))
    consent = d.doc.get(f"/api/v1/people/{leaving}/consents").json()["items"][0]["id"]
    export = _approved(d)
    documenter = Principal(d.doc.user_id, frozenset({Role.DOCUMENTER}), frozenset({uuid.UUID(d.case_id)}))
    # The withdrawal's transaction takes the person's lock first, as the withdrawal service does.
    session = factories[0]()
    person = session.get(Person, leaving)
    assert person is not None
    hold(session, person)
    done = threading.Event()

    def build() -> None:
        Worker(factories[1], app.state.runtime).run_once()
        done.set()

    builder = threading.Thread(target=build)
    builder.start()
    try:
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(factories[2]):
            assert time.monotonic() < deadline, "the build never reached the held person"
            time.sleep(0.05)
        assert not done.is_set()
        withdrawal.withdraw(
            session,
            app.state.runtime,
            documenter,
            uuid.UUID(consent),
            WithdrawIn.model_validate({"scope": "all", "mode": "stop_future_use", "received_via": "phone"}),
        )
        session.commit()
    finally:
        session.close()
        builder.join(60)
    assert done.is_set()
    assert _ledger(app, export) == [staying]
    read = d.legal.get(f"/api/v1/exports/{export}").json()
    assert (read["status"], read["people_count"], read["excluded_count"]) == ("ready", 1, 1)


def test_an_expired_lease_is_reclaimed_by_another_worker(
    app: FastAPI, d: Desk, factories: list[sessionmaker[Session]]
) -> None:
    d.person(grant())
    export = _approved(d)
    with unit_of_work(factories[0]) as s:
        dead = jobs.claim(s, "dead", db_now(s), timedelta(milliseconds=200))
    assert dead is not None
    time.sleep(0.3)
    assert Worker(factories[1], app.state.runtime).run_once() is True
    assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "ready"


def _browser(url: str, who: Actor) -> httpx.Client:
    cookie = who.client.cookies.get("testimony_session")
    assert cookie is not None
    assert who.csrf is not None
    return httpx.Client(
        base_url=url, cookies={"testimony_session": cookie}, headers={"x-csrf-token": who.csrf}, timeout=60
    )


def test_custodians_approving_at_once_approve_once_and_queue_one_job(app: FastAPI, d: Desk) -> None:
    custodians = [*d.custodians, *(actor(app, f"keeper{i}", [Role.CUSTODIAN]) for i in range(3, 5))]
    export = d.request()["id"]
    with serve(app) as url:
        browsers = [_browser(url, c) for c in custodians]
        try:
            answers = at_once(
                [
                    partial(b.post, f"/api/v1/exports/{export}/approve", json={"reason": "Within the purpose."})
                    for b in browsers
                ]
            )
        finally:
            for b in browsers:
                b.close()
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409], [r.text for r in answers]
    read = d.legal.get(f"/api/v1/exports/{export}").json()
    assert (read["status"], len(read["approvals"])) == ("approved", 1)
    with unit_of_work(app.state.sessionmaker) as s:
        assert len(s.scalars(select(ExportJob).where(ExportJob.export_id == uuid.UUID(export))).all()) == 1


def _pins(app: FastAPI, export: str) -> list[tuple[str, str]]:
    with unit_of_work(app.state.sessionmaker) as s:
        pins = s.scalars(select(RedactionPin).where(RedactionPin.export_id == uuid.UUID(export)))
        return [(str(p.statement_version_id), str(p.redaction_id)) for p in pins]


def test_custodians_approving_at_once_pin_only_a_reviewed_redaction_even_as_a_new_one_is_made(
    app: FastAPI, d: Desk
) -> None:
    custodians = [*d.custodians, *(actor(app, f"keeper{i}", [Role.CUSTODIAN]) for i in range(3, 5))]
    _, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    reviewed = d.redact(interview, statement)
    body = {"statement_version_id": statement, "text": "They held us at […] for nine days."}
    for redacting in (False, True):
        export = d.request(categories=["narrative_sexual_violence"], max_disclosure_level="deidentified")["id"]
        for c in custodians:
            [shown] = c.get(f"/api/v1/exports/{export}/review").json()["narratives"]
            assert shown["redaction_id"] == reviewed
        with serve(app) as url:
            browsers = [_browser(url, c) for c in [*custodians, d.doc]]
            try:
                calls: list[Callable[[], httpx.Response]] = [
                    partial(b.post, f"/api/v1/exports/{export}/approve", json={"reason": "Within the purpose."})
                    for b in browsers[:-1]
                ]
                if redacting:  # a documenter prepares a later redaction at that very moment
                    calls.append(partial(browsers[-1].post, f"/api/v1/interviews/{interview}/redactions", json=body))
                answers = at_once(calls)
            finally:
                for b in browsers:
                    b.close()
        if redacting:
            made = answers.pop()
            assert made.status_code == 201, made.text
        statuses = sorted(r.status_code for r in answers)
        read = d.legal.get(f"/api/v1/exports/{export}").json()
        if statuses == [409, 409, 409, 409]:
            # The later redaction committed first: no custodian has read it, so none approves.
            assert redacting
            assert {r.json()["code"] for r in answers} == {"redactions_not_reviewed"}
            assert read["status"] == "requested"
            assert _pins(app, export) == []
        else:
            # One approves, with the redaction every custodian read; the others find the export decided.
            assert statuses == [200, 409, 409, 409], [r.text for r in answers]
            assert (read["status"], len(read["approvals"])) == ("approved", 1)
            assert _pins(app, export) == [(statement, reviewed)]
        with unit_of_work(app.state.sessionmaker) as s:
            queued = s.scalars(select(ExportJob).where(ExportJob.export_id == uuid.UUID(export))).all()
            assert len(queued) == (1 if read["status"] == "approved" else 0)
