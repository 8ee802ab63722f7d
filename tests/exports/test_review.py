"""The custodian's review of the redacted narratives an export would send, through the real app and worker, on
SQLite and PostgreSQL: approval is refused until the approving custodian (each of two) read every redaction in
use; the approval pins them and the build sends the pinned one, never a later one; a statement with no
redaction sends no narrative; the documenters' queue lists what waiting exports need."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.access.roles import Role
from app.core.db import db_now, unit_of_work
from app.exports import build, jobs
from app.exports.models import DisclosureFeedback, RedactionPin, RedactionReview
from tests.support.actors import actor
from tests.support.built import unpack
from tests.support.consent import grant
from tests.support.exports import DEIDENTIFIED_NARRATIVE, REDACTED, TEXT, Desk, desk

LATER = "They held us at […] for nine days."

NARRATIVES = {"categories": ["narrative_general", "narrative_sexual_violence"], "max_disclosure_level": "deidentified"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _code(d: Desk, person: str) -> str:
    code: str = d.doc.get(f"/api/v1/people/{person}").json()["code"]
    return code


def _pins(app: FastAPI, export: str) -> dict[str, str]:
    with unit_of_work(app.state.sessionmaker) as s:
        rows = s.scalars(select(RedactionPin).where(RedactionPin.export_id == uuid.UUID(export)))
        return {str(p.statement_version_id): str(p.redaction_id) for p in rows}


def test_approval_is_refused_until_the_custodian_reviewed_each_redaction_in_use(app: FastAPI, d: Desk) -> None:
    person, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    redaction = d.redact(interview, statement)
    bare_person, _, bare_statement = d.told(DEIDENTIFIED_NARRATIVE)  # no redaction: its narrative will not leave
    unwilling, _, _ = d.told()  # no grant: excluded
    export = d.request(**NARRATIVES)["id"]

    refused = d.approve(export)
    assert (refused.status_code, refused.json()["code"]) == (409, "redactions_not_reviewed")
    assert refused.json()["redactions"] == [redaction]
    assert "Hadrut" not in refused.text
    assert "school" not in refused.text
    assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "requested"

    seen = d.review(export, 1)  # the other custodian's review is theirs, not the approver's
    assert d.approve(export).json()["code"] == "redactions_not_reviewed"
    seen = d.review(export)
    assert [(n["redaction_id"], n["statement_version_id"], n["statement_version"]) for n in seen["narratives"]] == [
        (redaction, statement, 1)
    ]
    [shown] = seen["narratives"]
    assert (shown["text"], shown["person_code"], shown["interview_id"]) == (REDACTED, _code(d, person), interview)
    assert [(w["statement_version_id"], w["person_code"]) for w in seen["without_redaction"]] == [
        (bare_statement, _code(d, bare_person))
    ]
    assert _code(d, unwilling) not in json.dumps(seen)
    assert "Hadrut" not in json.dumps(seen)  # the statement itself stays closed
    # Exact for the custodian who decides (the requester's preview of 3 people shows no count at all).
    assert seen["counts"] == {
        "people": {
            "named_public": 0,
            "named_protected": 0,
            "pseudonymous": 0,
            "deidentified": 2,
            "aggregate_only": 0,
        },
        "excluded": 1,
        "in_scope": 3,
    }
    assert seen["grant_ids"]
    assert all(uuid.UUID(g) for g in seen["grant_ids"])
    with unit_of_work(app.state.sessionmaker) as s:
        reviews = s.scalars(select(RedactionReview).where(RedactionReview.export_id == uuid.UUID(export))).all()
        assert {(str(r.redaction_id), r.reviewed_by) for r in reviews} == {
            (redaction, d.custodians[0].user_id),
            (redaction, d.custodians[1].user_id),
        }

    approved = d.approve(export)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert _pins(app, export) == {statement: redaction}
    assert d.custodians[0].get(f"/api/v1/exports/{export}/review").json()["code"] == "not_waiting"


def test_a_second_custodian_reviews_too_and_the_first_reviews_a_redaction_made_meanwhile(app: FastAPI, d: Desk) -> None:
    _, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    first = d.redact(interview, statement)
    export = d.request(categories=["identity", *NARRATIVES["categories"]], max_disclosure_level="named_protected")
    assert export["approvals_needed"] == 2
    d.review(export["id"], 0)
    assert d.approve(export["id"], 0).json()["status"] == "awaiting_second_approval"
    assert _pins(app, export["id"]) == {}

    refused = d.approve(export["id"], 1)
    assert (refused.status_code, refused.json()["redactions"]) == (409, [first])
    later = d.redact(interview, statement, LATER)  # while the export waits for its second custodian
    assert [n["redaction_id"] for n in d.review(export["id"], 1)["narratives"]] == [later]
    refused = d.approve(export["id"], 1)  # the first custodian has not read it
    assert (refused.status_code, refused.json()["code"], refused.json()["redactions"]) == (
        409,
        "redactions_not_reviewed",
        [later],
    )
    assert "first" in refused.json()["detail"]
    d.review(export["id"], 0)
    approved = d.approve(export["id"], 1)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert _pins(app, export["id"]) == {statement: later}


def _narrative(record: dict[str, Any]) -> str | None:
    text: str | None = record["interviews"][0].get("statement", {}).get("text")
    return text


def test_the_build_sends_the_pinned_redaction_and_no_narrative_without_one(
    app: FastAPI, d: Desk, tmp_path: Path
) -> None:
    told = [d.told(DEIDENTIFIED_NARRATIVE) for _ in range(5)]  # five alike: the quasi-identifier check keeps them
    redactions = [d.redact(interview, statement) for _, interview, statement in told[:4]]
    export = d.request(**NARRATIVES)["id"]
    seen = d.review(export)
    assert seen["counts"]["people"]["deidentified"] == 5
    assert seen["counts"]["excluded"] == 0
    assert sorted(n["redaction_id"] for n in seen["narratives"]) == sorted(redactions)
    assert [w["statement_version_id"] for w in seen["without_redaction"]] == [told[4][2]]
    assert d.approve(export).status_code == 200
    # Redactions made after the approval: a later one of a pinned statement, and a first one of the bare one.
    for _, interview, statement in (told[0], told[4]):
        d.redact(interview, statement, LATER)
    assert d.worker().run_once() is True
    assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "ready"
    bundle = unpack(app, export, tmp_path / "b")
    records = [json.loads(line) for line in bundle.files["records.jsonl"].decode().splitlines()]
    assert len(records) == 5
    assert sorted(_narrative(r) or "" for r in records) == ["", REDACTED, REDACTED, REDACTED, REDACTED]
    assert LATER not in bundle.text()
    assert TEXT not in bundle.text()
    # The one with no pinned redaction still sends what else it allows at its level.
    [bare] = [r for r in records if _narrative(r) is None]
    assert "statement" not in bare["interviews"][0]
    assert bare["interviews"][0]["details"]["checklist"]["incident_types"] == [
        "arbitrary_detention",
        "forced_displacement",
    ]


def test_only_a_custodian_who_did_not_ask_reviews(app: FastAPI, d: Desk) -> None:
    _, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    d.redact(interview, statement)
    export = d.request(**NARRATIVES)["id"]
    path = f"/api/v1/exports/{export}/review"
    for who in (d.legal, d.doc, d.admin):
        assert who.get(path).status_code == 403
    assert d.custodians[0].get(f"/api/v1/exports/{uuid.uuid4()}/review").status_code == 404
    lawkeeper = actor(app, "lawkeeper", [Role.LEGAL, Role.CUSTODIAN], cases=(uuid.UUID(d.case_id),))
    asked = lawkeeper.post("/api/v1/exports", json=d.body(**NARRATIVES)).json()["id"]
    r = lawkeeper.get(f"/api/v1/exports/{asked}/review")
    assert (r.status_code, r.json()["code"]) == (403, "same_person")
    assert "Hadrut" not in r.text
    assert "[…]" not in r.text
    # Custodians decide exports organisation-wide, on a case's team or not: so they review them.
    other = d.admin.post("/api/v1/cases", json={"code": "KX-9", "title": "Other"}).json()["id"]
    elsewhere = actor(app, "keeper9", [Role.CUSTODIAN], cases=(uuid.UUID(other),))
    assert [n["text"] for n in elsewhere.get(path).json()["narratives"]] == [REDACTED]
    with unit_of_work(app.state.sessionmaker) as s:
        reviewers = s.scalars(select(RedactionReview.reviewed_by).where(RedactionReview.export_id == uuid.UUID(asked)))
        assert list(reviewers) == []  # the refused read recorded nothing


def test_a_review_read_by_api_token_records_nothing_that_approval_counts(app: FastAPI, d: Desk) -> None:
    """The review's F7: a write-scope token read the review and so recorded it, and approval took that as "the
    custodian saw the redacted text". A token may read it; only a browser session records the review."""
    _, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    redaction = d.redact(interview, statement)
    export = d.request(**NARRATIVES)["id"]
    keeper = d.custodians[0]
    token = keeper.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"})
    assert token.status_code == 201, token.text
    script = TestClient(app, base_url="https://testserver")  # no browser cookie at all
    headers = {"authorization": f"Bearer {token.json()['token']}"}
    r = script.get(f"/api/v1/exports/{export}/review", headers=headers)
    assert r.status_code == 200, r.text
    assert [n["text"] for n in r.json()["narratives"]] == [REDACTED]
    assert r.json()["review_recorded"] is False
    with unit_of_work(app.state.sessionmaker) as s:
        reviews = s.scalars(select(RedactionReview).where(RedactionReview.export_id == uuid.UUID(export))).all()
        assert list(reviews) == []
    refused = d.approve(export)
    assert (refused.status_code, refused.json()["code"]) == (409, "redactions_not_reviewed"), refused.text
    assert refused.json()["redactions"] == [redaction]
    assert d.review(export)["review_recorded"] is True  # the browser session's review counts
    assert d.approve(export).status_code == 200


def test_the_queue_lists_what_waiting_exports_need_until_it_is_redacted(app: FastAPI, d: Desk) -> None:
    waiting_person, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    _, done_interview, done_statement = d.told(DEIDENTIFIED_NARRATIVE)
    d.redact(done_interview, done_statement)
    d.told()  # no grant: excluded
    assert d.doc.get("/api/v1/redactions/waiting").json()["items"] == []  # no export waits
    export = d.request(**NARRATIVES)["id"]
    also = d.request(**NARRATIVES, justification="Another mechanism's question.")["id"]
    d.request()  # narrative_general only: a redaction (narrative_sexual_violence) would not go
    r = d.doc.get("/api/v1/redactions/waiting")
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert item == {
        "interview_id": interview,
        "statement_version_id": statement,
        "statement_version": 1,
        "person_code": _code(d, waiting_person),
        "case_id": d.case_id,
        "export_ids": [export, also],
    }
    other = d.admin.post("/api/v1/cases", json={"code": "KX-8", "title": "Other"}).json()["id"]
    elsewhere = actor(app, "doc8", [Role.DOCUMENTER], cases=(uuid.UUID(other),))
    assert elsewhere.get("/api/v1/redactions/waiting").json()["items"] == []
    for who in (d.custodians[0], d.legal, d.admin):
        assert who.get("/api/v1/redactions/waiting").status_code == 403
    assert d.custodians[0].post(f"/api/v1/exports/{also}/reject", json={"reason": "Too broad."}).status_code == 200
    assert d.doc.get("/api/v1/redactions/waiting").json()["items"][0]["export_ids"] == [export]
    d.redact(interview, statement)
    assert d.doc.get("/api/v1/redactions/waiting").json()["items"] == []


def test_the_queue_comes_in_pages(d: Desk) -> None:
    statements = sorted(d.told(DEIDENTIFIED_NARRATIVE)[2] for _ in range(3))
    d.request(**NARRATIVES)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        page = d.doc.get("/api/v1/redactions/waiting", params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert len(page.json()["items"]) == 1
        seen += [i["statement_version_id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == statements
    bad = d.doc.get("/api/v1/redactions/waiting", params={"cursor": "not-an-id"})
    assert (bad.status_code, bad.json()["fields"]) == (422, ["cursor"])


def test_a_ready_export_has_its_feedback_tasks_from_the_build_itself(app: FastAPI, d: Desk) -> None:
    people = {uuid.UUID(d.person(grant())) for _ in range(2)}
    export = d.request()["id"]
    assert d.approve(export).status_code == 200
    factory = app.state.sessionmaker
    with unit_of_work(factory) as s:
        mine = jobs.claim(s, "w1", db_now(s))
    assert mine is not None
    assert build.run_build(factory, app.state.runtime, mine) is not None
    with unit_of_work(factory) as s:
        tasks = s.scalars(select(DisclosureFeedback).where(DisclosureFeedback.export_id == uuid.UUID(export))).all()
        assert {t.person_id for t in tasks} == people
        assert {t.reason for t in tasks} == {"approval"}
