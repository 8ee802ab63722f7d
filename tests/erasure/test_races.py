"""Erasure under real concurrency on PostgreSQL, through a real server: custodians asking and confirming at once
erase once; an export download racing an erasure either finished first (and the export gets a recall notice) or
finds the export stale; a legal hold confirmed while an erasure is confirmed either holds (and the erasure is
refused) or comes too late. Skipped on SQLite, where BEGIN IMMEDIATE serialises every writer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import httpx2 as httpx
import pytest
from fastapi import FastAPI

from app.access.roles import Role
from tests.erasure.support import ask, export_state, journal_entries, racing_desk, remains
from tests.support.actors import Actor, actor
from tests.support.consent import grant
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk
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
