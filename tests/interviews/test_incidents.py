"""Incidents through the real app: structured, sealed but for the counts, refused whole on bad input (their
canaries are in tests/interviews/test_statements.py)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.interviews.models import Incident
from tests.interviews.test_statements import _started
from tests.support.consent import documenter_team
from tests.support.interviews import INCIDENT, WITHOUT_NOTES, checklist, consenting_person, new_interview

MARK = "m4Rt"


def canary(field: str) -> str:
    return f"{field}-Մկրտչյան-{MARK}"


def _count(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return s.scalar(select(func.count()).select_from(Incident)) or 0


def test_an_incident_is_recorded_listed_by_counts_and_read_whole(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    r = doc.post(f"/api/v1/interviews/{iid}/incidents", json=INCIDENT)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["date"] == {"start": "2023-09-01", "end": "2023-10-01", "precision": "month"}
    assert made["violation_types"] == ["arbitrary_detention", "forced_displacement"]
    assert (made["other_victims"], made["witnesses"], made["witnesses_description"]) == (3, 1, None)
    assert made["recorded_by"] == str(doc.user_id)
    day = {**INCIDENT, "date": {"from": "2023-09-19", "precision": "day"}, "violation_types": ["killing"]}
    assert doc.post(f"/api/v1/interviews/{iid}/incidents", json=day).status_code == 201
    listed = doc.get(f"/api/v1/interviews/{iid}/incidents").json()["items"]
    assert listed[0]["id"] == made["id"]
    assert len(listed) == 2
    assert all(
        set(i) == {"id", "interview_id", "other_victims", "witnesses", "recorded_by", "recorded_at"} for i in listed
    )
    assert doc.get(f"/api/v1/incidents/{made['id']}").json() == made


def _future() -> str:
    return (date.today() + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"date": {"from": "2023-02-30", "precision": "day"}}, "date.from"),
        ({"date": {"from": _future(), "precision": "day"}}, "date.from"),
        ({"date": {"from": "1850-01-01", "precision": "year"}}, "date.from"),
        ({"date": {"from": "2023-05-02", "to": "2023-05-01", "precision": "day"}}, "date.to"),
        ({"date": {"from": "2023-05-02", "precision": "month"}}, "date.from"),
        ({"date": {"from": "2023-01-01", "precision": "week"}}, "date.precision"),
        ({"violation_types": ["genocide"]}, "violation_types.0"),
        ({"violation_types": []}, "violation_types"),
        ({"violation_types": ["killing", "killing"]}, "violation_types"),
        ({"place": "Goris\x00"}, "place"),
        ({"perpetrators": [7]}, "perpetrators.0"),
        ({"other_victims": {"count": "three"}}, "other_victims.count"),
        ({"witnesses": {"count": -1}}, "witnesses.count"),
    ],
    ids=[
        "no_such_day", "future", "too_early", "range_reversed", "month_not_first", "precision", "unknown_type",
        "no_type", "type_twice", "nul", "perpetrator_type", "count_type", "negative_count",
    ],
)  # fmt: skip
def test_bad_incidents_name_the_field_and_store_nothing(app: FastAPI, change: dict[str, Any], field: str) -> None:
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    r = doc.post(f"/api/v1/interviews/{iid}/incidents", json={**INCIDENT, **change})
    assert r.status_code == 422, r.text
    assert field in r.json()["fields"], r.json()
    assert "Goris" not in r.text
    assert _count(app) == 0


def test_an_incident_needs_an_interview_under_way_and_the_notes_decision(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    planned = new_interview(doc, consenting_person(doc, case, app), checklist=checklist())
    early = doc.post(f"/api/v1/interviews/{planned['id']}/incidents", json=INCIDENT)
    assert (early.status_code, early.json()["fields"]) == (409, ["state"])
    without = _started(app, doc, case, decisions=WITHOUT_NOTES)
    refused = doc.post(f"/api/v1/interviews/{without['id']}/incidents", json=INCIDENT)
    assert (refused.status_code, refused.json()["code"], refused.json()["decision"]) == (
        403,
        "consent_required",
        "notes",
    )
    assert _count(app) == 0
