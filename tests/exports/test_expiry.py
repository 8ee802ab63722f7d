"""Spent bundles and repeated requests, through the real app on SQLite and PostgreSQL: the sweeper (run by the
worker, or ``testimony exports sweep``) deletes the bundle of a ready export whose downloads are used up or
whose period ended and marks it, leaving the others; a deactivated recipient is refused a download even of a
bundle that holds nobody; a stale export is asked for again once while that copy is open, even when the
requests come at once (PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import unit_of_work
from app.exports.models import ExportRequest
from app.keys import datakeys
from tests.support.consent import grant
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk, desk
from tests.support.server import at_once, serve

WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _kept(app: FastAPI, export: str) -> bool:
    """Whether the export's bundle is still there: its file and its data key."""
    with unit_of_work(app.state.sessionmaker) as s:
        key = datakeys.has_data_key(s, uuid.UUID(export))
    return key and app.state.runtime.bundles.exists(uuid.UUID(export).hex)


def _swept_events(app: FastAPI) -> list[str | None]:
    with unit_of_work(app.state.sessionmaker) as s:
        return list(s.scalars(select(AuditEvent.resource_id).where(AuditEvent.action == "export.sweep")))


def test_the_worker_deletes_a_used_up_bundle_and_marks_it(app: FastAPI, d: Desk) -> None:
    d.person(grant())
    spent, _ = d.ready()
    kept, _ = d.ready()
    for _ in range(3):
        assert d.legal.get(f"/api/v1/exports/{spent}/bundle").status_code == 200
    assert d.legal.get(f"/api/v1/exports/{kept}/bundle").status_code == 200
    assert d.worker().run_once() is False  # nothing to build; the sweep ran
    assert not _kept(app, spent)
    assert _kept(app, kept)
    read = d.legal.get(f"/api/v1/exports/{spent}").json()
    assert (read["status"], read["downloads"]) == ("ready", 3)
    assert read["bundle_removed_at"] is not None
    assert d.legal.get(f"/api/v1/exports/{kept}").json()["bundle_removed_at"] is None
    r = d.legal.get(f"/api/v1/exports/{spent}/bundle")
    assert (r.status_code, r.json()["code"]) == (409, "download_limit")
    assert _swept_events(app) == [spent]
    assert d.worker().sweep_bundles() == []  # once: a swept export is not swept again
    assert d.legal.get(f"/api/v1/exports/{kept}/bundle").status_code == 200


def test_the_sweep_command_deletes_a_bundle_whose_period_ended(app: FastAPI, d: Desk, cli_env: dict[str, str]) -> None:
    d.person(grant())
    old, _ = d.ready()
    fresh, _ = d.ready()
    with unit_of_work(app.state.sessionmaker) as s:  # the old one became ready eight days ago
        row = s.get(ExportRequest, uuid.UUID(old))
        assert row is not None
        row.updated_at -= timedelta(days=8)
    run = CliRunner().invoke(cli, ["exports", "sweep"], env=cli_env)
    assert run.exit_code == 0, run.output
    assert old in run.output
    assert fresh not in run.output
    assert "deleted the bundles of 1 export" in run.output
    assert not _kept(app, old)
    assert _kept(app, fresh)
    r = d.legal.get(f"/api/v1/exports/{old}/bundle")
    assert (r.status_code, r.json()["code"]) == (409, "expired")
    assert d.legal.get(f"/api/v1/exports/{fresh}/bundle").status_code == 200


def test_a_deactivated_recipient_is_refused_even_a_bundle_of_nobody(app: FastAPI, d: Desk) -> None:
    d.person()  # in scope, with no grant: the ledger holds nobody, the bundle its exclusions
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}").json()["people_count"] == 0
    r = d.admin.request("PATCH", f"/api/v1/recipients/{d.recipient_id}", json={"active": False})
    assert r.status_code == 200, r.text
    got = d.legal.get(f"/api/v1/exports/{export}/bundle")
    assert (got.status_code, got.json()["code"]) == (409, "stale")
    assert not _kept(app, export)
    assert d.legal.get(f"/api/v1/exports/{export}").json()["downloads"] == 0


def _stale(d: Desk) -> str:
    leaves = d.person(grant())
    export, _ = d.ready()
    for record in d.doc.get(f"/api/v1/people/{leaves}/consents").json()["items"]:
        assert d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=WITHDRAW).status_code == 201
    r = d.legal.get(f"/api/v1/exports/{export}/bundle")
    assert (r.status_code, r.json()["code"]) == (409, "stale")
    return export


def _copies(app: FastAPI, export: str) -> list[ExportRequest]:
    with unit_of_work(app.state.sessionmaker) as s:
        return list(s.scalars(select(ExportRequest).where(ExportRequest.copy_of == uuid.UUID(export))))


def test_a_stale_export_is_asked_for_again_once_while_the_copy_is_open(app: FastAPI, d: Desk) -> None:
    d.person(grant())
    export = _stale(d)
    first = d.legal.post(f"/api/v1/exports/{export}/request-again")
    assert first.status_code == 201, first.text
    second = d.legal.post(f"/api/v1/exports/{export}/request-again")
    assert (second.status_code, second.json()["code"]) == (409, "asked_again")
    assert len(_copies(app, export)) == 1
    # Once that copy is rejected, the stale export may be asked for again.
    rejected = d.custodians[0].post(f"/api/v1/exports/{first.json()['id']}/reject", json={"reason": "Too broad."})
    assert rejected.status_code == 200, rejected.text
    third = d.legal.post(f"/api/v1/exports/{export}/request-again")
    assert third.status_code == 201, third.text
    assert len(_copies(app, export)) == 2


def test_requests_again_at_once_make_one_copy(app: FastAPI, d: Desk, database: ProvisionedDatabase) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE; the race is PostgreSQL's")
    d.person(grant())
    export = _stale(d)
    cookie = d.legal.client.cookies.get("testimony_session")
    assert cookie is not None
    headers = {"x-csrf-token": d.legal.csrf or ""}
    with serve(app) as url:

        def again(client: httpx.Client) -> Any:
            return client.post(f"/api/v1/exports/{export}/request-again")

        clients = [
            httpx.Client(base_url=url, cookies={"testimony_session": cookie}, headers=headers, timeout=60)
            for _ in range(6)
        ]
        try:
            answers = at_once([partial(again, c) for c in clients])
        finally:
            for c in clients:
                c.close()
    assert sorted(r.status_code for r in answers) == [201] + [409] * 5, [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"asked_again"}
    assert len(_copies(app, export)) == 1
