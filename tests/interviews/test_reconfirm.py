"""The end-of-interview reconfirmation of use grants through the HTTP API: confirmed, narrowed (only ever
removing or lowering, at once) or first grants; refused outside the moments it belongs to."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.roles import Role
from app.core.db import unit_of_work
from app.interviews.models import InterviewReconfirmation
from tests.support.actors import Actor, actor
from tests.support.consent import documenter_team, grant, register_recipient, use_consent
from tests.support.interviews import checklist, consenting_person, new_interview, patch, reconfirm


@pytest.fixture
def started(app: FastAPI) -> tuple[Actor, dict[str, Any]]:
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    interview = new_interview(doc, person, checklist=checklist())
    moved = patch(doc, interview, state="in_progress")
    assert moved.status_code == 200, moved.text
    return doc, moved.json()


def _post(doc: Actor, interview: dict[str, Any], body: dict[str, Any]) -> Any:
    return doc.post(f"/api/v1/interviews/{interview['id']}/reconfirm-consent", json=body)


def _problem(r: Any, status: int, code: str | None, fields: list[str]) -> None:
    assert r.status_code == status, r.text
    assert (r.json().get("code"), r.json()["fields"]) == (code, fields), r.json()


def _count(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(InterviewReconfirmation)) or 0)


def test_confirming_needs_grants_to_confirm_and_lists_the_records_confirmed(
    app: FastAPI, started: tuple[Actor, dict[str, Any]]
) -> None:
    doc, interview = started
    _problem(_post(doc, interview, {"outcome": "confirmed"}), 409, "nothing_to_confirm", ["outcome"])
    made = doc.post(f"/api/v1/people/{interview['person_id']}/consents", json=use_consent(app))
    assert made.status_code == 201, made.text
    confirmed = reconfirm(doc, app, interview["id"], outcome="confirmed", notes="Read back in Armenian.")
    assert (confirmed["outcome"], confirmed["consent_ids"], confirmed["interview_state"]) == (
        "confirmed",
        [made.json()["id"]],
        "in_progress",
    )
    done = patch(doc, interview, state="completed")
    assert done.status_code == 200, done.text
    assert done.json()["reconfirmation"]["outcome"] == "confirmed"
    # Once completed there is nothing left to reconfirm here.
    _problem(_post(doc, done.json(), {"outcome": "confirmed"}), 409, "not_reconfirmable", ["state"])


def test_narrowing_removes_and_lowers_at_once_and_never_widens(
    app: FastAPI, started: tuple[Actor, dict[str, Any]]
) -> None:
    doc, interview = started
    avoid = register_recipient(app)
    body = use_consent(
        app,
        grants=[grant(), grant(purpose="research", recipient_class="researchers")],
        restrictions=["RU"],
        refusals=[{"purpose": "media", "recipient_class": "journalists", "categories": ["health"]}],
    )
    record = doc.post(f"/api/v1/people/{interview['person_id']}/consents", json=body).json()
    un, research = record["grants"]

    def narrowed(**contents: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "grants": [{**grant(), "id": un["id"]}],
            "restrictions": ["RU"],
            "refusals": body["refusals"],
        }
        return {"outcome": "narrowed", "consent_id": record["id"], "narrowed": {**base, **contents}}

    widening = [
        (narrowed(grants=[{**grant(disclosure_level="named_protected"), "id": un["id"]}]), "grants.0.disclosure_level"),
        (
            narrowed(grants=[{**grant(categories=["narrative_general", "health"]), "id": un["id"]}]),
            "grants.0.categories",
        ),
        (narrowed(grants=[{**grant(purpose="research"), "id": un["id"]}]), "grants.0.purpose"),
        (narrowed(grants=[{**grant(jurisdictions=None)}]), "grants.0.id"),
        (narrowed(grants=[grant(purpose="follow_up", recipient_class="case_team")]), "grants.0.id"),
        (narrowed(restrictions=[]), "restrictions"),
        (narrowed(refusals=[]), "refusals"),
    ]
    for request, field in widening:  # named as the request body holds them
        _problem(_post(doc, interview, request), 422, None, [f"narrowed.{field}"])
    assert _count(app) == 0
    assert len(doc.get(f"/api/v1/people/{interview['person_id']}/consents").json()["items"]) == 1

    # The research grant goes, the UN grant is lowered, a restriction is added.
    lowered = {**grant(categories=["narrative_general"], disclosure_level="deidentified"), "id": un["id"]}
    done = reconfirm(doc, app, interview["id"], **narrowed(grants=[lowered], restrictions=["RU", avoid]))
    [version_id] = done["consent_ids"]
    now = doc.get(f"/api/v1/consents/{version_id}").json()
    assert (now["version"], now["amends"], now["interview_id"], now["state"]) == (
        2,
        record["id"],
        interview["id"],
        "current",
    )
    assert [(g["categories"], g["disclosure_level"]) for g in now["grants"]] == [
        (["narrative_general"], "deidentified")
    ]
    assert now["grants"][0]["id"] != un["id"]  # changed, so a new grant
    assert research["id"] not in [g["id"] for g in now["grants"]]
    assert now["restrictions"]["recipient_ids"] == [avoid]
    assert doc.get(f"/api/v1/consents/{record['id']}").json()["state"] == "superseded"
    # A superseded version is not narrowed again.
    _problem(_post(doc, interview, narrowed()), 409, "superseded", ["consent_id"])


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"outcome": "confirmed", "consent_id": "01a22eba-302e-7d9c-80c2-ab72f5814306"}, ["consent_id"]),
        ({"outcome": "narrowed"}, ["consent_id", "narrowed"]),
        ({"outcome": "first"}, ["first"]),
        ({"outcome": "agreed"}, ["outcome"]),
    ],
)
def test_each_outcome_takes_what_it_needs(
    app: FastAPI, started: tuple[Actor, dict[str, Any]], body: dict[str, Any], fields: list[str]
) -> None:
    doc, interview = started
    _problem(_post(doc, interview, body), 422, None, fields)
    assert _count(app) == 0


def test_first_grants_are_checked_like_any_record(app: FastAPI, started: tuple[Actor, dict[str, Any]]) -> None:
    doc, interview = started
    bad = {"outcome": "first", "first": use_consent(app, restrictions=["my uncle's friends"])}
    _problem(_post(doc, interview, bad), 422, None, ["first.restrictions.0"])
    assert _count(app) == 0
    assert doc.get(f"/api/v1/people/{interview['person_id']}/consents").json()["items"] == []


def test_not_before_the_interview_began_and_only_by_the_team(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    planned = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    first = {"outcome": "first", "first": use_consent(app)}
    _problem(_post(doc, planned, first), 409, "not_reconfirmable", ["state"])
    outsider = actor(app, "outsider", [Role.DOCUMENTER])
    legal = actor(app, "legal", [Role.LEGAL], cases=(uuid.UUID(case),))
    assert _post(outsider, planned, first).status_code == 404
    assert _post(legal, planned, first).status_code == 403
    assert _count(app) == 0


def test_after_a_stop_a_reconfirmation_is_recorded_as_such(app: FastAPI, started: tuple[Actor, dict[str, Any]]) -> None:
    doc, interview = started
    stopped = patch(doc, interview, state="stopped_by_interviewee").json()
    again = reconfirm(doc, app, stopped["id"])
    assert again["interview_state"] == "stopped_by_interviewee"
    assert doc.get(f"/api/v1/interviews/{stopped['id']}").json()["state"] == "stopped_by_interviewee"
