"""Erasure under real concurrency on PostgreSQL, through a real server: custodians asking and confirming at once
erase once; an export download racing an erasure either finished first (and the export gets a recall notice) or
finds the export stale; a legal hold confirmed while an erasure is confirmed either holds (and the erasure is
refused) or comes too late. Skipped on SQLite, where BEGIN IMMEDIATE serialises every writer."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from functools import partial

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.roles import Role
from app.people.models import Person
from tests.erasure.support import ask, export_state, journal_entries, racing_desk, remains
from tests.support.actors import Actor, actor
from tests.support.consent import grant, participation
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk
from tests.support.interviews import planned
from tests.support.server import at_once, browser, serve


@pytest.fixture
def d(app: FastAPI, database: ProvisionedDatabase) -> Desk:
    return racing_desk(app, database)


def _at_once(
    app: FastAPI, calls: Sequence[tuple[Actor, str, str, Mapping[str, object] | None]]
) -> list[httpx.Response]:
    with serve(app) as url:
        browsers = [browser(url, who) for who, *_ in calls]
        try:
            return at_once(
                [
                    partial(b.request, method, path, json=body)
                    for b, (_, method, path, body) in zip(browsers, calls, strict=True)
                ]
            )
        finally:
            for b in browsers:
                b.close()


def test_an_erasure_asked_for_and_confirmed_at_once_is_carried_out_once(app: FastAPI, d: Desk) -> None:
    custodians = [*d.custodians, *(actor(app, f"keeper{i}", [Role.CUSTODIAN]) for i in range(3, 5))]
    person = d.person(grant())
    body = {"reason": "The survivor asked."}
    asked = _at_once(app, [(c, "POST", f"/api/v1/people/{person}/erase", body) for c in custodians])
    assert sorted(r.status_code for r in asked) == [202, 409, 409, 409], [r.text for r in asked]
    assert {r.json()["code"] for r in asked if r.status_code == 409} == {"awaiting_confirmation"}
    [made] = [r.json() for r in asked if r.status_code == 202]
    others = [c for c in custodians if str(c.user_id) != made["asked_by"]]
    path = f"/api/v1/erasures/{made['id']}/decision"
    decided = _at_once(app, [(c, "POST", path, {"confirm": True}) for c in others])
    assert sorted(r.status_code for r in decided) == [200, 409, 409], [r.text for r in decided]
    tomb = remains(app, person).tombstone
    assert tomb is not None
    assert [e.person_id for e in journal_entries(app) if e.event == "erasure"] == [tomb.person_id]


@pytest.mark.parametrize("round_", range(2))
def test_a_download_racing_an_erasure_finishes_first_or_finds_the_export_stale(
    app: FastAPI, d: Desk, round_: int
) -> None:
    first, second = d.custodians
    person = d.person(grant())
    export, _ = d.ready(filters={"people": [person, d.person(grant())]})
    erasure = ask(first, person).json()["id"]
    download, confirm = _at_once(
        app,
        [
            (d.legal, "GET", f"/api/v1/exports/{export}/bundle", None),
            (second, "POST", f"/api/v1/erasures/{erasure}/decision", {"confirm": True}),
        ],
    )
    assert confirm.status_code == 200, confirm.text
    status, bundle, notices = export_state(app, export)
    assert (status, bundle) == ("stale", False)
    if download.status_code == 200:
        assert notices == 1  # it left before the erasure: the recipient is asked to return or destroy it
    else:
        assert download.status_code == 409, (download.status_code, download.text)
        # Stale when it waited for the person's lock; no bundle when the erasure committed just before it looked.
        assert download.json()["code"] in ("stale", "no_bundle"), download.text
        assert notices == 0


def test_a_hold_and_an_erasure_confirmed_at_once_never_both_take_effect(app: FastAPI, d: Desk) -> None:
    first, second = d.custodians
    third = actor(app, "keeper3", [Role.CUSTODIAN])
    person = d.person(grant())
    hold = first.post(
        f"/api/v1/people/{person}/legal-hold", json={"reason": "Trial.", "proceedings_reference": "ICC-1"}
    ).json()
    erasure = ask(first, person).json()["id"]
    held, erased = _at_once(
        app,
        [
            (second, "POST", f"/api/v1/legal-holds/{hold['id']}/decision", {"confirm": True}),
            (third, "POST", f"/api/v1/erasures/{erasure}/decision", {"confirm": True}),
        ],
    )
    outcome = (held.status_code, erased.status_code)
    assert outcome in ((200, 409), (409, 200)), [held.text, erased.text]
    if held.status_code == 200:
        assert erased.json()["code"] == "legal_hold"
        assert remains(app, person).has_key
    else:
        assert held.json()["code"] == "erased"
        assert remains(app, person).tombstone is not None


def test_writes_that_waited_on_an_erasure_answer_409_erased_not_500(app: FastAPI, d: Desk) -> None:
    """A write that passed its "not erased" check before the erasure held the person, then waited for the hold,
    is refused once it gets it: the erased person's sealed values no longer open (was a 500 integrity error)."""
    first, second = d.custodians
    person = d.person(grant())
    erasure = ask(first, person).json()["id"]
    writes = [
        (d.doc, "POST", f"/api/v1/people/{person}/interviews", planned()),
        (d.doc, "POST", f"/api/v1/people/{person}/interviews", planned()),
        (d.doc, "POST", f"/api/v1/people/{person}/participation", participation(app)),
    ]
    answers: dict[int, httpx.Response] = {}

    def send(i: int, url: str, who: Actor, method: str, path: str, body: Mapping[str, object]) -> None:
        with browser(url, who) as b:
            answers[i] = b.request(method, path, json=body)

    with serve(app) as url, app.state.sessionmaker() as blocker:
        # Hold the person's row, so the erasure queues first for it and the writes queue behind it, each having
        # found the person not erased yet.
        blocker.execute(select(Person.id).where(Person.id == uuid.UUID(person)).with_for_update())
        path = f"/api/v1/erasures/{erasure}/decision"
        threads = [threading.Thread(target=send, args=(0, url, second, "POST", path, {"confirm": True}))]
        threads[0].start()
        time.sleep(1.0)
        threads += [threading.Thread(target=send, args=(i + 1, url, *w)) for i, w in enumerate(writes)]
        for t in threads[1:]:
            t.start()
        time.sleep(1.5)
        blocker.rollback()
        for t in threads:
            t.join(60)
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["state"] == "erased"
    for i in range(1, len(writes) + 1):
        assert answers[i].status_code == 409, (answers[i].status_code, answers[i].text)
        assert answers[i].json()["code"] == "erased"
