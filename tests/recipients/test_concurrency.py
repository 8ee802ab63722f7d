"""Two admins confirming deny-list changes at once write one version; on PostgreSQL with real
concurrent requests (SQLite serialises writers, so the race cannot happen there)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from app.core.db import unit_of_work
from app.recipients.models import DenyListVersion
from tests.access.test_concurrency import _post, admin_browsers, served
from tests.support.server import at_once

__all__ = ["served"]


def test_two_deny_list_changes_confirmed_at_once_write_one_version(served: tuple[FastAPI, str]) -> None:
    app, url = served
    admins = admin_browsers(app, url, 4, "10.0.9")
    asked = [
        admins[i].put("/api/v1/deny-list", json={"jurisdictions": [country]}).json()["pending_confirmation"]["id"]
        for i, country in ((0, "RU"), (1, "BY"))
    ]
    answers = at_once(
        [_post(admins[2 + i], f"/api/v1/confirmations/{asked[i]}", {"decision": "confirm"}) for i in range(2)]
    )
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    assert sorted(r.json()["status"] for r in answers) == ["confirmed", "void"]
    applied = next(r.json() for r in answers if r.json()["status"] == "confirmed")
    with unit_of_work(app.state.sessionmaker) as s:
        versions = [(v.version, v.jurisdictions, str(v.confirmation_id)) for v in s.scalars(select(DenyListVersion))]
    assert versions == [(1, applied["payload"]["jurisdictions"], applied["id"])]
