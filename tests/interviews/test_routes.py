"""A whole interview through the HTTP API, and every refusal on the way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.roles import Role
from app.core.db import unit_of_work
from app.interviews.models import FeedbackTask, Interview
from tests.support.actors import Actor, actor
from tests.support.consent import documenter_team, participation, use_consent
from tests.support.interviews import checklist, consenting_person, due, new_interview, patch, planned, reconfirm

INTERPRETER = {
    "name": "Interpreter One",
    "accepted_by_interviewee": True,
    "confidentiality_signed": True,
    "conflict_check": "clear",
}


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str]:
    return documenter_team(app)


def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def _refused(r: Any, status: int, code: str | None, fields: list[str] | None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body.get("code") == code, body
    assert body.get("fields") == fields, body


def test_a_whole_interview_from_checklist_to_completion(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case = team
    pid = consenting_person(doc, case, app, interpreter=INTERPRETER)
    planned_one = new_interview(doc, pid)
    assert (planned_one["state"], planned_one["revision"], planned_one["checklist_at"]) == ("planned", 1, None)
    assert planned_one["interviewers"] == [str(doc.user_id)]
    assert planned_one["interpreter"]["name"] == "Interpreter One"  # from the participation record
    assert planned_one["place"] == "Goris, community centre, room 2"

    # The checklist comes first: no start without it.
    _refused(patch(doc, planned_one, state="in_progress"), 409, "checklist_required", ["checklist"])
    ready = _ok(patch(doc, planned_one, checklist=checklist()))
    assert ready["revision"] == 2
    assert ready["checklist"]["completed_by"] == str(doc.user_id)
    assert ready["checklist_at"] is not None

    started = _ok(patch(doc, ready, state="in_progress"))
    assert started["state"] == "in_progress"
    assert started["started_at"] is not None

    paused = _ok(patch(doc, started, state="paused", break_reason="She asked for water and a moment."))
    resumed = _ok(patch(doc, paused, state="in_progress", distress_observed=[{"note": "Shaking hands; we paused."}]))
    assert [b["reason"] for b in resumed["breaks"]] == ["She asked for water and a moment."]
    assert resumed["breaks"][0]["ended_at"] is not None
    assert resumed["distress_observed"][0]["note"] == "Shaking hands; we paused."

    recorded = _ok(
        patch(
            doc,
            resumed,
            referrals=[{"need": "psychosocial", "contact": "Goris mental health centre, +374 284 00000"}],
            feedback=[{"promise": "Tell her when the report is published.", "due_on": due(60)}],
        )
    )
    assert [r["need"] for r in recorded["referrals"]] == ["psychosocial"]
    [promise] = recorded["feedback"]
    assert (promise["state"], promise["due_on"]) == ("open", due(60))

    again = _ok(patch(doc, recorded, state="paused"))
    assert again["breaks"][-1]["reason"] is None

    # Completing needs the end-of-interview reconfirmation of use grants, recorded on its own.
    _refused(patch(doc, again, state="completed"), 409, "reconfirmation_required", ["state"])
    _refused(patch(doc, again, state="completed", reconfirmation={"confirmed": True}), 422, None, ["body"])
    made = reconfirm(doc, app, again["id"], outcome="first", first=use_consent(app), notes="All of it.")
    done = _ok(patch(doc, again, state="completed"))
    assert done["state"] == "completed"
    assert done["ended_at"] is not None
    assert len(done["breaks"]) == 2
    assert all(b["ended_at"] is not None for b in done["breaks"])  # completing closes the open break
    assert done["reconfirmation"]["confirmed"] is True
    assert done["reconfirmation"]["notes"] == "All of it."
    assert (done["reconfirmation"]["outcome"], done["reconfirmation"]["consent_ids"]) == ("first", made["consent_ids"])

    # The record is fixed now: no new plan, no move out of a final state. Help still goes on.
    _refused(patch(doc, done, place="elsewhere"), 409, "interview_started", ["place"])
    _refused(patch(doc, done, state="in_progress"), 409, "illegal_transition", ["state"])
    later = _ok(patch(doc, done, referrals=[{"need": "legal", "contact": "Legal aid clinic, Yerevan"}]))
    assert [r["need"] for r in later["referrals"]] == ["psychosocial", "legal"]

    assert _ok(doc.get(f"/api/v1/interviews/{done['id']}")) == later
    listed = _ok(doc.get(f"/api/v1/people/{pid}/interviews"))["items"]
    assert [i["id"] for i in listed] == [done["id"]]
    for sealed in ("place", "checklist", "breaks", "referrals", "reconfirmation", "feedback", "interpreter"):
        assert sealed not in listed[0]
    assert listed[0]["person_code"] == done["person_code"]


def test_feedback_promised_becomes_a_task_the_team_lists_and_marks_done_once(
    app: FastAPI, team: tuple[Actor, str]
) -> None:
    doc, case = team
    pid = consenting_person(doc, case, app)
    interview = new_interview(doc, pid)
    promised = _ok(
        patch(doc, interview, feedback=[{"promise": "Call back about the tracing request.", "due_on": due(7)}])
    )
    [promise] = promised["feedback"]

    tasks = _ok(doc.get(f"/api/v1/cases/{case}/feedback-tasks?state=open"))["items"]
    assert [(t["id"], t["interview_id"], t["due_on"], t["state"]) for t in tasks] == [
        (promise["task_id"], interview["id"], due(7), "open")
    ]
    assert "promise" not in tasks[0]  # what was promised is read with the interview, an audited read
    assert tasks[0]["person_code"] == interview["person_code"]

    done = _ok(doc.request("PATCH", f"/api/v1/feedback-tasks/{promise['task_id']}", json={"state": "done"}))
    assert (done["state"], done["done_by"]) == ("done", str(doc.user_id))
    again = doc.request("PATCH", f"/api/v1/feedback-tasks/{promise['task_id']}", json={"state": "done"})
    _refused(again, 409, "task_done", ["state"])
    assert _ok(doc.get(f"/api/v1/cases/{case}/feedback-tasks?state=open"))["items"] == []
    assert _ok(doc.get(f"/api/v1/interviews/{interview['id']}"))["feedback"][0]["state"] == "done"
    assert (
        doc.request("PATCH", f"/api/v1/feedback-tasks/{promise['task_id']}", json={"state": "open"}).status_code == 422
    )


@pytest.mark.parametrize("from_state", ["in_progress", "paused"])
def test_the_interviewee_can_stop_from_in_progress_and_paused_without_reconfirmation(
    app: FastAPI, team: tuple[Actor, str], from_state: str
) -> None:
    doc, case = team
    interview = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    _refused(patch(doc, interview, state="stopped_by_interviewee"), 409, "illegal_transition", ["state"])
    current = _ok(patch(doc, interview, state="in_progress"))
    if from_state == "paused":
        current = _ok(patch(doc, current, state="paused", break_reason="Too hard to go on today."))
    # The reconfirmation is its own request, never part of a change of state.
    reconfirmed = patch(doc, current, state="stopped_by_interviewee", reconfirmation={"confirmed": True})
    _refused(reconfirmed, 422, None, ["body"])
    stopped = _ok(patch(doc, current, state="stopped_by_interviewee"))
    assert stopped["state"] == "stopped_by_interviewee"
    assert stopped["reconfirmation"] is None
    assert stopped["ended_at"] is not None
    assert all(b["ended_at"] is not None for b in stopped["breaks"])
    # A stopped interview never becomes completed.
    reconfirm(doc, app, stopped["id"])
    _refused(patch(doc, stopped, state="completed"), 409, "illegal_transition", ["state"])


@pytest.mark.parametrize(
    ("path", "to"),
    [
        ([], "paused"),
        ([], "completed"),
        ([], "planned"),
        (["in_progress"], "planned"),
        (["in_progress"], "in_progress"),
        (["in_progress", "paused"], "paused"),
        (["in_progress", "stopped_by_interviewee"], "paused"),
    ],
)
def test_moves_the_state_machine_does_not_have_are_409_naming_state(
    app: FastAPI, team: tuple[Actor, str], path: list[str], to: str
) -> None:
    doc, case = team
    interview = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    for state in path:
        interview = _ok(patch(doc, interview, state=state))
    r = patch(doc, interview, state=to)
    _refused(r, 409, "illegal_transition", ["state"])
    assert "can go to" in r.json()["detail"] or "final" in r.json()["detail"]
    assert _ok(doc.get(f"/api/v1/interviews/{interview['id']}"))["revision"] == interview["revision"]


@pytest.mark.parametrize(
    "consent",
    [None, {"status": "refused"}, {"deferred_reason": "acute_distress"}, {"decisions": {"interview_now": False}}],
    ids=["none", "refused", "deferred", "no_interview_now"],
)
def test_an_interview_needs_consent_to_the_interview_now(
    app: FastAPI, team: tuple[Actor, str], consent: dict[str, Any] | None
) -> None:
    doc, case = team
    pid = doc.post(f"/api/v1/cases/{case}/people").json()["id"]
    if consent is not None:
        decisions = {**participation(app)["decisions"], **consent.pop("decisions", {})}
        body = participation(app, decisions=decisions, **consent)
        assert doc.post(f"/api/v1/people/{pid}/participation", json=body).status_code == 201
    _refused(doc.post(f"/api/v1/people/{pid}/interviews", json=planned()), 403, "consent_required", None)
    assert _count(app, Interview) == 0


def test_consent_is_checked_again_when_the_interview_starts(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case = team
    pid = consenting_person(doc, case, app)
    interview = new_interview(doc, pid, checklist=checklist())
    deferred = participation(app, deferred_reason="time_to_think")
    assert doc.post(f"/api/v1/people/{pid}/participation", json=deferred).status_code == 201
    _refused(patch(doc, interview, state="in_progress"), 403, "consent_required", None)

    renewed = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app, status="renewed"))
    started = _ok(patch(doc, interview, state="in_progress"))
    assert started["participation_id"] == renewed.json()["id"]  # taken under the version in force at the start
    assert started["participation_id"] != interview["participation_id"]


def test_after_a_break_the_interview_goes_on_or_completes_only_while_consent_allows_it(
    app: FastAPI, team: tuple[Actor, str]
) -> None:
    """A person who, during a break, withdraws their agreement to the interview is not interviewed further
    and their interview is not recorded as completed; it can be recorded as stopped by them."""
    doc, case = team
    pid = consenting_person(doc, case, app)
    started = _ok(patch(doc, new_interview(doc, pid, checklist=checklist()), state="in_progress"))
    paused = _ok(patch(doc, started, state="paused", break_reason="A break."))
    no_interview = participation(app, decisions={**participation(app)["decisions"], "interview_now": False})
    assert doc.post(f"/api/v1/people/{pid}/participation", json=no_interview).status_code == 201
    _refused(patch(doc, paused, state="in_progress"), 403, "consent_required", None)
    reconfirm(doc, app, paused["id"])
    _refused(patch(doc, paused, state="completed"), 403, "consent_required", None)
    stopped = _ok(patch(doc, paused, state="stopped_by_interviewee"))
    assert stopped["state"] == "stopped_by_interviewee"


@pytest.mark.parametrize("care", [None, False])
def test_sexual_violence_needs_care_available_locally(app: FastAPI, team: tuple[Actor, str], care: bool | None) -> None:
    doc, case = team
    pid = consenting_person(doc, case, app)
    sgbv = checklist(incident_types=["sexual_or_gender_based_violence", "arbitrary_detention"])
    if care is not None:
        sgbv["care_available_locally"] = care
    r = doc.post(f"/api/v1/people/{pid}/interviews", json=planned(checklist=sgbv))
    _refused(r, 422, None, ["checklist.care_available_locally"])
    interview = new_interview(doc, pid)
    _refused(patch(doc, interview, checklist=sgbv), 422, None, ["checklist.care_available_locally"])

    cared = _ok(patch(doc, interview, checklist={**sgbv, "care_available_locally": True}))
    assert _ok(patch(doc, cared, state="in_progress"))["state"] == "in_progress"


def test_a_referral_needs_referral_consent_and_never_waits_for_the_interview(
    app: FastAPI, team: tuple[Actor, str]
) -> None:
    doc, case = team
    referral = [{"need": "medical", "contact": "Goris hospital, ward 3"}]
    declined = participation(app, decisions={**participation(app)["decisions"], "referral": False})
    interview = new_interview(doc, consenting_person(doc, case, app, **declined))
    _refused(patch(doc, interview, referrals=referral), 403, "consent_required", ["referrals"])
    assert patch(doc, interview, referrals=referral).json()["decision"] == "referral"

    agreed = new_interview(doc, consenting_person(doc, case, app))
    made = _ok(patch(doc, agreed, referrals=referral))  # still planned: help never depends on testifying
    assert made["state"] == "planned"
    assert made["referrals"][0]["contact"] == "Goris hospital, ward 3"


def test_interviewers_must_be_documenters_on_the_case_team(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case = team
    pid = consenting_person(doc, case, app)
    outsider = actor(app, "outsider", [Role.DOCUMENTER])
    colleague = actor(app, "colleague", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
    r = doc.post(
        f"/api/v1/people/{pid}/interviews", json=planned(interviewers=[str(doc.user_id), str(outsider.user_id)])
    )
    _refused(r, 422, None, ["interviewers.1"])
    assert "case team" in r.json()["detail"]
    unknown = doc.post(f"/api/v1/people/{pid}/interviews", json=planned(interviewers=[str(uuid.uuid4())]))
    _refused(unknown, 422, None, ["interviewers.0"])
    twice = doc.post(f"/api/v1/people/{pid}/interviews", json=planned(interviewers=[str(doc.user_id)] * 2))
    _refused(twice, 422, None, ["interviewers.1"])
    assert _count(app, Interview) == 0

    pair = new_interview(doc, pid, interviewers=[str(colleague.user_id), str(doc.user_id)])
    assert set(pair["interviewers"]) == {str(colleague.user_id), str(doc.user_id)}
    moved = _ok(patch(doc, pair, interviewers=[str(colleague.user_id)]))
    assert moved["interviewers"] == [str(colleague.user_id)]
    _refused(patch(doc, moved, interviewers=[str(outsider.user_id)]), 422, None, ["interviewers.0"])
    # On the team, but not one who can read the interview: legal and custodians never interview.
    for n, role in enumerate((Role.LEGAL, Role.CUSTODIAN)):
        member = actor(app, f"member{n}", [role], cases=(uuid.UUID(case),))
        _refused(patch(doc, moved, interviewers=[str(member.user_id)]), 422, None, ["interviewers.0"])


def test_other_teams_and_other_roles_see_nothing(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case = team
    interview = new_interview(doc, consenting_person(doc, case, app))
    other = actor(app, "elsewhere", [Role.DOCUMENTER])
    lawyer = actor(app, "lawyer", [Role.LEGAL], cases=(uuid.UUID(case),))
    for who, status in ((other, 404), (lawyer, 403)):
        assert who.get(f"/api/v1/interviews/{interview['id']}").status_code == status
        assert patch(who, interview, place="x").status_code == status
        assert who.get(f"/api/v1/people/{interview['person_id']}/interviews").status_code == status
        assert who.get(f"/api/v1/cases/{case}/feedback-tasks").status_code == status


def test_a_stale_revision_is_refused_and_nothing_is_lost(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case = team
    interview = new_interview(doc, consenting_person(doc, case, app))
    first = _ok(patch(doc, interview, distress_observed=[{"note": "Tearful at the start."}]))
    _refused(patch(doc, interview, distress_observed=[{"note": "Second note."}]), 409, "stale_revision", ["revision"])
    second = _ok(patch(doc, first, distress_observed=[{"note": "Second note."}]))
    assert [d["note"] for d in second["distress_observed"]] == ["Tearful at the start.", "Second note."]


def _naive() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (planned(scheduled_at="not a date"), ["scheduled_at"]),
        (planned(scheduled_at="2026-02-30T10:00:00+04:00"), ["scheduled_at"]),
        (planned(scheduled_at=_naive()), ["scheduled_at"]),
        (planned(scheduled_at=(datetime.now(UTC) + timedelta(days=800)).isoformat()), ["scheduled_at"]),
        (planned(scheduled_at="0001-01-01T00:00:00+05:00"), ["scheduled_at"]),
        (planned(language="Armenian"), ["language"]),
        (planned(language=7), ["language"]),
        (planned(place="Goris\x00"), ["place"]),
        (planned(place=""), ["place"]),
        (planned(place="x" * 201), ["place"]),
        (planned(colour="red"), ["body"]),
        (planned(interviewers=[]), ["interviewers"]),
        (planned(interviewers=["../../etc/passwd"]), ["interviewers.0"]),
        (planned(gender_preference={"interviewer": "woman", "interpreter": "male"}), ["gender_preference.interviewer"]),
        (
            planned(gender_preference={"interviewer": "no_preference", "interpreter": "male", "interviewer_met": True}),
            ["gender_preference.interviewer_met"],
        ),
        (planned(checklist=checklist(incident_types=["genocide"])), ["checklist.incident_types.0"]),
        (planned(checklist=checklist(incident_types=[])), ["checklist.incident_types"]),
        (planned(checklist=checklist(incident_types=["killing", "killing"])), ["checklist.incident_types"]),
        (planned(checklist=checklist(accompanied_by=["alone", "lawyer"])), ["checklist.accompanied_by"]),
        (planned(checklist=checklist(accompanied_by=["Aunt Siranush"])), ["checklist.accompanied_by.0"]),
        (
            planned(checklist=checklist(prior_statements=[{"to": "Doctors Without Borders", "recorded": "yes"}])),
            ["checklist.prior_statements.0.to"],
        ),
        (
            planned(checklist=checklist(prior_statements=[{"to": "un_body", "month": 3, "recorded": "no"}])),
            ["checklist.prior_statements.0.month"],
        ),
        (
            planned(checklist=checklist(prior_statements=[{"to": "un_body", "year": 2099, "recorded": "no"}])),
            ["checklist.prior_statements.0.year"],
        ),
        (planned(checklist=checklist(justification="   ")), ["checklist.justification"]),
        (planned(checklist=checklist(private_setting="maybe")), ["checklist.private_setting"]),
    ],
)
def test_bad_plans_are_422_naming_the_field_and_store_nothing(
    app: FastAPI, team: tuple[Actor, str], body: dict[str, Any], fields: list[str]
) -> None:
    doc, case = team
    pid = consenting_person(doc, case, app)
    r = doc.post(f"/api/v1/people/{pid}/interviews", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == fields
    for sent in ("Siranush", "Borders", "passwd", "genocide", "Armenian", "red"):
        assert sent not in r.text
    assert _count(app, Interview) == 0


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({}, ["body"]),
        ({"revision": "abc"}, ["revision"]),
        ({"revision": 0}, ["revision"]),
        ({"state": "finished"}, ["state"]),
        ({"state": None}, ["state"]),
        ({"language": None}, ["language"]),
        ({"break_reason": "tired"}, ["break_reason"]),
        ({"reconfirmation": {"confirmed": True}}, ["body"]),
        ({"distress_observed": []}, ["distress_observed"]),
        ({"distress_observed": [{"note": "x" * 501}]}, ["distress_observed.0.note"]),
        ({"referrals": [{"need": "food", "contact": "x"}]}, ["referrals.0.need"]),
        ({"referrals": [{"need": "legal", "contact": "x", "story": "what happened"}]}, ["referrals.0"]),
        ({"feedback": [{"promise": "Call her.", "due_on": "2020-01-01"}]}, ["feedback.0.due_on"]),
        ({"feedback": [{"promise": "Call her.", "due_on": "2026-13-01"}]}, ["feedback.0.due_on"]),
        ({"feedback": [{"promise": "Call her.", "due_on": due(), "extra": 1}]}, ["feedback.0"]),
    ],
)
def test_bad_changes_are_422_naming_the_field_and_change_nothing(
    app: FastAPI, team: tuple[Actor, str], changes: dict[str, Any], fields: list[str]
) -> None:
    doc, case = team
    interview = new_interview(doc, consenting_person(doc, case, app))
    body = {"revision": interview["revision"], **changes}
    r = doc.request("PATCH", f"/api/v1/interviews/{interview['id']}", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == fields
    assert "what happened" not in r.text
    assert _ok(doc.get(f"/api/v1/interviews/{interview['id']}")) == interview
    assert _count(app, FeedbackTask) == 0


def test_an_oversized_change_is_413_and_changes_nothing(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case = team
    interview = new_interview(doc, consenting_person(doc, case, app))
    huge = [{"note": "x" * 400}] * 3000  # over the 1 MiB body limit
    r = patch(doc, interview, distress_observed=huge)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert _ok(doc.get(f"/api/v1/interviews/{interview['id']}")) == interview


def test_a_refused_move_leaves_the_other_changes_of_its_request_unstored(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case = team
    interview = new_interview(doc, consenting_person(doc, case, app))
    r = patch(doc, interview, feedback=[{"promise": "Call her.", "due_on": due()}], state="completed")
    _refused(r, 409, "illegal_transition", ["state"])
    assert _count(app, FeedbackTask) == 0
    assert _ok(doc.get(f"/api/v1/interviews/{interview['id']}")) == interview


def _count(app: FastAPI, model: type[Interview] | type[FeedbackTask]) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)
