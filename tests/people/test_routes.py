"""Interviewees through the HTTP API: consent before collection, sealed identity, duplicate check."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.roles import Role
from tests.support.actors import Actor, actor
from tests.support.consent import child_texts, documenter_team, identity, participation, person_in, recontact

CODE = re.compile(r"^[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{4}$")


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str]:
    return documenter_team(app)


def test_consent_before_collection_journey(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    person = person_in(doc, case_id)
    assert CODE.match(person["code"])
    assert person["participation_status"] is None
    assert person["allows_collection"] is False
    pid = person["id"]

    refused = doc.request("PATCH", f"/api/v1/people/{pid}", json=identity())
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["fields"] == ["identity"]
    contact_first = doc.request("PATCH", f"/api/v1/people/{pid}", json={"contact": {**recontact(), "value": "+374"}})
    assert contact_first.status_code == 403
    assert contact_first.json()["fields"] == ["contact"]
    assert doc.get(f"/api/v1/people/{pid}").json()["identity"] is None

    recorded = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app))
    assert recorded.status_code == 201, recorded.text
    body = recorded.json()
    assert (body["version"], body["status"], body["allows_collection"]) == (1, "given", True)
    assert body["details"]["teach_back"]["courts_and_defence"] == "pass"
    assert body["details"]["withdrawal_code_word"] == "set"  # never read back

    stored = doc.request("PATCH", f"/api/v1/people/{pid}", json=identity("Anahit Petrosyan", "1985-03-02"))
    assert stored.status_code == 200, stored.text
    assert stored.json()["identity"]["full_name"] == "Anahit Petrosyan"
    with_contact = doc.request(
        "PATCH", f"/api/v1/people/{pid}", json={"contact": {**recontact(), "value": "+374 55 000000"}}
    )
    assert with_contact.json()["contact"]["value"] == "+374 55 000000"

    listing = doc.get(f"/api/v1/cases/{case_id}/people")
    assert [p["code"] for p in listing.json()["items"]] == [person["code"]]
    assert "Anahit" not in listing.text
    assert "Petrosyan" not in listing.text


def test_every_version_is_kept(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    first = participation(app, decisions={**participation(app)["decisions"], "audio_recording": True})
    assert doc.post(f"/api/v1/people/{pid}/participation", json=first).status_code == 201
    second = participation(app, status="renewed", language="hy", text_sha256=_hash(app, "hy"))
    assert doc.post(f"/api/v1/people/{pid}/participation", json=second).status_code == 201
    history = doc.get(f"/api/v1/people/{pid}/participation").json()["items"]
    assert [(h["version"], h["status"], h["language"]) for h in history] == [(1, "given", "en"), (2, "renewed", "hy")]
    assert history[0]["details"]["decisions"]["audio_recording"] is True
    assert history[1]["details"]["decisions"]["audio_recording"] is False


def _hash(app: FastAPI, language: str, variant: str = "main") -> str:
    from tests.support.consent import text_hash

    return text_hash(app, language, variant)


def test_deferred_consent_blocks_collection_until_confirmed(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    distress = participation(app, deferred_reason="acute_distress")
    recorded = doc.post(f"/api/v1/people/{pid}/participation", json=distress).json()
    assert (recorded["status"], recorded["allows_collection"]) == ("deferred", False)
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()).status_code == 403
    confirmed = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app))
    assert confirmed.json()["allows_collection"] is True
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()).status_code == 200


def test_refusal_is_recorded_and_blocks_collection(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    no = {k: False for k in participation(app)["decisions"]}
    refused = doc.post(
        f"/api/v1/people/{pid}/participation",
        json=participation(app, status="refused", decisions=no, teach_back={}, withdrawal_code_word=None),
    )
    assert refused.status_code == 201, refused.text
    assert refused.json()["allows_collection"] is False
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()).status_code == 403


def _years_ago(app: FastAPI, years: int, days: int = 0) -> str:
    from datetime import timedelta

    from tests.support.actors import now

    today = now(app).date()
    return (today.replace(year=today.year - years) + timedelta(days=days)).isoformat()


def _minor_block(**extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "assent": True,
        "guardian": {"name": "Guardian One", "relation": "mother", "consent": True},
        "best_interests_checked_by": "M. Hakobyan, child protection officer",
    }
    block.update(extra)
    return block


def test_a_person_who_turns_18_between_decisions_is_an_adult_for_the_later_one(
    app: FastAPI, team: tuple[Actor, str]
) -> None:
    from tests.support.actors import now

    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    born = _years_ago(app, 18, days=-3)  # 18th birthday three days ago
    earlier = (now(app).replace(microsecond=0) - __import__("datetime").timedelta(days=5)).isoformat()
    as_child = participation(app, date_of_birth=born, obtained_at=earlier, **child_texts(app))
    refused = doc.post(f"/api/v1/people/{pid}/participation", json=as_child)
    assert refused.status_code == 422
    assert refused.json()["fields"] == ["minor"]
    first = doc.post(f"/api/v1/people/{pid}/participation", json={**as_child, "minor": _minor_block()})
    assert first.status_code == 201
    assert first.json()["age_at_decision"] == 17
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity("Arev Hakobyan", born)).status_code == 200
    assert doc.get(f"/api/v1/people/{pid}").json()["reconsent_due"] is True
    later = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app, date_of_birth=born))
    assert later.status_code == 201, later.text
    assert later.json()["age_at_decision"] == 18
    assert doc.get(f"/api/v1/people/{pid}").json()["reconsent_due"] is False


def test_minors_need_assent_and_a_guardian(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    child = participation(app, date_of_birth=_years_ago(app, 12), **child_texts(app))
    no_assent = doc.post(f"/api/v1/people/{pid}/participation", json={**child, "minor": _minor_block(assent=False)})
    assert no_assent.status_code == 422
    assert no_assent.json()["fields"] == ["minor.assent"]
    no_guardian = doc.post(f"/api/v1/people/{pid}/participation", json={**child, "minor": _minor_block(guardian=None)})
    assert no_guardian.status_code == 422
    assert no_guardian.json()["fields"] == ["minor.guardian"]
    assert doc.get(f"/api/v1/people/{pid}/participation").json()["items"] == []


def test_a_guardian_conflict_blocks_the_person_unless_a_social_worker_stands_in(
    app: FastAPI, team: tuple[Actor, str]
) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    child = participation(app, date_of_birth=_years_ago(app, 15), **child_texts(app))
    blocked = doc.post(
        f"/api/v1/people/{pid}/participation", json={**child, "minor": _minor_block(guardian_conflict=True)}
    )
    assert blocked.status_code == 201
    assert (blocked.json()["allows_collection"], blocked.json()["blocked_reason"]) == (False, "guardian_conflict")
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()).status_code == 403
    with_worker = _minor_block(guardian_conflict=True, guardian=None, social_worker="S. Avetisyan, social worker")
    allowed = doc.post(f"/api/v1/people/{pid}/participation", json={**child, "minor": with_worker})
    assert allowed.json()["allows_collection"] is True


def test_a_childs_identity_is_refused_under_an_adults_consent(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    adult = participation(app, date_of_birth="1980-03-02")
    assert doc.post(f"/api/v1/people/{pid}/participation", json=adult).status_code == 201
    born = _years_ago(app, 7)
    for update, field in (
        (identity("Ani Petrosyan", born), "identity.date_of_birth"),
        ({"identity": {"full_name": "Ani Petrosyan", "age_years": 7}}, "identity.age_years"),
    ):
        r = doc.request("PATCH", f"/api/v1/people/{pid}", json={**update, "contact": {**recontact(), "value": "+1"}})
        assert r.status_code == 409
        problem = r.json()
        assert (problem["code"], problem["fields"]) == ("minor_consent_required", [field])
        assert born not in r.text
        assert "Petrosyan" not in r.text
        assert not re.search(r"\d", problem["detail"])  # no date, year or age in the message
    stored = doc.get(f"/api/v1/people/{pid}").json()
    assert (stored["identity"], stored["contact"]) == (None, None)
    assert (
        doc.request("PATCH", f"/api/v1/people/{pid}", json=identity("Ani Petrosyan", "1980-03-02")).status_code == 200
    )


def test_a_childs_identity_needs_consent_that_pinned_the_guardian_text(app: FastAPI, team: tuple[Actor, str]) -> None:
    """A minor section on an adult's record (no guardian text read) does not make it a child's consent."""
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    adult = participation(app, date_of_birth="1980-03-02", minor=_minor_block())
    assert doc.post(f"/api/v1/people/{pid}/participation", json=adult).status_code == 201
    r = doc.request("PATCH", f"/api/v1/people/{pid}", json=identity("Ani Petrosyan", _years_ago(app, 9)))
    assert (r.status_code, r.json()["code"]) == (409, "minor_consent_required")


def test_a_childs_identity_is_stored_under_consent_recorded_for_a_minor(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    born = _years_ago(app, 12)
    child = participation(app, date_of_birth=born, minor=_minor_block(), **child_texts(app))
    assert doc.post(f"/api/v1/people/{pid}/participation", json=child).status_code == 201
    r = doc.request("PATCH", f"/api/v1/people/{pid}", json=identity("Ani Petrosyan", born))
    assert r.status_code == 200, r.text
    assert r.json()["identity"]["date_of_birth"] == born


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"method": "verbal_witnessed", "witness": None}, "witness"),
        ({"form_id": "nonexistent"}, "form_id"),
        ({"form_version": "v9"}, "form_version"),
        ({"language": "fr"}, "language"),
        ({"text_sha256": "0" * 64}, "text_sha256"),
        ({"teach_back": {"voluntariness": "pass", "not_a_question": "pass"}}, "teach_back"),  # never the key
        ({"decisions": {"interview_now": True}}, "decisions.notes"),
        ({"retention": "P99Y"}, "retention"),
        ({"withdrawal_code_word": None}, "withdrawal_code_word"),
        ({"place": "Goris\u0000"}, "place"),
        ({"place": "x" * 201}, "place"),
        ({"ethnicity": "Armenian"}, "body"),  # an unknown field, named by where it was
        ({"date_of_birth": None}, "date_of_birth"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_participation_input_names_the_field_and_stores_nothing(
    app: FastAPI, team: tuple[Actor, str], change: dict[str, Any], field: str
) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    r = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app, **change))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert any(f.startswith(field) for f in r.json()["fields"]), r.json()["fields"]
    assert doc.get(f"/api/v1/people/{pid}/participation").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"identity": {"full_name": "A\u0000B"}}, "identity.full_name"),
        ({"identity": {"full_name": "x" * 201}}, "identity.full_name"),
        ({"identity": {"full_name": "A", "ethnicity": "x"}}, "identity"),  # unknown fields, named by where they were
        ({"identity": {"full_name": "A", "current_address": "x"}}, "identity"),
        ({"identity": {"full_name": "A", "languages": ["Armenian"]}}, "identity.languages.0"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_identity_input_names_the_field(
    app: FastAPI, team: tuple[Actor, str], body: dict[str, Any], field: str
) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    assert doc.post(f"/api/v1/people/{pid}/participation", json=participation(app)).status_code == 201
    r = doc.request("PATCH", f"/api/v1/people/{pid}", json=body)
    assert r.status_code == 422
    assert field in r.json()["fields"]
    assert doc.get(f"/api/v1/people/{pid}").json()["identity"] is None


def test_people_outside_the_team_are_not_found(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, case_id = team
    pid = person_in(doc, case_id)["id"]
    outsider = actor(app, "out", [Role.DOCUMENTER])
    assert outsider.get(f"/api/v1/people/{pid}").status_code == 404
    assert outsider.get(f"/api/v1/people/{uuid.uuid4()}").status_code == 404
    assert outsider.post(f"/api/v1/cases/{case_id}/people").status_code == 404
    legal = actor(app, "lee", [Role.LEGAL], cases=(uuid.UUID(case_id),))
    assert legal.get(f"/api/v1/people/{pid}").status_code == 403  # legal never browses people
