"""Writes, erasure and invalidation meet at the person's lock, on PostgreSQL, through a real server.

Several writes on a person's records sent at the moment a second custodian confirms their erasure each either
commit before the erasure (2xx) or find its tombstone under the person's lock (409 ``erased``), never a 500,
and nothing is left sealed for them once the erasure committed. An erasure or an invalidation that meets the
person's lock held elsewhere (a stalled export worker) answers 503 with Retry-After after a bounded wait, saving
nothing, and goes through once the lock is free. Skipped on SQLite, where BEGIN IMMEDIATE serialises writers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.interviews.models import Incident, InterviewDraft, Redaction
from tests.erasure.support import WHY, ask, decide, racing_desk, remains
from tests.support.actors import Actor
from tests.support.consent import grant, identity
from tests.support.database import ProvisionedDatabase
from tests.support.exports import REDACTED, Desk
from tests.support.interviews import INCIDENT
from tests.support.locks import person_held, refused_after_the_wait
from tests.support.server import at_once, browser, serve


@pytest.fixture
def d(app: FastAPI, database: ProvisionedDatabase) -> Desk:
    return racing_desk(app, database)


def _counts(app: FastAPI, interview: str) -> dict[str, int]:
    """Rows of the person's records that the racing writes add to (and the draft's revision)."""
    iid = uuid.UUID(interview)
    with unit_of_work(app.state.sessionmaker) as s:

        def count(model: Any, column: Any, value: uuid.UUID) -> int:
            return int(s.scalar(select(func.count()).select_from(model).where(column == value)) or 0)

        draft = s.get(InterviewDraft, iid)
        return {
            "draft": draft.revision if draft is not None else 0,
            "incident": count(Incident, Incident.interview_id, iid),
            "redaction": count(Redaction, Redaction.interview_id, iid),
        }


@pytest.mark.parametrize("round_", range(3))
def test_writes_racing_an_erasure_commit_before_it_or_are_refused_after(app: FastAPI, d: Desk, round_: int) -> None:
    first, second = d.custodians
    person, interview, statement = d.told(grant())
    incident = d.doc.post(f"/api/v1/interviews/{interview}/incidents", json=INCIDENT)
    assert incident.status_code == 201, incident.text
    named = d.doc.request("PATCH", f"/api/v1/people/{person}", json=identity("Ashot Grigoryan"))
    assert named.status_code == 200, named.text
    erasure = ask(first, person)
    assert erasure.status_code == 202, erasure.text
    before = _counts(app, interview)
    writes: list[tuple[str, str, str, dict[str, Any]]] = [
        ("draft", "PUT", f"/api/v1/interviews/{interview}/draft", {"text": "Notes taken after the crossing."}),
        ("draft", "PUT", f"/api/v1/interviews/{interview}/draft", {"text": "Notes taken at the border."}),
        ("incident", "POST", f"/api/v1/interviews/{interview}/incidents", INCIDENT),
        (
            "redaction",
            "POST",
            f"/api/v1/interviews/{interview}/redactions",
            {"statement_version_id": statement, "text": REDACTED},
        ),
        ("incident", "POST", f"/api/v1/interviews/{interview}/incidents", INCIDENT),
        ("identity", "PATCH", f"/api/v1/people/{person}", identity("Ashot Grigoryan", born="1971-05-01")),
    ]
    with serve(app) as url:
        keeper = browser(url, second)
        docs = [browser(url, d.doc) for _ in writes]
        try:
            # The erasure is sent in the middle, so that writes land on both sides of it.
            calls: list[Callable[[], httpx.Response]] = [
                partial(b.request, method, path, json=body)
                for b, (_, method, path, body) in zip(docs, writes, strict=True)
            ]
            calls.insert(
                len(calls) // 2,
                partial(keeper.post, f"/api/v1/erasures/{erasure.json()['id']}/decision", json={"confirm": True}),
            )
            answers = at_once(calls)
        finally:
            for b in [keeper, *docs]:
                b.close()
    confirmed = answers.pop(len(writes) // 2)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "erased"
    done: dict[str, int] = {}
    for (kind, *_), r in zip(writes, answers, strict=True):
        assert r.status_code < 300 or (r.status_code, r.json().get("code")) == (409, "erased"), (kind, r.text)
        done[kind] = done.get(kind, 0) + (r.status_code < 300)
    after = _counts(app, interview)
    # Each write that answered 2xx is there once; each refused one changed nothing.
    assert after == {k: before[k] + done.get(k, 0) for k in before}, (answers, done)
    left = remains(app, person)
    assert left.tombstone is not None
    assert not left.has_key  # no fresh key was made for them by a write that came after
    assert not left.identity_opens
    assert left.blind_index_rows == 0  # an identity stored before the erasure was indexed, then deleted with it
    # Once erased, every write is refused: the race above was not won by writes that never met the erasure.
    late = d.doc.request("PUT", f"/api/v1/interviews/{interview}/draft", json={"text": "Later."})
    assert (late.status_code, late.json()["code"]) == (409, "erased")


def _while_held(
    app: FastAPI, database: ProvisionedDatabase, person: str, who: Actor, path: str, body: dict[str, Any]
) -> None:
    """Another connection holds the person's lock and does nothing (a worker stalled mid-build) while ``who``
    posts: the answer is 503 problem+json with Retry-After once the bounded wait ran out, not a hang."""
    limit = app.state.runtime.settings.exports.lock_wait_seconds
    with person_held(database.url, person), serve(app) as url, browser(url, who) as client:
        started = time.monotonic()
        r = client.post(path, json=body, timeout=limit + 10)
        waited = time.monotonic() - started
    refused_after_the_wait(app, r, waited)


def test_an_erasure_meeting_a_held_person_lock_answers_503_then_goes_through(
    app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    first, second = d.custodians
    person = d.person(grant())
    _while_held(app, database, person, first, f"/api/v1/people/{person}/erase", {"reason": WHY})
    asked = ask(first, person)
    assert asked.status_code == 202, asked.text
    erasure = asked.json()["id"]
    _while_held(app, database, person, second, f"/api/v1/erasures/{erasure}/decision", {"confirm": True})
    assert remains(app, person).tombstone is None  # nothing was erased
    assert remains(app, person).has_key
    confirmed = decide(second, erasure)
    assert confirmed.status_code == 200, confirmed.text
    assert remains(app, person).tombstone is not None


def test_an_invalidation_meeting_a_held_person_lock_answers_503_then_goes_through(
    app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    keeper = d.custodians[0]
    person = d.person(grant())
    consent = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]["id"]
    body = {"reason": "Given under pressure from a relative."}
    _while_held(app, database, person, keeper, f"/api/v1/consents/{consent}/invalidate", body)
    shown = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]
    assert shown["invalidation"] is None, shown  # nothing was saved
    r = keeper.post(f"/api/v1/consents/{consent}/invalidate", json=body)
    assert r.status_code == 200, r.text
    assert d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]["invalidation"] is not None
