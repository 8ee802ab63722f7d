"""The build at scale, on SQLite and PostgreSQL: a batch of people is read with a fixed number of queries
whatever its size, the batch loader gives the very histories the one-person loader gives, and records go in
the order of their per-export opaque ids, so two recipients' bundles cannot be lined up by position."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from app.consent import history
from app.core.db import db_now, unit_of_work
from app.crypto.derive import Purpose
from app.exports import build, jobs, levels
from app.people.models import Person
from tests.support.built import unpack
from tests.support.consent import grant, record_use_consent, register_recipient
from tests.support.exports import Desk, desk
from tests.support.interviews import same_person

WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


@contextmanager
def counted(factory: sessionmaker[Session]) -> Iterator[list[str]]:
    """Every SQL statement the factory's engine runs inside the block."""
    engine = factory.kw["bind"]
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _approved(d: Desk, **overrides: Any) -> str:
    made = d.request(**overrides)
    for i in range(made["approvals_needed"]):
        assert d.approve(made["id"], i).status_code == 200
    export: str = made["id"]
    return export


def _withdrawn(d: Desk) -> str:
    person = d.person(grant())
    consents = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    assert d.doc.post(f"/api/v1/consents/{consents[0]['id']}/withdraw", json=WITHDRAW).status_code == 201
    return person


def test_a_batch_costs_the_same_queries_for_two_people_or_eight(app: FastAPI, d: Desk) -> None:
    people = [d.person(grant()) for _ in range(7)] + [_withdrawn(d)]
    for person in people[:3]:  # a second record for some: more rows, not more queries
        record_use_consent(d.doc, person, app, grants=[grant(categories=["alleged_perpetrators"])])
    _approved(d)
    factory, runtime = app.state.sessionmaker, app.state.runtime
    with unit_of_work(factory) as s:
        mine = jobs.claim(s, "worker-a", db_now(s), timedelta(seconds=60))
    assert mine is not None
    ids = sorted(uuid.UUID(p) for p in people)
    with counted(factory) as small:
        assert build.decide_batch(factory, runtime, mine, ids[:2]) == 2
    with counted(factory) as large:
        assert build.decide_batch(factory, runtime, mine, ids[2:]) == 5  # the withdrawn person is left out
    reads = [q for q in large if q.lstrip().upper().startswith("SELECT")]
    assert len(reads) == len([q for q in small if q.lstrip().upper().startswith("SELECT")])
    # 17: the fence reads the database clock to check the lease has not lapsed (a worker whose lease lapsed
    # writes nothing), one query a batch more than before that check existed; still none per person.
    assert len(reads) <= 17


def test_the_batch_loader_gives_the_histories_one_by_one_gives(app: FastAPI, d: Desk) -> None:
    plain = d.person(grant())
    twice = d.person(grant())
    record_use_consent(d.doc, twice, app, grants=[grant(categories=["alleged_perpetrators"])])
    withdrawn = _withdrawn(d)
    none = d.person()
    _, _, person, twin = same_person(d.doc, d.case_id, app)
    for who in (person, twin):
        record_use_consent(d.doc, who, app, grants=[grant()])
    ids = [uuid.UUID(p) for p in (plain, twice, withdrawn, none, person, twin)]
    runtime = app.state.runtime
    with unit_of_work(app.state.sessionmaker) as s:
        people = list(s.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.id)))
        batched = history.histories_of(s, runtime, people)
        one_by_one = {p.id: history.history_of(s, runtime, p) for p in people}
    assert batched == one_by_one
    assert batched[uuid.UUID(withdrawn)].withdrawals
    assert len(batched[uuid.UUID(twin)].records) == 2  # its own record, and the refusals of its twin's


def test_records_go_in_opaque_id_order_not_person_order(app: FastAPI, d: Desk, tmp_path: Path) -> None:
    people = sorted(uuid.UUID(d.person(grant())) for _ in range(7))
    second = register_recipient(app)
    exports = [_approved(d), _approved(d, recipient_id=second)]
    worker = d.worker()
    assert worker.run_once()
    assert worker.run_once()
    export_key = app.state.runtime.derived_key(Purpose.EXPORT_PSEUDONYM)
    orders = []
    for n, (export, recipient) in enumerate(zip(exports, (d.recipient_id, second), strict=True)):
        bundle = unpack(app, export, tmp_path / str(n))
        records = [json.loads(line) for line in bundle.files["records.jsonl"].decode().splitlines()]
        assert [r["record"] for r in records] == sorted(r["record"] for r in records)
        consents = [name for name in bundle.files if name.startswith("consent/")]
        assert consents == sorted(consents)
        whose = {levels.pseudonym(export_key, uuid.UUID(recipient), p): p for p in people}
        orders.append([whose[r["pseudonym"]] for r in records])
    assert sorted(orders[0]) == sorted(orders[1]) == people
    # Random per export: both in person order has a chance of 1 in 5040², so a build ordered by person fails.
    assert orders != [people, people]
