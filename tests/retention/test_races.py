"""Retention under real concurrency on PostgreSQL (skipped on SQLite, where writers are serialised): two
custodians deciding the same item at once leave one decision and one 409; two runs at once delete a person's
due items once, the second finding nothing left under the person's lock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.principal import Principal
from app.access.roles import Role
from app.core.db import unit_of_work
from app.retention import run
from app.retention.models import RetentionReview
from tests.support.actors import Actor, actor, now
from tests.support.consent import documenter_team, participation, recontact
from tests.support.database import ProvisionedDatabase
from tests.support.interviews import consenting_person
from tests.support.server import at_once, serve

COOKIE = "testimony_session"


@pytest.fixture
def url(app: FastAPI, database: ProvisionedDatabase) -> Iterator[str]:
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    with serve(app) as base:
        yield base


def _client(who: Actor, url: str) -> httpx.Client:
    cookie = who.client.cookies.get(COOKIE)
    assert cookie is not None
    assert who.csrf is not None
    return httpx.Client(base_url=url, cookies={COOKIE: cookie}, headers={"x-csrf-token": who.csrf}, timeout=60)


def _due_person(app: FastAPI) -> tuple[str, Actor, Actor]:
    doc, case_id = documenter_team(app)
    decisions = {**participation(app)["decisions"], "re_contact": True}
    person = consenting_person(doc, case_id, app, decisions=decisions, recontact=recontact(10))
    contact = {"contact": {**recontact(10), "value": "+374 10 000000"}}
    assert doc.request("PATCH", f"/api/v1/people/{person}", json=contact).status_code == 200
    return person, actor(app, "keeper1", [Role.CUSTODIAN]), actor(app, "keeper2", [Role.CUSTODIAN])


def test_two_custodians_deciding_one_item_at_once(app: FastAPI, url: str) -> None:
    person, first, second = _due_person(app)
    [item] = first.get("/api/v1/retention/due").json()["items"]
    body = {k: item[k] for k in ("person_id", "category", "due_on")}
    clients = [_client(first, url), _client(second, url)]
    try:
        answers = at_once(
            [
                lambda: clients[0].post("/api/v1/retention/reviews", json={**body, "decision": "delete"}),
                lambda: clients[1].post(
                    "/api/v1/retention/reviews", json={**body, "decision": "keep", "reason": "Court."}
                ),
            ]
        )
    finally:
        for c in clients:
            c.close()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    with unit_of_work(app.state.sessionmaker) as s:
        count = s.scalar(
            select(func.count()).select_from(RetentionReview).where(RetentionReview.person_id == uuid.UUID(person))
        )
    assert count == 1


def test_two_runs_at_once_delete_once(app: FastAPI, database: ProvisionedDatabase) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    person, custodian, _ = _due_person(app)
    [item] = custodian.get("/api/v1/retention/due").json()["items"]
    body = {k: item[k] for k in ("person_id", "category", "due_on")} | {"decision": "delete"}
    decided = custodian.post("/api/v1/retention/reviews", json=body)
    assert decided.status_code == 201, decided.text
    at = now(app) + timedelta(days=11)

    def one_run() -> list[str]:
        with unit_of_work(app.state.sessionmaker) as s:
            result = run.delete_due(s, app.state.runtime, Principal.system("test"), uuid.UUID(person), at)
            return [c.value for c in result.deleted]

    results = at_once([one_run, one_run])
    assert sorted(results) == [[], ["contact"]]
    with unit_of_work(app.state.sessionmaker) as s:
        [review] = s.scalars(select(RetentionReview).where(RetentionReview.person_id == uuid.UUID(person))).all()
        assert review.deleted_at is not None
