"""Amending and withdrawing at once: of two amendments of one version sent together, exactly one is written,
and the other is a 409, since each holds the person's row before reading whether the version is superseded;
of one withdrawal sent twenty times, one is recorded and the person has one pending erasure request.
Real concurrent requests to a real uvicorn server on PostgreSQL; skipped on SQLite, where BEGIN IMMEDIATE
serialises writers and the interleavings cannot happen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.consent.grant_models import ConsentWithdrawal, ErasureRequest, UseConsent
from app.core.db import unit_of_work
from tests.support.actors import Actor
from tests.support.consent import documenter_team, grant, use_consent
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


def _tabs(doc: Actor, url: str, n: int) -> list[httpx.Client]:
    cookie = doc.client.cookies.get(COOKIE)
    assert cookie is not None
    assert doc.csrf is not None
    headers = {"x-csrf-token": doc.csrf}
    return [httpx.Client(base_url=url, cookies={COOKIE: cookie}, headers=headers, timeout=60) for _ in range(n)]


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> Callable[[], httpx.Response]:
    return lambda: client.post(path, json=body)


def _count(app: FastAPI, model: type[Any]) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_two_amendments_of_one_version_at_once_write_exactly_one(app: FastAPI, url: str) -> None:
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    made = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app))
    assert made.status_code == 201, made.text
    path = f"/api/v1/consents/{made.json()['id']}/amend"
    bodies = [
        use_consent(app, grants=[grant(disclosure_level="deidentified")]),
        use_consent(app, grants=[grant(purpose="research", recipient_class="researchers")]),
        use_consent(app, grants=[grant(disclosure_level="aggregate_only")]),
        use_consent(app, grants=[]),
    ]
    tabs = _tabs(doc, url, len(bodies))
    try:
        answers = at_once([_post(tab, path, body) for tab, body in zip(tabs, bodies, strict=True)])
    finally:
        for tab in tabs:
            tab.close()
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201, 409, 409, 409], [r.text for r in answers]
    assert all(r.json()["fields"] in (["consent_id"], ["amends"]) for r in answers if r.status_code == 409)
    versions = doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "superseded"), (2, "current")]
    assert _count(app, UseConsent) == 2


def test_one_withdrawal_sent_twenty_times_at_once_is_recorded_once(app: FastAPI, url: str) -> None:
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    made = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app)).json()
    other = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app)).json()
    body = {"scope": "all", "mode": "withdraw_and_erase", "received_via": "phone"}
    paths = [f"/api/v1/consents/{made['id']}/withdraw"] * 19 + [f"/api/v1/consents/{other['id']}/withdraw"]
    tabs = _tabs(doc, url, len(paths))
    try:
        answers = at_once([_post(tab, path, body) for tab, path in zip(tabs, paths, strict=True)])
    finally:
        for tab in tabs:
            tab.close()
    assert sorted(r.status_code for r in answers) == [201] * 2 + [409] * 18, [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"already_withdrawn"}
    assert len({r.json()["erasure_request_id"] for r in answers if r.status_code == 201}) == 1
    assert _count(app, ConsentWithdrawal) == 2
    assert _count(app, ErasureRequest) == 1


def test_twelve_wrong_code_words_at_once_meet_the_lookup_limit(app: FastAPI, url: str) -> None:
    """Each lookup is counted before its check, so of many sent at once no more than the limit are compared."""
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    made = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app))
    assert made.status_code == 201, made.text
    tabs = _tabs(doc, url, 12)
    reference = made.json()["reference_code"]
    answers = at_once(
        [
            _post(t, "/api/v1/consents/lookup", {"reference": reference, "code_word": f"guess {i}"})
            for i, t in enumerate(tabs)
        ]
    )
    statuses = [r.status_code for r in answers]
    limit = app.state.runtime.settings.throttle.lookups_per_target
    assert set(statuses) <= {404, 429}
    assert 1 <= statuses.count(404) <= limit
    for t in tabs:
        t.close()
