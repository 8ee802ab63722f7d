"""The build at scale, on SQLite and PostgreSQL: a batch of people is decided, and a page of their records and
consent files written, with a fixed number of queries whatever its size; the batch loaders give what the
one-person loaders give; and records go in the order of their per-export opaque ids, so two recipients'
bundles cannot be lined up by position."""

from __future__ import annotations

import dataclasses
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

from app.consent import history, record_pages, standard_record
from app.consent.vocabulary import DisclosureLevel
from app.core.db import db_now, unit_of_work
from app.crypto.derive import Purpose
from app.exports import build, jobs, levels, material, writer
from app.exports.consent_file import consent_document
from app.exports.models import DisclosureEntry, ExportRequest
from app.keys import datakeys
from app.people.models import Person
from tests.support import tagged
from tests.support.attachments import raw_upload, recording_interview
from tests.support.built import confirm_statement, unpack
from tests.support.consent import grant, record_use_consent, register_recipient, use_consent
from tests.support.exports import TEXT, Desk, desk
from tests.support.interviews import INCIDENT, same_person

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


def _selects(seen: list[str]) -> list[str]:
    return [q for q in seen if q.lstrip().upper().startswith("SELECT")]


MATERIAL = ["narrative_general", "narrative_sexual_violence", "alleged_perpetrators", "photos_other"]
"""A statement's narrative, an incident's perpetrators and a photo: each read from its own table."""


def _testified(d: Desk, photo: bytes, *, twice: bool = False) -> str:
    """A person with a grant of ``MATERIAL`` (and a second record when ``twice``) and an interview holding a
    confirmed statement, an incident and a photo."""
    interview = recording_interview(d.app, d.doc, d.case_id)
    person: str = interview["person_id"]
    record_use_consent(d.doc, person, d.app, grants=[grant(categories=MATERIAL)])
    if twice:
        record_use_consent(d.doc, person, d.app, grants=[grant(categories=["narrative_general"])])
    confirm_statement(d.doc, interview["id"], TEXT)
    assert d.doc.post(f"/api/v1/interviews/{interview['id']}/incidents", json=INCIDENT).status_code == 201
    assert raw_upload(d.doc, interview["id"], photo, kind="photo").status_code == 201
    return person


def _decided(app: FastAPI, d: Desk, people: list[str]) -> uuid.UUID:
    """An export of these people, approved and decided (its ledger written), not yet written: its id."""
    export = uuid.UUID(_approved(d, categories=MATERIAL, filters={"people": people}))
    factory, runtime = app.state.sessionmaker, app.state.runtime
    with unit_of_work(factory) as s:
        mine = jobs.claim(s, "worker-a", db_now(s), timedelta(seconds=60), export_id=export)
    assert mine is not None
    assert build.decide_batch(factory, runtime, mine, sorted(uuid.UUID(p) for p in people)) == len(people)
    return export


def test_writing_a_page_costs_the_same_queries_for_two_people_or_six(app: FastAPI, d: Desk, tmp_path: Path) -> None:
    photo = tagged.drawn("jpeg", tmp_path)
    people = [_testified(d, photo, twice=n % 2 == 0) for n in range(8)]
    factory, runtime = app.state.sessionmaker, app.state.runtime
    reads = []
    for n, some in enumerate((people[:2], people[2:])):
        export = _decided(app, d, some)
        with unit_of_work(factory) as s:
            row = s.get(ExportRequest, export)
            assert row is not None
            with counted(factory) as seen:
                written = writer.write(s, runtime, row, 0)
            assert written.records == len(some)
            placed = s.scalars(select(DisclosureEntry.record_id).where(DisclosureEntry.export_id == export)).all()
            assert len(set(placed)) == len(some)
            assert None not in placed
        reads.append(_selects(seen))
        records = [
            json.loads(line) for line in unpack(app, str(export), tmp_path / str(n)).files["records.jsonl"].splitlines()
        ]
        assert len(records) == len(some)
        for record in records:  # the statement, the incident and the photo were each read, and went
            (interview,) = record["interviews"]
            assert interview["statement"]["text"] == TEXT
            assert interview["incidents"][0]["perpetrators"] == INCIDENT["perpetrators"]
            assert len(interview["attachments"]) == 1
    assert len(reads[0]) == len(reads[1]), (len(reads[0]), len(reads[1]))


def test_the_page_loaders_give_what_one_person_at_a_time_gives(app: FastAPI, d: Desk, tmp_path: Path) -> None:
    photo = tagged.drawn("jpeg", tmp_path)
    people = [uuid.UUID(_testified(d, photo, twice=n == 0)) for n in range(3)]
    withdrawn = _withdrawn(d)
    consents = d.doc.get(f"/api/v1/people/{people[1]}/consents").json()["items"]
    amended = use_consent(app, grants=[grant(categories=["narrative_general"])])
    r = d.doc.post(f"/api/v1/consents/{consents[0]['id']}/amend", json=amended)
    assert r.status_code == 201, r.text
    everyone = [*people, uuid.UUID(withdrawn), uuid.UUID(d.person())]
    runtime = app.state.runtime
    ids = levels.OpaqueIds()
    with unit_of_work(app.state.sessionmaker) as s:
        found = list(s.scalars(select(Person).where(Person.id.in_(everyone)).order_by(Person.id)))
        keys = datakeys.loaded(s, everyone)
        now = db_now(s)
        paged = record_pages.opened_current(s, runtime, found, now)
        page = material.page_of(s, uuid.uuid4(), everyone)
        for person in found:
            current = record_pages.current_versions(s, [person.id])[person.id]
            one_by_one = [
                dataclasses.replace(standard_record.open_version(s, runtime, person, row), now=now) for row in current
            ]
            assert paged[person.id] == one_by_one
            alone = material.page_of(s, uuid.uuid4(), [person.id])
            made = [
                material.record_of(s, runtime, person, level, MATERIAL, lambda _source: MATERIAL, ids, None, p)
                for level in (DisclosureLevel.NAMED_PROTECTED, DisclosureLevel.PSEUDONYMOUS)
                for p in (page, alone)
            ]
            assert made[0] == made[1]
            assert made[2] == made[3]
            grants = [g["id"] for o in paged[person.id] for g in o.read.model_dump(mode="json")["grants"]]
            files = {
                consent_document(paged[person.id], runtime.forms, person, level, grants, MATERIAL, ids, None)
                == consent_document(one_by_one, runtime.forms, person, level, grants, MATERIAL, ids, None)
                for level in DisclosureLevel
            }
            assert files == {True}
        del keys
    assert len(paged[people[0]]) == 2  # two records
    assert paged[people[1]][0].row.version == 2  # the amended record's current version
    assert paged[uuid.UUID(withdrawn)][0].read.withdrawals
    assert page.interviews.latest
    assert page.interviews.incidents
    assert page.interviews.attachments


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


def test_records_go_in_the_ledger_codes_order_not_person_order(app: FastAPI, d: Desk, tmp_path: Path) -> None:
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
        with unit_of_work(app.state.sessionmaker) as s:
            ledger = s.execute(
                select(DisclosureEntry.record_id)
                .where(DisclosureEntry.export_id == uuid.UUID(export))
                .order_by(DisclosureEntry.code)
            ).scalars()
            assert [r["record"] for r in records] == list(ledger)  # random codes, made per row and export
        consents = [name for name in bundle.files if name.startswith("consent/")]
        assert consents == [f"consent/{r['record']}.json" for r in records]
        whose = {levels.pseudonym(export_key, uuid.UUID(recipient), p): p for p in people}
        orders.append([whose[r["pseudonym"]] for r in records])
    assert sorted(orders[0]) == sorted(orders[1]) == people
    # Random per export: both in person order has a chance of 1 in 5040², so a build ordered by person fails.
    assert orders != [people, people]
