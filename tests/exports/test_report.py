"""The survivor's data report and the disclosure ledger through the real app, on SQLite and PostgreSQL: for a
person in three exports, one of them recalled and one submitted to proceedings, the report lists exactly the
ledger's exports with their recipients, purposes, dates and levels, the recall sent and the feedback still owed;
it names no staff member, no internal id and no other person; Armenian and Russian are marked unreviewed;
auditors read the ledger (ids and codes) and nothing else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.roles import Role
from app.core.db import unit_of_work
from app.exports.models import DisclosureEntry
from app.recipients.models import Recipient
from tests.support.actors import Actor, actor
from tests.support.consent import grant, participation, recontact, record_use_consent, register_recipient
from tests.support.exports import Desk, desk
from tests.support.interviews import consenting_person

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _ledger(app: FastAPI, person: str) -> list[DisclosureEntry]:
    with unit_of_work(app.state.sessionmaker) as s:
        rows = list(s.scalars(select(DisclosureEntry).where(DisclosureEntry.person_id == uuid.UUID(person))))
        for r in rows:
            s.expunge(r)
    return sorted(rows, key=lambda r: (r.decided_at, r.id))


def _name(app: FastAPI, recipient_id: uuid.UUID) -> str:
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(Recipient, recipient_id)
        assert row is not None
        return row.names[0]


def _three_exports(d: Desk) -> tuple[str, str, list[str]]:
    """A contactable person and another, in three exports to two recipients; the first downloaded, then the
    person withdraws (a recall, sent), the second submitted to proceedings."""
    decisions = {**participation(d.app)["decisions"], "re_contact": True}
    person = consenting_person(d.doc, d.case_id, d.app, decisions=decisions, recontact=recontact())
    record_use_consent(d.doc, person, d.app, grants=[grant()])
    other = d.person(grant())
    second_recipient = register_recipient(d.app)
    exports = [d.ready()[0], d.ready(recipient_id=second_recipient)[0], d.ready()[0]]
    assert d.legal.get(f"/api/v1/exports/{exports[0]}/bundle").status_code == 200
    for record in d.doc.get(f"/api/v1/people/{person}/consents").json()["items"]:
        assert d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=WITHDRAW).status_code == 201
    [notice] = d.custodians[0].get("/api/v1/recalls").json()["items"]
    assert notice["export_id"] == exports[0]
    assert d.custodians[0].post(f"/api/v1/recalls/{notice['id']}/sent").status_code == 200
    row = next(r for r in _ledger(d.app, person) if str(r.export_id) == exports[1])
    submitted = d.custodians[0].post(
        f"/api/v1/exports/{exports[1]}/ledger/{row.id}/submitted", json={"reason": "Filed with the court."}
    )
    assert submitted.status_code == 200, submitted.text
    return person, other, exports


def _team_custodian(d: Desk) -> Actor:
    return actor(d.app, "keeper3", [Role.CUSTODIAN], cases=(uuid.UUID(d.case_id),))


def test_the_report_matches_the_ledger(app: FastAPI, d: Desk) -> None:
    person, other, exports = _three_exports(d)
    custodian = _team_custodian(d)
    r = custodian.get(f"/api/v1/people/{person}/disclosure-report.json")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["language"], report["review"]) == ("en", "source")
    ledger = _ledger(app, person)
    assert len(ledger) == 3
    assert [
        (e["recipient"], e["date"], e["submitted_to_proceedings"], e["recall"] is not None) for e in report["exports"]
    ] == [
        (_name(app, row.recipient_id), row.decided_at.date().isoformat(), row.submitted_to_proceedings, i == 0)
        for i, row in enumerate(ledger)
    ]
    assert [str(row.export_id) for row in ledger] == exports
    assert report["exports"][0]["recall"].startswith("We asked them to return or destroy it on ")
    assert [e["submitted_to_proceedings"] for e in report["exports"]] == [False, True, False]
    assert {e["purpose"] for e in report["exports"]} != {"un_fact_finding"}  # the form's words, not the term
    # Three approvals and one recall still to be told to the contactable person.
    pending = sorted(t["about"] for t in report["pending"])
    assert pending == sorted(
        ["That your information was given to someone"] * 3 + ["That we asked for your information back"]
    )

    page = custodian.get(f"/api/v1/people/{person}/disclosure-report")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    for row in ledger:
        assert _name(app, row.recipient_id) in html
    # No staff member, no internal id, no other person (their pseudonym code, nor any per-export code).
    for staff in (d.doc, d.legal, *d.custodians, custodian, d.admin):
        for text in (html, r.text):  # as a word: "doc" is in "<!doctype"
            assert re.search(rf"\b{re.escape(staff.username)}\b", text) is None, staff.username
    assert UUID.search(html) is None
    assert UUID.search(r.text) is None
    codes = [d.doc.get(f"/api/v1/people/{p}").json()["code"] for p in (person, other)]
    for code in codes:
        assert code not in html
    for row in (*ledger, *_ledger(app, other)):
        assert row.code not in html


def test_the_report_in_armenian_and_russian_is_marked_unreviewed(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    custodian = _team_custodian(d)
    for language in ("hy", "ru"):
        r = custodian.get(f"/api/v1/people/{person}/disclosure-report.json", params={"language": language})
        assert (r.status_code, r.json()["review"]) == (200, "unreviewed")
        page = custodian.get(f"/api/v1/people/{person}/disclosure-report", params={"language": language})
        assert r.json()["texts"]["unreviewed"] in page.text
        assert f'lang="{language}"' in page.text
    english = custodian.get(f"/api/v1/people/{person}/disclosure-report").text
    assert "not yet been checked" not in english
    assert "has not been given to anyone" in english
    assert custodian.get(f"/api/v1/people/{person}/disclosure-report", params={"language": "de"}).status_code == 422


def test_only_a_custodian_on_the_team_reads_the_report(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    off_team = d.custodians[0]
    assert off_team.get(f"/api/v1/people/{person}/disclosure-report").status_code == 404
    assert d.doc.get(f"/api/v1/people/{person}/disclosure-report").status_code == 403
    assert _team_custodian(d).get(f"/api/v1/people/{person}/disclosure-report").status_code == 200


def test_auditors_read_the_ledger_and_no_content(app: FastAPI, d: Desk) -> None:
    person, _other, exports = _three_exports(d)
    auditor = actor(app, "aud", [Role.AUDITOR])
    r = auditor.get("/api/v1/disclosures")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    assert set(items[0]) == {
        "id",
        "export_id",
        "recipient_id",
        "person_code",
        "categories",
        "level",
        "decided_at",
        "submitted_to_proceedings",
    }
    mine = {row.code: row for row in _ledger(app, person)}
    listed = {i["person_code"]: i for i in items if i["person_code"] in mine}
    assert {i["export_id"] for i in listed.values()} == set(exports)
    assert all(i["categories"] == mine[c].categories and i["level"] == mine[c].level for c, i in listed.items())
    assert person not in r.text  # the per-export code, never the person's id or pseudonym code
    assert d.doc.get(f"/api/v1/people/{person}").json()["code"] not in r.text
    for path in (
        f"/api/v1/people/{person}",
        f"/api/v1/people/{person}/disclosure-report",
        f"/api/v1/people/{person}/consents",
        f"/api/v1/exports/{exports[0]}",
    ):
        assert auditor.get(path).status_code == 403, path
    assert d.custodians[0].get("/api/v1/disclosures").status_code == 403


def test_people_report_from_the_command_line(app: FastAPI, d: Desk, cli_env: dict[str, str]) -> None:
    person, _other, _exports = _three_exports(d)
    code = d.doc.get(f"/api/v1/people/{person}").json()["code"]
    env = {**os.environ, **cli_env}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "people", "report", code, "--json"], env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert [e["recipient"] for e in report["exports"]] == [_name(app, row.recipient_id) for row in _ledger(app, person)]
    html = subprocess.run([sys.executable, "-m", "app.cli", "people", "report", code], env=env, capture_output=True)
    assert html.returncode == 0
    assert b"<h1>Your information" in html.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "app.cli", "people", "report", "NOPE"], env=env, capture_output=True
    )
    assert missing.returncode == 2
