"""Asking for an export, previewing it and deciding it, through the real app on SQLite and PostgreSQL:
only legal users on every case's team ask; bad input is a 422 naming the field; only a custodian who did not
ask approves, with a fresh second factor in a browser session; named identity needs two custodians."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.roles import Role
from app.core.db import unit_of_work
from app.exports.models import ExportJob
from app.recipients.models import DenyListVersion
from tests.support.actors import actor, login, now, shift_clock
from tests.support.consent import grant, register_recipient
from tests.support.exports import NAMED_IDENTITY, Desk, desk


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _jobs(app: FastAPI, export_id: str) -> list[ExportJob]:
    with unit_of_work(app.state.sessionmaker) as s:
        return list(s.scalars(select(ExportJob).where(ExportJob.export_id == uuid.UUID(export_id))))


def test_only_legal_users_on_the_team_ask_for_exports(app: FastAPI, d: Desk) -> None:
    on_team = (uuid.UUID(d.case_id),)
    auditor = actor(app, "aud", [Role.AUDITOR])
    outsider = actor(app, "lawyer2", [Role.LEGAL])
    for who in (d.doc, auditor, d.admin, d.custodians[0]):
        r = who.post("/api/v1/exports", json=d.body())
        assert r.status_code == 403, (who.username, r.text)
        assert who.post("/api/v1/exports/preview", json=d.body()).status_code == 403
    assert outsider.post("/api/v1/exports", json=d.body()).status_code == 404  # not on the case's team
    other_case = d.admin.post("/api/v1/cases", json={"code": "KX-2", "title": "Other"}).json()["id"]
    both = d.body(case_ids=[d.case_id, other_case])
    assert d.legal.post("/api/v1/exports", json=both).status_code == 404  # on one team, not the other
    made = d.request()
    assert made["status"] == "requested"
    assert made["approvals_needed"] == 1
    assert made["requester_id"] == str(d.legal.user_id)
    assert made["bundle_written"] is False
    assert "justification" not in made  # sealed, and shown in no answer
    assert actor(app, "lawyer3", [Role.LEGAL], cases=on_team).get(f"/api/v1/exports/{made['id']}").status_code == 404
    assert d.custodians[1].get(f"/api/v1/exports/{made['id']}").json()["id"] == made["id"]
    assert [e["id"] for e in d.legal.get("/api/v1/exports").json()["items"]] == [made["id"]]
    assert outsider.get("/api/v1/exports").json()["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "gossip"}, "purpose"),
        ({"categories": ["narrative_general", "ethnicity"]}, "categories.1"),
        ({"max_disclosure_level": "everything"}, "max_disclosure_level"),
        ({"recipient_id": str(uuid.uuid4())}, "recipient_id"),
        ({"categories": []}, "categories"),
        ({"justification": "  "}, "justification"),
        ({"unknown": 1}, "body"),
        ({"filters": {"violation_types": ["killing"]}}, "filters.violation_types"),
        ({"filters": {"interviewed_from": "2024-02-01", "interviewed_to": "2024-01-01"}}, "filters"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(d: Desk, change: dict[str, Any], field: str) -> None:
    for path in ("/api/v1/exports", "/api/v1/exports/preview"):
        r = d.legal.post(path, json=d.body(**change))
        assert r.status_code == 422, r.text
        assert field in r.json()["fields"], r.json()
    assert d.legal.get("/api/v1/exports").json()["items"] == []


def test_an_inactive_or_deny_listed_recipient_is_refused(app: FastAPI, d: Desk) -> None:
    inactive = register_recipient(app, active=False)
    r = d.legal.post("/api/v1/exports", json=d.body(recipient_id=inactive))
    assert (r.status_code, r.json()["fields"]) == (422, ["recipient_id"])
    with unit_of_work(app.state.sessionmaker) as s:
        s.add(DenyListVersion(version=1, recipient_ids=[d.recipient_id], jurisdictions=[], created_at=now(app)))
    for path in ("/api/v1/exports", "/api/v1/exports/preview"):
        r = d.legal.post(path, json=d.body())
        assert (r.status_code, r.json()["fields"]) == (422, ["recipient_id"]), r.text
    assert d.legal.get("/api/v1/exports").json()["items"] == []


def test_aggregate_counts_are_not_filtered_by_named_people(d: Desk) -> None:
    person = d.person(grant())
    r = d.legal.post(
        "/api/v1/exports", json=d.body(max_disclosure_level="aggregate_only", filters={"people": [person]})
    )
    assert (r.status_code, r.json()["fields"]) == (422, ["filters.people"])
    stranger = str(uuid.uuid4())
    r = d.legal.post("/api/v1/exports", json=d.body(filters={"people": [person, stranger]}))
    assert (r.status_code, r.json()["fields"]) == (422, ["filters.people.1"])
    assert d.request(filters={"people": [person]})["filters"]["people"] == [person]


def test_the_requester_cannot_approve_even_as_a_custodian(app: FastAPI, d: Desk) -> None:
    both = actor(app, "lawkeeper", [Role.LEGAL, Role.CUSTODIAN], cases=(uuid.UUID(d.case_id),))
    made = both.post("/api/v1/exports", json=d.body())
    assert made.status_code == 201, made.text
    export = made.json()["id"]
    r = both.post(f"/api/v1/exports/{export}/approve", json={"reason": "Mine."})
    assert (r.status_code, r.json()["code"]) == (403, "same_person")
    assert both.get(f"/api/v1/exports/{export}").json()["status"] == "requested"
    assert _jobs(app, export) == []


def test_approving_by_bearer_token_fails(app: FastAPI, d: Desk) -> None:
    export = d.request()["id"]
    token = d.custodians[0].post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"})
    assert token.status_code == 201, token.text
    client = d.custodians[0].client
    headers = {"authorization": f"Bearer {token.json()['token']}"}
    r = client.post(f"/api/v1/exports/{export}/approve", json={"reason": "By script."}, headers=headers)
    assert (r.status_code, r.json()["code"]) == (403, "step_up_required")
    assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "requested"


def test_approval_needs_a_fresh_second_factor(app: FastAPI, d: Desk) -> None:
    export = d.request()["id"]
    shift_clock(app, timedelta(minutes=6))
    r = d.approve(export)
    assert (r.status_code, r.json()["code"]) == (403, "step_up_required")
    assert _jobs(app, export) == []


def test_one_custodian_approves_a_pseudonymous_export_and_a_job_is_queued(app: FastAPI, d: Desk) -> None:
    export = d.request()["id"]
    r = d.approve(export)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    assert [(a["decided_by"], a["decision"]) for a in r.json()["approvals"]] == [
        (str(d.custodians[0].user_id), "approve")
    ]
    assert [(j.state, j.fencing, j.attempts) for j in _jobs(app, export)] == [("queued", 0, 0)]
    again = d.approve(export, 1)
    assert again.status_code == 409
    assert len(_jobs(app, export)) == 1


def test_named_identity_needs_two_distinct_custodians(app: FastAPI, d: Desk) -> None:
    made = d.request(categories=["identity", "narrative_general"], max_disclosure_level="named_protected")
    assert made["approvals_needed"] == 2
    export = made["id"]
    first = d.approve(export)
    assert first.json()["status"] == "awaiting_second_approval", first.text
    assert _jobs(app, export) == []
    same = d.approve(export)
    assert (same.status_code, same.json()["code"]) == (403, "same_person")
    second = d.approve(export, 1)
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "approved"
    assert [a["decided_by"] for a in second.json()["approvals"]] == [str(c.user_id) for c in d.custodians]
    assert [j.state for j in _jobs(app, export)] == ["queued"]


@pytest.mark.parametrize("category", ["audio_recording", "video_recording", "photos_of_person"])
def test_recordings_and_photos_of_the_person_need_two_custodians(d: Desk, category: str) -> None:
    made = d.request(categories=[category], max_disclosure_level="named_protected")
    assert made["approvals_needed"] == 2
    assert d.request(categories=["photos_other"])["approvals_needed"] == 1


def test_a_rejection_closes_the_request(app: FastAPI, d: Desk) -> None:
    export = d.request()["id"]
    r = d.custodians[0].post(f"/api/v1/exports/{export}/reject", json={"reason": "Too broad for the purpose."})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected"
    assert d.approve(export, 1).status_code == 409
    assert _jobs(app, export) == []
    named = d.request(categories=["identity"], max_disclosure_level="named_public")["id"]
    assert d.approve(named).json()["status"] == "awaiting_second_approval"
    r = d.custodians[1].post(f"/api/v1/exports/{named}/reject", json={"reason": "Names are not needed."})
    assert r.json()["status"] == "rejected", r.text
    assert _jobs(app, named) == []


def test_preview_counts_people_per_level_and_suppresses_small_counts(d: Desk) -> None:
    for _ in range(5):
        d.person(grant())
    d.person(NAMED_IDENTITY)
    d.person()  # granted nothing
    d.person(grant(purpose="research", recipient_class="researchers"))  # not for this purpose
    r = d.legal.post("/api/v1/exports/preview", json=d.body())
    assert r.status_code == 200, r.text
    assert r.json() == {
        "people": {
            "named_public": 0,
            "named_protected": 0,
            "pseudonymous": 5,  # 6, rounded: the named grant allows its narrative pseudonymously too
            "deidentified": 0,
            "aggregate_only": 0,
        },
        "excluded": None,  # 2: fewer than 5
    }
    named = d.legal.post(
        "/api/v1/exports/preview",
        json=d.body(categories=["identity", "narrative_general"], max_disclosure_level="named_protected"),
    ).json()
    assert named["people"]["named_protected"] is None  # 1: suppressed
    assert named["people"]["pseudonymous"] == 5
    assert d.legal.get("/api/v1/exports").json()["items"] == []  # a preview stores nothing
    # Naming people is refused: two previews differing by one person would tell whether that person consented.
    alone = d.person(grant())
    one = d.legal.post("/api/v1/exports/preview", json=d.body(filters={"people": [alone]}))
    assert (one.status_code, one.json()["fields"]) == (422, ["filters.people"]), one.text
    # So is narrowing by interview dates: previews a day apart would count the people interviewed that day.
    for dates in (
        {"interviewed_from": "2100-01-01"},
        {"interviewed_from": "2020-01-01", "interviewed_to": "2100-01-01"},
    ):
        dated = d.legal.post("/api/v1/exports/preview", json=d.body(filters=dates))
        assert (dated.status_code, dated.json()["fields"]) == (422, [f"filters.{k}" for k in dates]), dated.text
    made = d.legal.post("/api/v1/exports", json=d.body(filters={"interviewed_from": "2020-01-01"}))
    assert made.status_code == 201, made.text  # a dated request is made, and counted for the custodians


def test_two_previews_differing_in_level_or_categories_do_not_give_away_a_suppressed_count(d: Desk) -> None:
    """The review's F5: previews differing only in the level asked (or the categories) gave pseudonymous 6 and 5
    beside a suppressed named_protected, so the suppressed cell was 6 - 5 = 1. Every released count is now a
    multiple of 5, so no difference of two released counts is a count from 1 to 4."""
    for _ in range(5):
        d.person(grant())
    d.person(NAMED_IDENTITY)
    d.person()
    d.person(grant(purpose="research", recipient_class="researchers"))
    bodies = [
        d.body(),
        d.body(categories=["identity", "narrative_general"], max_disclosure_level="named_protected"),
        d.body(categories=["identity", "narrative_general"], max_disclosure_level="pseudonymous"),
    ]
    previews = [d.legal.post("/api/v1/exports/preview", json=body).json() for body in bodies]
    named = previews[1]
    assert named["people"]["named_protected"] is None  # 1: suppressed
    for preview in previews:
        released = [n for n in (*preview["people"].values(), preview["excluded"]) if n is not None]
        assert released, preview
        assert all(n % 5 == 0 for n in released), preview
    for one in previews:
        for other in previews:
            difference = abs(one["people"]["pseudonymous"] - other["people"]["pseudonymous"])
            assert difference not in range(1, 5), (one, other)
    assert previews[0]["people"]["pseudonymous"] == previews[1]["people"]["pseudonymous"] == 5  # 6 and 5


def test_a_preview_of_a_handful_of_people_shows_no_count_not_even_a_zero(d: Desk) -> None:
    for _ in range(4):
        d.person(grant())
    r = d.legal.post("/api/v1/exports/preview", json=d.body())
    assert r.status_code == 200, r.text
    assert r.json() == {"people": dict.fromkeys(r.json()["people"]), "excluded": None}
    assert set(r.json()["people"]) == {
        "named_public",
        "named_protected",
        "pseudonymous",
        "deidentified",
        "aggregate_only",
    }


def test_an_export_left_waiting_for_a_second_custodian_past_the_deadline_is_rejected(app: FastAPI, d: Desk) -> None:
    export = d.request(categories=["identity"], max_disclosure_level="named_protected")["id"]
    assert d.approve(export).json()["status"] == "awaiting_second_approval"
    hours = app.state.runtime.settings.session.confirmation_hours
    shift_clock(app, timedelta(hours=hours, minutes=1))
    second = login(app, d.custodians[1].username, d.custodians[1].totp_secret)  # a fresh login and second factor
    r = second.post(f"/api/v1/exports/{export}/approve", json={"reason": "Late."})
    assert r.status_code == 409, r.text
    assert second.get(f"/api/v1/exports/{export}").json()["status"] == "rejected"
    assert _jobs(app, export) == []


def test_an_erased_person_of_the_case_leaves_preview_review_and_approval_working(d: Desk) -> None:
    """The erased person's consent no longer opens: they are out of every export's scope (preview, review and
    approval of any export of the case answered 500 once anyone in it was erased)."""
    from tests.erasure.support import erase

    people = [d.person(grant()) for _ in range(8)]
    erase(*d.custodians, people[0])
    preview = d.legal.post("/api/v1/exports/preview", json=d.body())
    assert preview.status_code == 200, preview.text
    assert preview.json()["people"]["pseudonymous"] == 5  # 7 rounded to base 5 (8 would have been 10)
    made = d.request()
    assert d.review(made["id"])["counts"]["people"]["pseudonymous"] == 7  # exact for the custodian who decides
    approved = d.approve(made["id"])
    assert approved.status_code == 200, approved.text
    assert d.worker().run_once() is True
    export = d.legal.get(f"/api/v1/exports/{made['id']}").json()
    assert export["status"] == "ready", export


def test_a_preview_of_fewer_than_five_shows_nothing_and_the_custodian_reads_exact_counts(d: Desk) -> None:
    """A zero among 1 to 4 people says who allowed what, and an empty scope (erased people are out of it) would
    tell that a case's people were erased: the requester reads no count under 5 people. The custodian who
    decides (and sees the records anyway) reads every count."""
    nobody = d.legal.post("/api/v1/exports/preview", json=d.body())
    assert nobody.status_code == 200, nobody.text
    assert nobody.json() == {"people": dict.fromkeys(LEVELS), "excluded": None}
    d.person(grant())
    d.person()  # granted nothing
    few = d.legal.post("/api/v1/exports/preview", json=d.body()).json()
    assert few == {"people": dict.fromkeys(LEVELS), "excluded": None}
    made = d.request()
    assert d.review(made["id"])["counts"] == {
        "people": dict.fromkeys(LEVELS, 0) | {"pseudonymous": 1},
        "excluded": 1,
        "in_scope": 2,
    }
    keeper = d.custodians[0]
    keeper.client.follow_redirects = False
    page = keeper.client.get(f"/exports/{made['id']}/review")
    assert page.status_code == 200
    cells = re.findall(r'<tr><th scope="row">[^<]+</th><td>([^<]+)</td></tr>', page.text)
    assert cells == ["0", "0", "1", "0", "0", "1"]  # every level, then those left out: no "fewer than 5"


LEVELS = ("named_public", "named_protected", "pseudonymous", "deidentified", "aggregate_only")
