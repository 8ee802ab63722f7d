"""An interview moves once however many workers try at once: each change is a conditional UPDATE on the
revision and state that was read. Real concurrent requests to a real uvicorn server on PostgreSQL;
skipped on SQLite, where BEGIN IMMEDIATE serialises writers and the interleavings cannot happen."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.actors import Actor
from tests.support.attachments import recording_interview, sample
from tests.support.consent import documenter_team, participation
from tests.support.database import ProvisionedDatabase
from tests.support.interviews import INCIDENT, checklist, consenting_person, due, new_interview, patch, reconfirm
from tests.support.server import at_once, serve

COOKIE = "testimony_session"
_OPEN: list[httpx.Client] = []


@pytest.fixture
def url(app: FastAPI, database: ProvisionedDatabase) -> Iterator[str]:
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    with serve(app) as base:
        yield base
        while _OPEN:
            _OPEN.pop().close()


def _tabs(doc: Actor, url: str, n: int) -> list[httpx.Client]:
    """n connections presenting the documenter's session, as n tabs or devices would."""
    cookie = doc.client.cookies.get(COOKIE)
    assert cookie is not None
    assert doc.csrf is not None
    headers = {"x-csrf-token": doc.csrf}
    tabs = [httpx.Client(base_url=url, cookies={COOKIE: cookie}, headers=headers, timeout=60) for _ in range(n)]
    _OPEN.extend(tabs)
    return tabs


def _patch(client: httpx.Client, path: str, body: dict[str, Any]) -> Callable[[], httpx.Response]:
    return lambda: client.patch(path, json=body)


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> Callable[[], httpx.Response]:
    return lambda: client.post(path, json=body)


def _put(client: httpx.Client, path: str, body: dict[str, Any]) -> Callable[[], httpx.Response]:
    return lambda: client.put(path, json=body)


def _statuses(answers: list[httpx.Response]) -> list[int]:
    assert all(r.json()["fields"] == ["revision"] for r in answers if r.status_code == 409), [r.text for r in answers]
    return sorted(r.status_code for r in answers)


def test_six_workers_starting_one_interview_at_once_start_it_once(app: FastAPI, url: str) -> None:
    doc, case = documenter_team(app)
    interview = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    path = f"/api/v1/interviews/{interview['id']}"
    body = {"revision": interview["revision"], "state": "in_progress"}
    answers = at_once([_patch(tab, path, body) for tab in _tabs(doc, url, 6)])
    assert _statuses(answers) == [200] + [409] * 5
    read = doc.get(path).json()
    assert (read["state"], read["revision"]) == ("in_progress", interview["revision"] + 1)


def test_pausing_and_stopping_at_once_do_one_of_the_two(app: FastAPI, url: str) -> None:
    doc, case = documenter_team(app)
    interview = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    started = patch(doc, interview, state="in_progress").json()
    path = f"/api/v1/interviews/{started['id']}"
    moves = ["paused", "stopped_by_interviewee", "completed"] * 2
    bodies = [{"revision": started["revision"], "state": m} for m in moves]
    reconfirm(doc, app, started["id"])
    answers = at_once([_patch(tab, path, body) for tab, body in zip(_tabs(doc, url, 6), bodies, strict=True)])
    statuses = [r.status_code for r in answers]
    assert _statuses(answers) == [200] + [409] * 5
    [won] = [moves[i] for i, s in enumerate(statuses) if s == 200]
    read = doc.get(path).json()
    assert (read["state"], read["revision"], len(read["breaks"])) == (
        won,
        started["revision"] + 1,
        int(won == "paused"),
    )


def test_records_added_at_once_on_one_read_are_added_once_and_none_is_lost(app: FastAPI, url: str) -> None:
    doc, case = documenter_team(app)
    interview = new_interview(doc, consenting_person(doc, case, app))
    path = f"/api/v1/interviews/{interview['id']}"
    bodies = [
        {"revision": interview["revision"], "feedback": [{"promise": f"Promise {i}", "due_on": due()}]}
        for i in range(6)
    ]
    answers = at_once([_patch(tab, path, body) for tab, body in zip(_tabs(doc, url, 6), bodies, strict=True)])
    assert _statuses(answers) == [200] + [409] * 5
    read = doc.get(path).json()
    assert len(read["feedback"]) == 1
    tasks = doc.get(f"/api/v1/cases/{case}/feedback-tasks").json()["items"]
    assert [t["id"] for t in tasks] == [read["feedback"][0]["task_id"]]  # the refused requests left no task

    task_path = f"/api/v1/feedback-tasks/{tasks[0]['id']}"
    done = at_once([_patch(tab, task_path, {"state": "done"}) for tab in _tabs(doc, url, 6)])
    assert sorted(r.status_code for r in done) == [200] + [409] * 5
    assert all(r.json()["fields"] == ["state"] for r in done if r.status_code == 409)


def test_two_confirmations_of_one_statement_version_at_once_make_it_once(app: FastAPI, url: str) -> None:
    doc, case = documenter_team(app)
    interview = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    started = patch(doc, interview, state="in_progress").json()
    draft = doc.request("PUT", f"/api/v1/interviews/{started['id']}/draft", json={"text": "We were taken at dawn."})
    assert draft.status_code == 200, draft.text
    path = f"/api/v1/interviews/{started['id']}/statements"
    body = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    answers = at_once([_post(tab, path, body) for tab in _tabs(doc, url, 4)])
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    assert all(r.json()["fields"] == ["version"] for r in answers if r.status_code == 409)
    listed = doc.get(path).json()["items"]
    assert [s["version"] for s in listed] == [1]


def test_draft_saves_at_once_each_take_their_own_revision_and_the_last_one_holds(app: FastAPI, url: str) -> None:
    """The draft slot is held FOR UPDATE and rewritten by a Core UPDATE: saves at once queue on the row, so each
    raises the revision once, none is lost, and the slot holds the text of the save with the highest revision.
    The first saves at once race the INSERT of the slot: one creates it, the others are 409 naming it."""
    doc, case = documenter_team(app)
    iid = recording_interview(app, doc, case)["id"]
    path = f"/api/v1/interviews/{iid}/draft"
    first = at_once([_put(tab, path, {"text": f"First {i}."}) for i, tab in enumerate(_tabs(doc, url, 4))])
    created = [r for r in first if r.status_code == 200]
    assert len(created) >= 1, [r.text for r in first]
    assert all(r.status_code == 409 and r.json()["fields"] == ["interview_id"] for r in first if r not in created)
    assert sorted(r.json()["revision"] for r in created) == list(range(1, len(created) + 1))

    saves = at_once([_put(tab, path, {"text": f"Save {i}."}) for i, tab in enumerate(_tabs(doc, url, 6))])
    assert [r.status_code for r in saves] == [200] * 6, [r.text for r in saves]
    revisions = sorted(r.json()["revision"] for r in saves)
    assert revisions == list(range(len(created) + 1, len(created) + 7))
    last = max(saves, key=lambda r: r.json()["revision"])
    read = doc.get(path).json()
    assert (read["revision"], read["text"]) == (revisions[-1], last.json()["text"])
    assert read["saved_at"] == last.json()["saved_at"]
    assert sorted(r.json()["saved_at"] for r in saves) == [  # timed in the order they held the row
        r.json()["saved_at"] for r in sorted(saves, key=lambda r: r.json()["revision"])
    ]


def test_redactions_of_one_statement_at_once_land_as_versions_in_order_or_are_refused_cleanly(
    app: FastAPI, url: str
) -> None:
    doc, case = documenter_team(app)
    interview = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    started = patch(doc, interview, state="in_progress").json()
    text = "On 3 October we were taken at dawn to the school in Hadrut."
    assert doc.request("PUT", f"/api/v1/interviews/{started['id']}/draft", json={"text": text}).status_code == 200
    body = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    statement = doc.post(f"/api/v1/interviews/{started['id']}/statements", json=body).json()
    path = f"/api/v1/interviews/{started['id']}/redactions"
    redacted = ["On […] we were taken […]", "[…] taken at dawn […]", "On 3 October […] Hadrut.", "[…] the school […]"]
    bodies = [{"statement_version_id": statement["id"], "text": t} for t in redacted]
    answers = at_once([_post(tab, path, b) for tab, b in zip(_tabs(doc, url, 4), bodies, strict=True)])
    assert {r.status_code for r in answers} <= {201, 409}, [r.text for r in answers]
    assert all(r.json()["fields"] == ["number"] for r in answers if r.status_code == 409)
    made = sorted(r.json()["number"] for r in answers if r.status_code == 201)
    assert made == list(range(1, len(made) + 1))
    assert made, "none landed"
    listed = doc.get(path).json()["items"]
    assert sorted((r["number"], r["superseded"]) for r in listed) == [(n, n != len(made)) for n in made]


@pytest.mark.parametrize("write", ["start", "record_consent", "upload_notes"])
def test_writes_under_consent_wait_while_the_persons_consent_is_being_recorded(
    app: FastAPI, url: str, database: ProvisionedDatabase, write: str
) -> None:
    """Recording participation consent and every write that depends on it hold the person's row: while
    another transaction holds it, each of them waits, and goes on once it is released. So a refusal
    recorded at the same moment as a start is either seen by the start or recorded after it, never
    missed by a write that committed after it."""
    doc, case = documenter_team(app)
    pid = consenting_person(doc, case, app)
    interview = new_interview(doc, pid, checklist=checklist())
    [tab] = _tabs(doc, url, 1)
    if write == "upload_notes":
        assert patch(doc, interview, state="in_progress").status_code == 200
    send = {
        "start": _patch(
            tab, f"/api/v1/interviews/{interview['id']}", {"revision": interview["revision"], "state": "in_progress"}
        ),
        "record_consent": _post(tab, f"/api/v1/people/{pid}/participation", participation(app)),
        "upload_notes": _put(tab, f"/api/v1/interviews/{interview['id']}/draft", {"text": "We left."}),
    }[write]
    holder = create_engine(database.owner_url, poolclass=NullPool)
    try:
        with holder.connect() as conn, conn.begin():
            # NO KEY UPDATE: a foreign key check (KEY SHARE) passes it; only a hold on the person waits.
            conn.execute(text("SELECT id FROM people WHERE id = :p FOR NO KEY UPDATE"), {"p": uuid.UUID(pid)})
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(send)
                time.sleep(1.0)
                assert not pending.done(), pending.result().text  # waiting on the person's row
                conn.rollback()
                answer = pending.result(timeout=30)
    finally:
        holder.dispose()
    assert answer.status_code in (200, 201), answer.text


@pytest.mark.parametrize("write", ["draft", "statement", "incident", "attachment"])
def test_a_write_racing_the_interviewees_stop_waits_for_it_and_is_refused(
    app: FastAPI, url: str, database: ProvisionedDatabase, write: str
) -> None:
    """The stop is an UPDATE of the interview's row; every write that adds to the interview holds that row
    before it commits. A stop under way (its row held, here by the test) makes the write wait; once the stop
    commits, the write sees it and is refused, so nothing is added after the interviewee stopped."""
    doc, case = documenter_team(app)
    interview = recording_interview(app, doc, case)
    iid = interview["id"]
    saved = doc.request("PUT", f"/api/v1/interviews/{iid}/draft", json={"text": "We left."})
    assert saved.status_code == 200, saved.text
    [tab] = _tabs(doc, url, 1)
    confirm = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    send = {
        "draft": _put(tab, f"/api/v1/interviews/{iid}/draft", {"text": "We left at night."}),
        "statement": _post(tab, f"/api/v1/interviews/{iid}/statements", confirm),
        "incident": _post(tab, f"/api/v1/interviews/{iid}/incidents", INCIDENT),
        "attachment": lambda: tab.post(
            f"/api/v1/interviews/{iid}/attachments",
            content=sample("jpeg", 20_000),
            headers={"attachment-kind": "photo", "attachment-category": "photos_other"},
        ),
    }[write]
    holder = create_engine(database.owner_url, poolclass=NullPool)
    try:
        with holder.connect() as conn, conn.begin():
            # What the stop's UPDATE holds; a foreign key check (KEY SHARE) passes it, a held state waits.
            conn.execute(text("SELECT id FROM interviews WHERE id = :i FOR NO KEY UPDATE"), {"i": uuid.UUID(iid)})
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(send)
                time.sleep(1.0)
                assert not pending.done(), pending.result().text
                conn.execute(
                    text("UPDATE interviews SET state = 'stopped_by_interviewee' WHERE id = :i"), {"i": uuid.UUID(iid)}
                )
                conn.commit()
                answer = pending.result(timeout=30)
    finally:
        holder.dispose()
    assert answer.status_code == 409, answer.text
    assert answer.json()["fields"] == ["state"]


def test_changes_and_writes_to_one_interview_at_once_never_deadlock(app: FastAPI, url: str) -> None:
    """A PATCH that changes the interview and then adds a row naming the person (a feedback task) meets,
    at the same moment, writes that hold the person and then the interview. The holds let a foreign key
    check through, so neither waits on the other in a circle: no deadlock, no 500, no 503."""
    doc, case = documenter_team(app)
    interview = recording_interview(app, doc, case)
    iid = interview["id"]
    tabs = _tabs(doc, url, 3)
    photo = sample("jpeg", 20_000)
    headers = {"attachment-kind": "photo", "attachment-category": "photos_other"}
    for n in range(12):
        revision = doc.get(f"/api/v1/interviews/{iid}").json()["revision"]
        promise = {"revision": revision, "feedback": [{"promise": f"Call back, round {n}.", "due_on": due()}]}
        answers = at_once(
            [
                _patch(tabs[0], f"/api/v1/interviews/{iid}", promise),
                _put(tabs[1], f"/api/v1/interviews/{iid}/draft", {"text": f"Round {n}."}),
                lambda: tabs[2].post(f"/api/v1/interviews/{iid}/attachments", content=photo, headers=headers),
            ]
        )
        assert [r.status_code for r in answers] == [200, 200, 201], [r.text for r in answers]


def test_a_transaction_the_database_ends_to_break_a_deadlock_is_a_503_that_saved_nothing(
    app: FastAPI, url: str, database: ProvisionedDatabase
) -> None:
    """Made on purpose: the test holds the interview, the draft save holds the person and waits for the
    interview, then the test asks for the person. PostgreSQL ends the draft save's transaction (it waited
    first, so it finds the circle first); the client is told to send it again, and nothing was saved."""
    doc, case = documenter_team(app)
    interview = recording_interview(app, doc, case)
    iid, pid = interview["id"], interview["person_id"]
    [tab] = _tabs(doc, url, 1)
    holder = create_engine(database.owner_url, poolclass=NullPool)
    try:
        with holder.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM interviews WHERE id = :i FOR UPDATE"), {"i": uuid.UUID(iid)})
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(_put(tab, f"/api/v1/interviews/{iid}/draft", {"text": "Never saved."}))
                time.sleep(0.5)
                conn.execute(text("SELECT id FROM people WHERE id = :p FOR UPDATE"), {"p": uuid.UUID(pid)})
                answer = pending.result(timeout=30)
            conn.rollback()
    finally:
        holder.dispose()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"].endswith("/busy")
    assert "Never saved" not in answer.text
    assert doc.get(f"/api/v1/interviews/{iid}/draft").status_code == 404  # nothing was saved
