"""Building an approved export with the real worker, on SQLite and PostgreSQL: decide() per category at the
database clock, one level per person (the most protective that the categories left allow), the ledger written
once, and a worker whose lease was taken over writing nothing under its stale fencing token."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.db import db_now, unit_of_work
from app.exports import build, jobs
from app.exports.models import DisclosureEntry, ExportJob
from app.exports.schemas import ExportStatus
from tests.support.actors import shift_clock
from tests.support.consent import grant
from tests.support.exports import NAMED_IDENTITY, Desk, desk
from tests.support.interviews import planned

WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _ledger(app: FastAPI, export_id: str) -> dict[uuid.UUID, DisclosureEntry]:
    with unit_of_work(app.state.sessionmaker) as s:
        rows = s.scalars(select(DisclosureEntry).where(DisclosureEntry.export_id == uuid.UUID(export_id)))
        return {r.person_id: r for r in rows}


def _job(app: FastAPI, export_id: str) -> ExportJob:
    with unit_of_work(app.state.sessionmaker) as s:
        return s.scalars(select(ExportJob).where(ExportJob.export_id == uuid.UUID(export_id))).one()


def _approved(d: Desk, **overrides: Any) -> str:
    made = d.request(**overrides)
    for i in range(made["approvals_needed"]):
        r = d.approve(made["id"], i)
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    export: str = made["id"]
    return export


def test_each_person_gets_one_level_and_only_what_they_allow_at_it(app: FastAPI, d: Desk) -> None:
    named = d.person(NAMED_IDENTITY)
    # Identity may go named, but the narrative only pseudonymously: the person is pseudonymous, without identity.
    mixed = d.person(
        grant(categories=["identity"], disclosure_level="named_protected"),
        grant(categories=["narrative_general"], disclosure_level="pseudonymous"),
    )
    plain = d.person(grant())
    nothing = d.person()
    withdrawn = d.person(grant())
    consents = d.doc.get(f"/api/v1/people/{withdrawn}/consents").json()["items"]
    assert d.doc.post(f"/api/v1/consents/{consents[0]['id']}/withdraw", json=WITHDRAW).status_code == 201
    export = _approved(d, categories=["identity", "narrative_general"], max_disclosure_level="named_protected")

    assert d.worker().run_once() is True
    assert d.worker().run_once() is False  # nothing left to claim

    read = d.legal.get(f"/api/v1/exports/{export}").json()
    assert read["status"] == "ready"
    assert (read["people_count"], read["excluded_count"]) == (3, 2)
    assert read["level_counts"] == {"named_protected": 1, "pseudonymous": 2}
    assert read["bundle_written"] is True
    ledger = _ledger(app, export)
    assert set(ledger) == {uuid.UUID(p) for p in (named, mixed, plain)}
    assert uuid.UUID(nothing) not in ledger
    assert uuid.UUID(withdrawn) not in ledger
    assert (ledger[uuid.UUID(named)].level, ledger[uuid.UUID(named)].categories) == (
        "named_protected",
        ["identity", "narrative_general"],
    )
    assert (ledger[uuid.UUID(mixed)].level, ledger[uuid.UUID(mixed)].categories) == (
        "pseudonymous",
        ["narrative_general"],
    )
    granted = d.doc.get(f"/api/v1/people/{mixed}/consents").json()["items"][0]
    narrative_grant = next(g["id"] for g in granted["grants"] if g["categories"] == ["narrative_general"])
    assert ledger[uuid.UUID(mixed)].grant_ids == [narrative_grant]
    assert all(e.recipient_id == uuid.UUID(d.recipient_id) for e in ledger.values())
    assert all(not e.submitted_to_proceedings for e in ledger.values())
    assert len({e.code for e in ledger.values()}) == 3
    assert all(e.code not in {str(e.person_id), e.person_id.hex} for e in ledger.values())
    job = _job(app, export)
    assert (job.state, job.attempts, job.fencing, job.lease_owner) == ("done", 1, 1, None)
    with unit_of_work(app.state.sessionmaker) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "export.build")).all()
        assert [(e.resource_id, e.outcome) for e in events] == [(export, "allowed")]


def test_a_withdrawal_after_the_build_leaves_the_person_in_the_ledger_for_a_recall(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    export = _approved(d)
    assert d.worker().run_once()
    consent = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]["id"]
    assert d.doc.post(f"/api/v1/consents/{consent}/withdraw", json=WITHDRAW).status_code == 201
    assert uuid.UUID(person) in _ledger(app, export)


def test_a_worker_whose_lease_was_taken_over_writes_nothing(app: FastAPI, d: Desk) -> None:
    people = [d.person(grant()) for _ in range(3)]
    export = _approved(d)
    factory, runtime = app.state.sessionmaker, app.state.runtime
    with unit_of_work(factory) as s:
        stale = jobs.claim(s, "worker-a", db_now(s), timedelta(seconds=30))
    assert stale is not None
    assert stale.fencing == 1
    shift_clock(app, timedelta(seconds=31))  # worker-a stopped beating: its lease runs out
    other = d.worker()
    assert other.sweep().requeued == [uuid.UUID(export)]
    fresh = other.claim()
    assert fresh is not None
    assert fresh.fencing == 2
    # worker-a wakes up and carries on under its old token: every write is refused.
    with pytest.raises(jobs.LeaseLost):
        build.decide_batch(factory, runtime, stale, [uuid.UUID(p) for p in people])
    with unit_of_work(factory) as s, pytest.raises(jobs.LeaseLost):
        jobs.finish(s, stale, jobs.JobState.DONE, db_now(s))
    assert build.run_build(factory, runtime, stale) is None
    assert _ledger(app, export) == {}
    assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "approved"
    assert build.run_build(factory, runtime, fresh) is not None
    assert set(_ledger(app, export)) == {uuid.UUID(p) for p in people}
    job = _job(app, export)
    assert (job.state, job.attempts, job.fencing) == ("done", 2, 2)


def test_a_build_resumed_after_its_worker_died_decides_each_person_once(app: FastAPI, d: Desk) -> None:
    people = [d.person(grant()) for _ in range(3)]
    export = _approved(d)
    factory, runtime = app.state.sessionmaker, app.state.runtime
    with unit_of_work(factory) as s:
        dead = jobs.claim(s, "worker-a", db_now(s), timedelta(seconds=30))
    assert dead is not None
    build.decide_batch(factory, runtime, dead, [uuid.UUID(people[0])])  # then the worker dies
    first = _ledger(app, export)[uuid.UUID(people[0])]
    shift_clock(app, timedelta(seconds=31))
    assert d.worker().run_once() is True
    ledger = _ledger(app, export)
    assert set(ledger) == {uuid.UUID(p) for p in people}
    assert ledger[uuid.UUID(people[0])].code == first.code  # decided once, not again
    assert d.legal.get(f"/api/v1/exports/{export}").json()["people_count"] == 3


def test_a_job_whose_workers_keep_dying_fails(app: FastAPI, d: Desk) -> None:
    d.person(grant())
    export = _approved(d)
    for _ in range(jobs.MAX_ATTEMPTS):
        worker = d.worker()
        worker.sweep()
        assert worker.claim() is not None  # and dies
        shift_clock(app, jobs.LEASE + timedelta(seconds=1))
    swept = d.worker().sweep()
    assert swept.failed == [uuid.UUID(export)]
    assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "failed"
    assert _job(app, export).state == "failed"
    assert d.worker().run_once() is False


def test_the_scope_follows_the_people_and_interview_date_filters(app: FastAPI, d: Desk) -> None:
    soon, later, never = (d.person(grant()) for _ in range(3))
    for person, days in ((soon, 0), (later, 10)):
        when = (datetime.now(UTC) + timedelta(days=days, hours=2)).isoformat()
        assert d.doc.post(f"/api/v1/people/{person}/interviews", json=planned(scheduled_at=when)).status_code == 201
    start = (date.today() + timedelta(days=5)).isoformat()
    by_date = _approved(d, filters={"interviewed_from": start})
    by_name = _approved(d, filters={"people": [soon, never]})
    assert d.worker().run_once()
    assert d.worker().run_once()
    assert set(_ledger(app, by_date)) == {uuid.UUID(later)}
    assert set(_ledger(app, by_name)) == {uuid.UUID(soon), uuid.UUID(never)}
    read = d.legal.get(f"/api/v1/exports/{by_date}").json()
    assert (read["people_count"], read["excluded_count"]) == (1, 0)  # the others were never in scope


def test_a_person_erased_between_the_decisions_and_the_bundle_is_left_out_of_it(app: FastAPI) -> None:
    """The erasure commits after the person was decided into the ledger and before the bundle is written: the bundle
    leaves them out (nothing of them opens any more) instead of the whole build failing."""
    from tests.erasure.support import erase

    d = desk(app)
    people = [d.person(grant()) for _ in range(3)]
    made = d.request()
    d.review(made["id"])
    assert d.approve(made["id"]).status_code == 200

    def erase_before_writing(stage: str, done: int, _total: int) -> None:
        if (stage, done) == ("write", 0):
            erase(*d.custodians, people[0])

    assert d.worker().build_one(uuid.UUID(made["id"]), progress=erase_before_writing) is ExportStatus.READY
    export = d.legal.get(f"/api/v1/exports/{made['id']}").json()
    assert export["status"] == "ready", export
    # A download finds an erased person in the ledger and stays on the safe side: stale, to be asked for again.
    refused = d.legal.get(f"/api/v1/exports/{made['id']}/bundle")
    assert (refused.status_code, refused.json()["code"]) == (409, "stale"), refused.text
    assert d.legal.post(f"/api/v1/exports/{made['id']}/request-again").status_code == 201
