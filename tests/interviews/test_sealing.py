"""An interview's sealed fields never reach disk or logs in clear, and the clear columns bound to them
cannot be edited into another meaning."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.roles import Role
from tests.people.test_sealing import _raw_storage
from tests.support.actors import Actor, actor
from tests.support.consent import documenter_team, use_consent
from tests.support.database import ProvisionedDatabase
from tests.support.interviews import checklist, consenting_person, due, new_interview, patch, reconfirm

MARK = "z8Kd"


def canary(field: str) -> str:
    return f"{field}-Սարգսյան-{MARK}"


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _completed_with_canaries(app: FastAPI, doc: Actor, case: str) -> dict[str, Any]:
    pid = consenting_person(doc, case, app)
    sgbv = checklist(
        justification=canary("justification"),
        incident_types=["sexual_or_gender_based_violence"],
        care_available_locally=True,
    )
    interview = new_interview(doc, pid, place=canary("place"), checklist=sgbv)
    interview = _ok(patch(doc, interview, state="in_progress"))
    interview = _ok(patch(doc, interview, state="paused", break_reason=canary("break")))
    interview = _ok(
        patch(
            doc,
            interview,
            state="in_progress",
            distress_observed=[{"note": canary("distress")}],
            referrals=[{"need": "medical", "contact": canary("referral")}],
            feedback=[{"promise": canary("promise"), "due_on": due()}],
        )
    )
    reconfirm(doc, app, interview["id"], outcome="first", first=use_consent(app), notes=canary("notes"))
    return _ok(patch(doc, interview, state="completed"))


def test_canaries_in_every_sealed_interview_field_stay_sealed(
    app: FastAPI,
    database: ProvisionedDatabase,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with caplog.at_level(logging.DEBUG):
        doc, case = documenter_team(app)
        done = _completed_with_canaries(app, doc, case)
        read = _ok(doc.get(f"/api/v1/interviews/{done['id']}"))
        assert read["place"] == canary("place")
        assert read["checklist"]["justification"] == canary("justification")
        assert read["breaks"][0]["reason"] == canary("break")
        assert read["distress_observed"][0]["note"] == canary("distress")
        assert read["referrals"][0]["contact"] == canary("referral")
        assert read["feedback"][0]["promise"] == canary("promise")
        assert read["reconfirmation"]["notes"] == canary("notes")
        tasks = doc.get(f"/api/v1/cases/{case}/feedback-tasks").text
        listed = doc.get(f"/api/v1/people/{done['person_id']}/interviews").text
        for metadata_only in (tasks, listed):
            assert MARK not in metadata_only
            assert "sexual" not in metadata_only

    needles = [MARK.encode(), "Սարգսյան".encode(), "Սարգսյան".encode("utf-16-le"), b"sexual_or_gender"]
    for blob in _raw_storage(database):
        assert not any(n in blob for n in needles)
    out, err = capfd.readouterr()
    for printed in (caplog.text, out, err):
        assert MARK not in printed


def _integrity(r: Any) -> None:
    assert r.status_code == 500, r.text
    assert r.json()["title"] == "Integrity check failed"
    assert MARK not in r.text


@pytest.mark.parametrize(
    "edit",
    [
        "state = 'planned'",
        "state = 'archived'",
        "case_id = :other_case",
        "participation_id = :other_consent",
        "details = (SELECT details FROM interviews WHERE id = :other_interview)",
    ],
    ids=["state", "not_a_state", "case", "participation", "details_of_another"],
)
def test_edited_clear_columns_make_the_interview_fail_to_open(
    app: FastAPI, database: ProvisionedDatabase, edit: str
) -> None:
    doc, case = documenter_team(app)
    done = _completed_with_canaries(app, doc, case)
    other = new_interview(doc, consenting_person(doc, case, app))
    admin = actor(app, "adm2", [Role.ADMIN])
    other_case = uuid.UUID(admin.post("/api/v1/cases", json={"code": "KB-2", "title": "Other"}).json()["id"])
    database.as_owner(
        f"UPDATE interviews SET {edit} WHERE id = :i",
        i=uuid.UUID(done["id"]),
        other_case=other_case,
        other_consent=uuid.UUID(other["participation_id"]),
        other_interview=uuid.UUID(other["id"]),
    )
    reader = doc if "case_id" not in edit else actor(app, "doc2", [Role.DOCUMENTER], cases=(other_case,))
    _integrity(reader.get(f"/api/v1/interviews/{done['id']}"))
    _integrity(
        reader.request(
            "PATCH",
            f"/api/v1/interviews/{done['id']}",
            json={"revision": done["revision"], "distress_observed": [{"note": "x"}]},
        )
    )
    if "archived" in edit:  # no state at all: the list that shows it fails the same way
        _integrity(reader.get(f"/api/v1/people/{done['person_id']}/interviews"))
    assert _ok(doc.get(f"/api/v1/interviews/{other['id']}"))["id"] == other["id"]
