"""One whole interview through the HTTP API, as a documenter records it: the checklist, the start, a
break and the return, a declined answer, an incident, autosaves of the one draft, a confirmed statement
and its correction, a photo, and completion after the reconfirmation. Each step reads back what the
survivor would expect to have been kept, and the custody log holds one commitment per confirmed
version and per stored file. Runs on SQLite and, with TESTIMONY_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from app.interviews.models import InterviewDraft, StatementVersion
from tests.support.actors import Actor
from tests.support.attachments import RECORDING_CONSENT, sample, sha256
from tests.support.consent import documenter_team, use_consent
from tests.support.interviews import INCIDENT, checklist, consenting_person, due, new_interview, patch, reconfirm

ANSWERS = [
    {"question": "background", "state": "answered", "text": "A teacher from Hadrut."},
    {"question": "harm", "state": "declined"},
    {"question": "witnesses", "state": "not_asked"},
]


def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def _rows(app: FastAPI) -> tuple[int, int, int]:
    """(drafts, statement versions, custody commitments in the log)."""
    with unit_of_work(app.state.sessionmaker) as s:
        drafts = s.scalar(select(func.count()).select_from(InterviewDraft)) or 0
        versions = s.scalar(select(func.count()).select_from(StatementVersion)) or 0
        commits = s.scalar(select(func.count()).where(AuditEvent.action == "custody.commit")) or 0
    return drafts, versions, commits


def _save(doc: Actor, iid: str, text: str) -> dict[str, Any]:
    return _ok(doc.request("PUT", f"/api/v1/interviews/{iid}/draft", json={"text": text, "answers": ANSWERS}))


def _confirm(doc: Actor, iid: str, version: int, draft_revision: int, **more: Any) -> dict[str, Any]:
    body = {
        "version": version,
        "draft_revision": draft_revision,
        "confirmed_by_interviewee": True,
        "read_back_in": "hy",
    }
    return _ok(doc.post(f"/api/v1/interviews/{iid}/statements", json={**body, **more}), 201)


def test_one_interview_from_checklist_to_completion_through_the_api(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    pid = consenting_person(doc, case, app, decisions=RECORDING_CONSENT)
    before = _rows(app)

    # Planned; the checklist comes before the start.
    planned_one = new_interview(doc, pid)
    assert doc.get(f"/api/v1/interviews/{planned_one['id']}").json()["state"] == "planned"
    refused = patch(doc, planned_one, state="in_progress")
    assert (refused.status_code, refused.json()["code"]) == (409, "checklist_required")
    ready = _ok(patch(doc, planned_one, checklist=checklist()))
    iid = ready["id"]
    started = _ok(patch(doc, ready, state="in_progress"))

    # Notes autosave into the one draft while the interview runs; a declined answer stays declined.
    assert _save(doc, iid, "We left")["revision"] == 1
    assert _save(doc, iid, "We left at night")["revision"] == 2

    # A break, then back.
    paused = _ok(patch(doc, started, state="paused", break_reason="She asked for a moment."))
    assert paused["state"] == "paused"
    resumed = _ok(patch(doc, paused, state="in_progress", distress_observed=[{"note": "Quiet for a while."}]))
    assert resumed["breaks"][0]["reason"] == "She asked for a moment."
    assert resumed["breaks"][0]["ended_at"] is not None
    draft = _save(doc, iid, "We left at night, on foot, on 3 October.")
    assert draft["revision"] == 3
    assert _rows(app)[:2] == (before[0] + 1, before[1])  # three saves, one slot, no version

    # An incident, structured.
    incident = _ok(doc.post(f"/api/v1/interviews/{iid}/incidents", json=INCIDENT), 201)
    assert incident["violation_types"] == ["arbitrary_detention", "forced_displacement"]
    assert doc.get(f"/api/v1/incidents/{incident['id']}").json() == incident

    # A photo, sealed on the way in, read back whole.
    photo = sample("jpeg", 120_000)
    stored = _ok(
        doc.post(
            f"/api/v1/interviews/{iid}/attachments",
            data={"kind": "photo", "category": "photos_other"},
            files={"file": ("road.jpg", photo, "image/jpeg")},
        ),
        201,
    )
    assert (stored["sha256"], stored["size"]) == (sha256(photo), len(photo))
    got = doc.get(f"/api/v1/attachments/{stored['id']}/content")
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == sha256(photo)

    # Read back and confirmed: version 1. Then a correction, with its reason: version 2.
    first = _confirm(doc, iid, 1, draft["revision"])
    assert (first["version"], first["text"], first["reason"]) == (1, draft["text"], None)
    assert first["answers"][1] == {"question": "harm", "state": "declined", "text": None}
    corrected = _save(doc, iid, "We left at night, on foot, on 4 October.")
    second = _confirm(doc, iid, 2, corrected["revision"], reason="She remembered the date differently.")
    assert (second["version"], second["reason"]) == (2, "She remembered the date differently.")
    assert doc.get(f"/api/v1/statements/{first['id']}").json() == first  # the confirmed version never changes
    versions = doc.get(f"/api/v1/interviews/{iid}/statements").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]

    # Completed only after the reconfirmation of use grants, once the statement was read back; the feedback
    # promised becomes the team's task.
    current = doc.get(f"/api/v1/interviews/{iid}").json()
    noted = _ok(patch(doc, current, feedback=[{"promise": "Send her the statement's number.", "due_on": due(30)}]))
    refused = patch(doc, noted, state="completed")
    assert (refused.status_code, refused.json()["code"]) == (409, "reconfirmation_required")
    reconfirmed = reconfirm(doc, app, iid, outcome="first", first=use_consent(app), notes="All of it.")
    done = _ok(patch(doc, noted, state="completed"))
    assert done["reconfirmation"]["consent_ids"] == reconfirmed["consent_ids"]
    assert done["state"] == "completed"
    assert all(b["ended_at"] is not None for b in done["breaks"])
    tasks = doc.get(f"/api/v1/cases/{case}/feedback-tasks").json()["items"]
    assert [t["interview_id"] for t in tasks] == [iid]

    # One draft slot, two versions, and one custody commitment per version and per file.
    assert _rows(app) == (before[0] + 1, before[1] + 2, before[2] + 3)
    late = doc.post(f"/api/v1/interviews/{iid}/attachments", data={"kind": "photo", "category": "photos_other"},
                    files={"file": ("late.jpg", photo, "image/jpeg")})  # fmt: skip
    assert (late.status_code, late.json()["code"]) == (409, "interview_not_recording")
