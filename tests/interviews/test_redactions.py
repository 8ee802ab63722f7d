"""Redactions through the real app: a documenter on the case team prepares a redacted version of a confirmed
statement version that only removes; a later one supersedes it and both are kept; a custodian reviews the
redacted text and never the statement; the work queue lists what waits; bad input stores nothing; the
redacted text stays sealed, bound to its place, and cannot be changed in the database."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app.access.roles import Role
from app.core.db import unit_of_work
from app.interviews.models import Redaction
from tests.people.test_sealing import _raw_storage
from tests.support.actors import Actor, actor
from tests.support.consent import documenter_team, participation
from tests.support.database import ProvisionedDatabase
from tests.support.interviews import WITHOUT_NOTES, checklist, consenting_person, new_interview, patch, reconfirm

MARK = "r9Zk"
NAME = f"Anahit{MARK}"
TEXT = f"On 3 October {NAME} and I were taken to the school in Hadrut. They kept us for nine days."
ANSWERS = [
    {"question": "background", "state": "answered", "text": f"A teacher from Hadrut, {NAME}'s neighbour."},
    {"question": "harm", "state": "declined"},
    {"question": "events", "state": "answered", "text": "We were beaten."},
]
REDACTED = "On 3 October […] and I were taken to the school in […]. They kept us for nine days."
REDACTED_ANSWERS = [
    {"question": "background", "text": "A teacher […]."},
    {"question": "events", "text": "We were beaten."},
]
UNREDACTED_ANSWERS = [{"question": a["question"], "text": a["text"]} for a in ANSWERS if "text" in a]
ADDS = "redaction_adds_words"


def _statement(app: FastAPI, doc: Actor, case: str, *, complete: bool = False, **consent: Any) -> dict[str, Any]:
    """A confirmed statement version (TEXT and ANSWERS) of a new interview, in progress or completed."""
    interview = new_interview(doc, consenting_person(doc, case, app, **consent), checklist=checklist())
    started = patch(doc, interview, state="in_progress").json()
    iid = started["id"]
    saved = doc.request("PUT", f"/api/v1/interviews/{iid}/draft", json={"text": TEXT, "answers": ANSWERS})
    assert saved.status_code == 200, saved.text
    body = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    confirmed = doc.post(f"/api/v1/interviews/{iid}/statements", json=body)
    assert confirmed.status_code == 201, confirmed.text
    if complete:
        reconfirm(doc, app, iid)
        assert patch(doc, started, state="completed").status_code == 200
    result: dict[str, Any] = confirmed.json()
    return result


def _redact(doc: Actor, statement: dict[str, Any], **body: Any) -> Any:
    payload = {"statement_version_id": statement["id"], "text": REDACTED, "answers": REDACTED_ANSWERS, **body}
    return doc.post(f"/api/v1/interviews/{statement['interview_id']}/redactions", json=payload)


def _count(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(Redaction)) or 0)


def test_a_redaction_only_removes_and_a_later_one_supersedes_it_keeping_both(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    statement = _statement(app, doc, case)
    first = _redact(doc, statement)
    assert first.status_code == 201, first.text
    one = first.json()
    assert (one["number"], one["statement_version"], one["superseded"]) == (1, 1, False)
    assert (one["text"], one["answers"], one["prepared_by"]) == (REDACTED, REDACTED_ANSWERS, str(doc.user_id))
    assert doc.get(f"/api/v1/redactions/{one['id']}").json() == one
    # "[...]" is the same marker, stored one way; removing the whole of an answer is the marker alone.
    answers = [{"question": "background", "text": "[...]"}, {"question": "events", "text": "We were [...]."}]
    second = _redact(doc, statement, text="[...] They kept us for nine days.", answers=answers)
    assert second.status_code == 201, second.text
    two = second.json()
    assert (two["number"], two["text"], two["answers"][0]["text"]) == (2, "[…] They kept us for nine days.", "[…]")
    listed = doc.get(f"/api/v1/interviews/{statement['interview_id']}/redactions").json()["items"]
    assert [(r["number"], r["superseded"]) for r in listed] == [(1, True), (2, False)]
    assert all("text" not in r and "answers" not in r for r in listed)  # metadata only
    assert doc.get(f"/api/v1/redactions/{one['id']}").json() == {**one, "superseded": True}  # kept as it was
    repeated = _redact(doc, statement, text="[…] They kept us for nine days.", answers=answers)
    assert (repeated.status_code, repeated.json()["code"]) == (409, "redaction_repeated")
    for method in ("PUT", "PATCH", "DELETE"):
        assert doc.request(method, f"/api/v1/redactions/{one['id']}", json={}).status_code == 405
    assert _count(app) == 2


def test_a_custodian_reviews_the_redacted_text_and_never_the_statement(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    statement = _statement(app, doc, case)
    made = _redact(doc, statement).json()
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    review = custodian.get(f"/api/v1/redactions/{made['id']}/review")
    assert review.status_code == 200, review.text
    assert review.json() == made
    assert MARK not in review.text
    assert custodian.get(f"/api/v1/statements/{statement['id']}").status_code == 403
    assert custodian.get(f"/api/v1/redactions/{made['id']}").status_code == 403  # the documenters' read
    assert custodian.get(f"/api/v1/interviews/{statement['interview_id']}/redactions").status_code == 403
    assert custodian.get(f"/api/v1/redactions/{uuid.uuid4()}/review").status_code == 404
    assert doc.get(f"/api/v1/redactions/{made['id']}/review").status_code == 403  # a documenter does not review
    outsider = actor(app, "out", [Role.DOCUMENTER])
    assert outsider.get(f"/api/v1/redactions/{made['id']}").status_code == 404
    assert _redact(outsider, statement).status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "fields", "code"),
    [
        ({"statement_version_id": "unknown"}, 422, ["statement_version_id"], None),
        ({"statement_version_id": "other"}, 422, ["statement_version_id"], None),
        ({"text": None}, 422, ["text"], None),
        ({"text": f"On 3 October […] and I were taken to the school in {MARK}."}, 422, ["text"], ADDS),
        ({"text": "They kept us for nine days. […] On 3 October"}, 422, ["text"], "redaction_adds_words"),
        ({"text": "On 4 October […]"}, 422, ["text"], "redaction_adds_words"),
        ({"answers": REDACTED_ANSWERS[:1]}, 422, ["answers"], None),
        ({"answers": REDACTED_ANSWERS[::-1]}, 422, ["answers"], None),
        ({"answers": [REDACTED_ANSWERS[0], {"question": "harm", "text": "[…]"}]}, 422, ["answers"], None),
        (
            {"answers": [REDACTED_ANSWERS[0], {"question": "events", "text": "We were not beaten."}]},
            422,
            ["answers.1.text"],
            "redaction_adds_words",
        ),
        ({"text": TEXT, "answers": UNREDACTED_ANSWERS}, 409, ["text"], None),
        ({"text": "a\x00b"}, 422, ["text"], None),
        ({"text": "   "}, 422, ["text"], None),
        ({"removed": "x"}, 422, ["body"], None),
    ],
    ids=[
        "unknown",
        "other_interview",
        "no_text",
        "adds",
        "reorders",
        "changes",
        "answer_missing",
        "answers_reordered",
        "declined_answer",
        "answer_adds",
        "unchanged",
        "nul",
        "blank",
        "extra",
    ],
)
def test_bad_redactions_name_the_field_and_store_nothing(
    app: FastAPI, change: dict[str, Any], status: int, fields: list[str], code: str | None
) -> None:
    doc, case = documenter_team(app)
    statement = _statement(app, doc, case)
    other = _statement(app, doc, case)
    if change.get("statement_version_id") == "unknown":
        change = {**change, "statement_version_id": str(uuid.uuid4())}
    if change.get("statement_version_id") == "other":
        change = {**change, "statement_version_id": other["id"]}
    r = _redact(doc, statement, **change)
    assert r.status_code == status, r.text
    assert set(fields) <= set(r.json()["fields"])
    if status == 409:
        assert r.json()["code"] == "redaction_unchanged"
    if code is not None:
        assert r.json()["code"] == code
    assert MARK not in r.text
    assert "a\x00b" not in r.text
    assert _count(app) == 0


def test_a_redaction_needs_what_a_statement_needs(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    statement = _statement(app, doc, case)
    person = doc.get(f"/api/v1/interviews/{statement['interview_id']}").json()["person_id"]
    # The person's latest participation consent no longer agrees to notes.
    later = doc.post(f"/api/v1/people/{person}/participation", json=participation(app, decisions=WITHOUT_NOTES))
    assert later.status_code == 201, later.text
    refused = _redact(doc, statement)
    problem = refused.json()
    assert (refused.status_code, problem["code"], problem["decision"]) == (403, "consent_required", "notes")
    stopped = _statement(app, doc, case)
    interview = doc.get(f"/api/v1/interviews/{stopped['interview_id']}").json()
    assert patch(doc, interview, state="stopped_by_interviewee").status_code == 200
    closed = _redact(doc, stopped)
    assert (closed.status_code, closed.json()["fields"]) == (409, ["state"])
    legal = actor(app, "law", [Role.LEGAL], cases=(uuid.UUID(case),))
    assert _redact(legal, statement).status_code == 403
    assert _count(app) == 0


def test_the_queue_lists_the_latest_statement_of_each_completed_interview_until_it_is_redacted(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    under_way = _statement(app, doc, case)
    done = _statement(app, doc, case, complete=True)
    queue = doc.get("/api/v1/redactions/queue")
    assert queue.status_code == 200, queue.text
    items = queue.json()["items"]
    assert [(i["statement_version_id"], i["statement_version"], i["case_code"]) for i in items] == [
        (done["id"], 1, "KB-1")
    ]
    assert set(items[0]) == {
        "statement_version_id",
        "interview_id",
        "statement_version",
        "case_id",
        "case_code",
        "confirmed_at",
    }
    assert MARK not in queue.text
    assert under_way["id"] not in queue.text  # not yet completed
    outsider = actor(app, "out", [Role.DOCUMENTER])
    assert outsider.get("/api/v1/redactions/queue").json()["items"] == []
    assert actor(app, "cus", [Role.CUSTODIAN]).get("/api/v1/redactions/queue").status_code == 403
    assert _redact(doc, done).status_code == 201
    assert doc.get("/api/v1/redactions/queue").json()["items"] == []
    # A correction after completion is a new version, which waits for its own redaction.
    iid = done["interview_id"]
    corrected = TEXT.replace("nine", "ten")
    assert doc.request("PUT", f"/api/v1/interviews/{iid}/draft", json={"text": corrected, "answers": ANSWERS})
    body = {"version": 2, "draft_revision": 2, "confirmed_by_interviewee": True, "read_back_in": "hy", "reason": "Ten."}
    v2 = doc.post(f"/api/v1/interviews/{iid}/statements", json=body)
    assert v2.status_code == 201, v2.text
    assert [i["statement_version"] for i in doc.get("/api/v1/redactions/queue").json()["items"]] == [2]


def test_the_redacted_text_stays_sealed_and_bound_to_its_place(
    app: FastAPI,
    database: ProvisionedDatabase,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with caplog.at_level(logging.DEBUG):
        doc, case = documenter_team(app)
        statement = _statement(app, doc, case)
        kept = f"On 3 October {NAME} and I were taken to the school in […]. […]"
        one = _redact(doc, statement, text=kept)
        assert one.status_code == 201, one.text
        two = _redact(doc, statement, text=f"[…] {NAME} and I were taken […]")
        assert two.status_code == 201, two.text
        assert doc.get(f"/api/v1/redactions/{one.json()['id']}").json()["text"] == kept
        added = _redact(doc, statement, text=f"{NAME} was taken by Grigor{MARK}.")
        assert added.status_code == 422
        assert MARK not in added.text
        assert MARK not in doc.get(f"/api/v1/interviews/{statement['interview_id']}/redactions").text
    for blob in _raw_storage(database):
        assert MARK.encode() not in blob
        assert "school in […]".encode() not in blob
    out, err = capfd.readouterr()
    for printed in (caplog.text, out, err):
        assert MARK not in printed
    # A sealed redaction moved to another redaction's row fails its integrity check, and shows nothing.
    database.as_owner(
        "UPDATE redactions SET content = (SELECT content FROM redactions WHERE id = :src) WHERE id = :dst",
        src=uuid.UUID(two.json()["id"]),
        dst=uuid.UUID(one.json()["id"]),
    )
    moved = doc.get(f"/api/v1/redactions/{one.json()['id']}")
    assert (moved.status_code, moved.json()["type"].rsplit("/", 1)[-1]) == (500, "integrity")
    assert MARK not in moved.text


def test_redactions_cannot_be_changed_in_the_database(app: FastAPI, database: ProvisionedDatabase) -> None:
    if not database.is_postgres:
        pytest.skip("the application role's rights are PostgreSQL's")
    doc, case = documenter_team(app)
    assert _redact(doc, _statement(app, doc, case)).status_code == 201
    engine = create_engine(database.url, poolclass=NullPool)  # the application's own role
    for sql in ("UPDATE redactions SET number = 7", "DELETE FROM redactions"):
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
            conn.execute(text(sql))
    engine.dispose()


def test_a_statement_of_answers_alone_is_redacted_answer_by_answer(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    interview = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    iid = patch(doc, interview, state="in_progress").json()["id"]
    assert doc.request("PUT", f"/api/v1/interviews/{iid}/draft", json={"answers": ANSWERS}).status_code == 200
    body = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    statement = doc.post(f"/api/v1/interviews/{iid}/statements", json=body).json()
    with_text = _redact(doc, statement)
    assert (with_text.status_code, with_text.json()["fields"]) == (422, ["text"])
    unchanged = _redact(doc, statement, text=None, answers=UNREDACTED_ANSWERS)
    assert (unchanged.status_code, unchanged.json()["code"], unchanged.json()["fields"]) == (
        409,
        "redaction_unchanged",
        ["answers"],
    )
    made = _redact(doc, statement, text=None)
    assert made.status_code == 201, made.text
    assert (made.json()["text"], made.json()["answers"]) == (None, REDACTED_ANSWERS)
