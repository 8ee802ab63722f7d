"""Recall notices and feedback tasks through the real app, on SQLite and PostgreSQL: a withdrawal or an
invalidation touching a person in a downloaded export raises one notice (an export never downloaded raises
none), the notice moves open -> sent -> acknowledged once each way, marking the person's records submitted to
proceedings turns it into a request; each approval and each recall gives a documenter on the case team a task,
closed at once as not_contactable when the person never agreed to re-contact."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.roles import Role
from app.core.db import unit_of_work
from app.exports.models import DisclosureEntry
from tests.support.actors import actor, shift_clock
from tests.support.consent import grant, identity, participation, recontact, record_use_consent
from tests.support.exports import Desk, desk
from tests.support.interviews import consenting_person

WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _ledger(app: FastAPI, export_id: str) -> dict[str, DisclosureEntry]:
    with unit_of_work(app.state.sessionmaker) as s:
        rows = s.scalars(select(DisclosureEntry).where(DisclosureEntry.export_id == uuid.UUID(export_id)))
        return {str(r.person_id): r for r in rows}


def _withdraw_all(d: Desk, person: str) -> None:
    for record in d.doc.get(f"/api/v1/people/{person}/consents").json()["items"]:
        r = d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=WITHDRAW)
        assert r.status_code == 201, r.text


def _contactable(d: Desk) -> str:
    """A person who agreed to be contacted again (until a year from now), with a grant."""
    decisions = {**participation(d.app)["decisions"], "re_contact": True}
    person = consenting_person(d.doc, d.case_id, d.app, decisions=decisions, recontact=recontact())
    record_use_consent(d.doc, person, d.app, grants=[grant()])
    return person


def _recalls(who: Any) -> list[dict[str, Any]]:
    r = who.get("/api/v1/recalls")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_a_withdrawal_recalls_only_from_a_downloaded_export(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    stays = d.person(grant())
    downloaded, _ = d.ready()
    never, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{downloaded}/bundle").status_code == 200
    assert _recalls(d.custodians[0]) == []

    _withdraw_all(d, person)

    notices = _recalls(d.custodians[0])
    assert len(notices) == 1, notices
    notice = notices[0]
    row = _ledger(app, downloaded)[person]
    assert notice["export_id"] == downloaded
    assert notice["ledger_id"] == str(row.id)
    assert notice["recipient_id"] == d.recipient_id
    assert notice["record_id"] == row.record_id is not None
    assert (notice["state"], notice["submitted_to_proceedings"], notice["kind"]) == ("open", False, "demand")
    assert person not in str(notice)  # the notice names the person by their per-export code only
    assert _recalls(d.legal) == notices  # the lawyer who asked sees the notices of their exports
    other = actor(app, "lawyer2", [Role.LEGAL], cases=(uuid.UUID(d.case_id),))
    assert _recalls(other) == []
    # The export never downloaded raised nothing: it goes stale at its download.
    r = d.legal.get(f"/api/v1/exports/{never}/bundle")
    assert (r.status_code, r.json()["code"]) == (409, "stale")
    # A second change of the same person adds no second notice for the same row.
    later = record_use_consent(d.doc, person, app, grants=[grant()])
    assert d.doc.post(f"/api/v1/consents/{later['id']}/withdraw", json=WITHDRAW).status_code == 201
    assert len(_recalls(d.custodians[0])) == 1
    assert stays in _ledger(app, downloaded)  # the person who still consents raised nothing


def test_a_recall_moves_open_sent_acknowledged_once_each(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    _withdraw_all(d, person)
    notice = _recalls(d.custodians[0])[0]
    keeper = d.custodians[1]
    early = keeper.post(f"/api/v1/recalls/{notice['id']}/acknowledged")
    assert (early.status_code, early.json()["code"]) == (409, "state")
    assert d.legal.post(f"/api/v1/recalls/{notice['id']}/sent").status_code == 403

    submitted = keeper.post(
        f"/api/v1/exports/{export}/ledger/{notice['ledger_id']}/submitted", json={"reason": "Filed with the court."}
    )
    assert submitted.status_code == 200, submitted.text
    sent = keeper.post(f"/api/v1/recalls/{notice['id']}/sent")
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert (body["state"], body["submitted_to_proceedings"], body["kind"]) == ("sent", True, "request")
    assert body["sent_at"] is not None
    assert keeper.post(f"/api/v1/recalls/{notice['id']}/sent").status_code == 409
    done = keeper.post(f"/api/v1/recalls/{notice['id']}/acknowledged")
    assert (done.status_code, done.json()["state"]) == (200, "acknowledged")
    assert keeper.post(f"/api/v1/recalls/{notice['id']}/acknowledged").status_code == 409
    missing = keeper.post(f"/api/v1/exports/{export}/ledger/{uuid.uuid4()}/submitted", json={"reason": "Filed."})
    assert missing.status_code == 404


def test_an_invalidation_recalls_too(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    record = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]
    keeper = d.custodians[0]
    r = keeper.post(f"/api/v1/consents/{record['id']}/invalidate", json={"reason": "Given under pressure."})
    assert r.status_code in (200, 201), r.text
    assert [n["export_id"] for n in _recalls(keeper)] == [export]


def test_approvals_and_recalls_give_the_case_documenter_feedback_tasks(app: FastAPI, d: Desk) -> None:
    reachable = _contactable(d)
    unreachable = d.person(grant())  # re-contact refused
    export, _ = d.ready()
    tasks = d.doc.get("/api/v1/feedback-tasks")
    assert tasks.status_code == 200, tasks.text
    items = tasks.json()["items"]
    codes = {p: d.doc.get(f"/api/v1/people/{p}").json()["code"] for p in (reachable, unreachable)}
    by_code = {t["person_code"]: t for t in items}
    assert set(by_code) == set(codes.values())
    assert {t["reason"] for t in items} == {"approval"}
    assert by_code[codes[reachable]]["state"] == "open"
    assert by_code[codes[unreachable]]["state"] == "not_contactable"
    # ids, codes and the owner's username only: never what left or to whom
    assert set(items[0]) == {"id", "case_id", "person_code", "reason", "due_on", "state", "owner"}
    assert {t["owner"] for t in items} == {d.doc.username}
    other = actor(app, "doc2", [Role.DOCUMENTER], cases=(uuid.UUID(d.case_id),))
    assert other.get("/api/v1/feedback-tasks").json()["items"] == []  # their own only
    assert d.legal.get("/api/v1/feedback-tasks").status_code == 403
    # A custodian oversees every task and whose it is, and cannot record an outcome in the owner's place.
    overseen = d.custodians[0].get("/api/v1/feedback-tasks")
    assert overseen.status_code == 200, overseen.text
    assert {(t["person_code"], t["state"], t["owner"]) for t in overseen.json()["items"]} == {
        (t["person_code"], t["state"], t["owner"]) for t in items
    }
    first = items[0]["id"]
    refused = d.custodians[0].post(f"/api/v1/feedback-tasks/{first}/outcome", json={"outcome": "informed"})
    assert refused.status_code == 403

    task = by_code[codes[reachable]]["id"]
    assert other.post(f"/api/v1/feedback-tasks/{task}/outcome", json={"outcome": "informed"}).status_code == 404
    told = d.doc.post(f"/api/v1/feedback-tasks/{task}/outcome", json={"outcome": "informed"})
    assert (told.status_code, told.json()["state"]) == (200, "informed")
    again = d.doc.post(f"/api/v1/feedback-tasks/{task}/outcome", json={"outcome": "not_reached"})
    assert (again.status_code, again.json()["code"]) == (409, "task_done")
    closed = by_code[codes[unreachable]]["id"]
    assert d.doc.post(f"/api/v1/feedback-tasks/{closed}/outcome", json={"outcome": "informed"}).status_code == 409
    bad = d.doc.post(f"/api/v1/feedback-tasks/{task}/outcome", json={"outcome": "maybe"})
    assert bad.status_code == 422

    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    _withdraw_all(d, reachable)
    recall_tasks = [t for t in d.doc.get("/api/v1/feedback-tasks").json()["items"] if t["reason"] == "recall"]
    assert [(t["person_code"], t["state"]) for t in recall_tasks] == [(codes[reachable], "open")]


def test_every_record_a_notice_names_is_in_the_downloaded_bundle(app: FastAPI, d: Desk) -> None:
    """The recipient finds what to destroy: each notice names the record id of records.csv and consent/."""
    people = [d.person(grant()) for _ in range(3)]
    export, _ = d.ready()
    r = d.legal.get(f"/api/v1/exports/{export}/bundle")
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = set(z.namelist())
        in_csv = {row["record"] for row in csv.DictReader(io.StringIO(z.read("records.csv").decode()))}
    for person in people[:2]:
        _withdraw_all(d, person)
    notices = _recalls(d.custodians[0])
    assert len(notices) == 2, notices
    ledger = _ledger(app, export)
    assert {n["record_id"] for n in notices} == {ledger[p].record_id for p in people[:2]}
    for notice in notices:
        assert notice["record_id"] in in_csv
        assert f"consent/{notice['record_id']}.json" in names
        assert ledger[people[0]].code not in str(notice)  # the ledger's own code names nothing in the bundle


def test_marking_submitted_needs_a_fresh_second_factor_and_a_reason_and_is_never_undone(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    export, _ = d.ready()
    row = _ledger(app, export)[person]
    path = f"/api/v1/exports/{export}/ledger/{row.id}/submitted"
    keeper = d.custodians[0]
    missing_reason = keeper.post(path, json={})
    assert missing_reason.status_code == 422
    assert keeper.post(path, json={"reason": "   "}).status_code == 422
    token = keeper.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"})
    assert token.status_code == 201, token.text
    headers = {"authorization": f"Bearer {token.json()['token']}"}
    by_token = keeper.client.post(path, json={"reason": "Filed with the court."}, headers=headers)
    assert (by_token.status_code, by_token.json()["code"]) == (403, "step_up_required")
    shift_clock(app, timedelta(minutes=6))
    stale = keeper.post(path, json={"reason": "Filed with the court."})
    assert (stale.status_code, stale.json()["code"]) == (403, "step_up_required")
    shift_clock(app, timedelta(minutes=-6))
    assert d.legal.post(path, json={"reason": "Filed with the court."}).status_code == 403
    assert not _ledger(app, export)[person].submitted_to_proceedings
    done = keeper.post(path, json={"reason": "Filed with the court on 3 December."})
    assert done.status_code == 200, done.text
    assert done.json()["submitted_to_proceedings"] is True
    marked = _ledger(app, export)[person]
    assert (marked.submitted_reason, marked.submitted_by) == (None, keeper.user_id)  # sealed: nothing in the clear
    sealed = marked.sealed_submitted_reason
    assert sealed is not None
    again = d.custodians[1].post(path, json={"reason": "Again."})
    assert (again.status_code, again.json()["code"]) == (409, "submitted")
    assert _ledger(app, export)[person].sealed_submitted_reason == sealed


def test_deciding_two_records_are_one_person_after_a_download_recalls_what_her_refusal_now_denies(
    app: FastAPI, d: Desk
) -> None:
    """She refused the narrative to UN investigators in one record and granted it in another; a custodian
    decides after the download that both are her: her refusal now reaches the grant, so what left is recalled."""
    granted = d.person(grant())
    refused = consenting_person(d.doc, d.case_id, app)
    no = {
        "purpose": "un_fact_finding",
        "categories": ["narrative_general"],
        "recipient_class": "un_investigative_bodies",
    }
    record_use_consent(d.doc, refused, app, grants=[], refusals=[no])
    export, _ = d.ready()
    bundle = d.legal.get(f"/api/v1/exports/{export}/bundle")
    assert bundle.status_code == 200, bundle.text
    for who in (granted, refused):
        assert d.doc.request("PATCH", f"/api/v1/people/{who}", json=identity()).status_code == 200
    keeper = d.custodians[0]
    [review] = keeper.get("/api/v1/duplicate-reviews").json()["reviews"]
    assert _recalls(keeper) == []
    decided = keeper.post(f"/api/v1/duplicate-reviews/{review['id']}", json={"decision": "duplicate"})
    assert decided.status_code == 200, decided.text
    [notice] = _recalls(keeper)
    row = _ledger(app, export)[granted]
    assert (notice["export_id"], notice["ledger_id"], notice["record_id"]) == (export, str(row.id), row.record_id)
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as z:
        assert f"consent/{notice['record_id']}.json" in z.namelist()


def test_a_not_duplicate_decision_recalls_nothing(app: FastAPI, d: Desk) -> None:
    granted = d.person(grant())
    refused = consenting_person(d.doc, d.case_id, app)
    no = {
        "purpose": "un_fact_finding",
        "categories": ["narrative_general"],
        "recipient_class": "un_investigative_bodies",
    }
    record_use_consent(d.doc, refused, app, grants=[], refusals=[no])
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    for who in (granted, refused):
        assert d.doc.request("PATCH", f"/api/v1/people/{who}", json=identity()).status_code == 200
    keeper = d.custodians[0]
    [review] = keeper.get("/api/v1/duplicate-reviews").json()["reviews"]
    decided = keeper.post(f"/api/v1/duplicate-reviews/{review['id']}", json={"decision": "not_duplicate"})
    assert decided.status_code == 200, decided.text
    assert _recalls(keeper) == []
