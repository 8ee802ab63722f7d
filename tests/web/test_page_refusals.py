"""Refusals that the services fill in with codes and numbers (app.core.errors.AppError ``params``) read whole
in the page's language: the message translated, its places in that language's words. The API keeps the
English message, filled in."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.consent.vocabulary import ParticipationDecision
from app.erasure.schemas import ErasureState, HoldState
from app.exports.schemas import ExportStatus
from app.people.schemas import ReviewStatus
from app.web import catalogs, custodian, exports_page, i18n
from app.web.messages import DECISIONS, FILLED_IN, HOLD_STATES, REVIEW_STATUSES
from tests.support.consent import participation
from tests.support.exports import Desk, desk
from tests.support.interviews import consenting_person
from tests.support.pages import page_login, submit
from tests.support.world import World
from tests.web.test_interview_pages import _doc, _post, plan_fields

PLACE = re.compile(r"%\(([a-z_]+)\)s")


@pytest.mark.parametrize("language", sorted(i18n.LANGUAGES))
def test_every_translation_keeps_the_places_of_its_message(language: str) -> None:
    catalog = catalogs.read(language)
    for message in FILLED_IN:
        translated = catalog[message].string
        assert isinstance(translated, str)
        assert sorted(PLACE.findall(translated)) == sorted(PLACE.findall(message)), (language, message)


def test_the_words_cover_every_value_a_place_takes() -> None:
    assert set(DECISIONS) == {d.value for d in ParticipationDecision}
    assert set(HOLD_STATES) == {s.value for s in HoldState}
    assert set(REVIEW_STATUSES) == {s.value for s in ReviewStatus} - {ReviewStatus.OPEN.value}
    assert {s.value for s in ExportStatus} <= set(exports_page.STATUSES)
    assert {s.value for s in ErasureState} <= set(custodian.STATES)


def _in(client: TestClient, language: str, back: str) -> None:
    switched = submit(client, back, "/language", {"language": language, "back": back})
    assert switched.status_code == 303


def test_an_interview_the_consent_does_not_allow_is_refused_in_armenian(world: World) -> None:
    doc = _doc(world)
    decisions = participation(world.app)["decisions"] | {"interview_now": False}
    person = consenting_person(doc, world.case_id, world.app, decisions=decisions)
    api = doc.post(
        f"/api/v1/people/{person}/interviews", json={"scheduled_at": "2030-01-01T10:00:00Z", "language": "hy"}
    )
    assert api.status_code == 403
    assert api.json()["detail"].startswith("an interview needs the person's latest participation consent")
    assert "to agree to interview_now;" in api.json()["detail"]
    _in(doc.client, "hy", f"/people/{person}/interviews")
    refused = _post(doc, f"/people/{person}/interviews", plan_fields())
    assert refused.status_code == 403, refused.text
    assert "Հարցազրույց պահանջում է, որ անձի վերջին մասնակցության համաձայնությունը" in refused.text
    assert "թույլատրի հարցազրույց հիմա" in refused.text
    assert "needs the person" not in refused.text
    assert "interview_now" not in refused.text


def test_identity_below_a_named_level_is_refused_in_russian_naming_the_category(world: World) -> None:
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    made = _post(doc, f"/people/{person}/interviews", plan_fields())
    interview = made.headers["location"].rsplit("/", 1)[1]
    revision = str(doc.get(f"/api/v1/interviews/{interview}").json()["revision"])
    assert _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": "start"}).status_code == 303
    _in(doc.client, "ru", f"/interviews/{interview}")
    fields = {
        "outcome": "first",
        "grant1_purpose": "un_fact_finding",
        "grant1_recipient_class": "un_investigative_bodies",
        "grant1_categories": ["identity", "narrative_general"],
        "grant1_disclosure_level": "pseudonymous",
        "witness_name": "Witness One",
        "witness_role": "field coordinator",
    }
    refused = _post(doc, f"/interviews/{interview}/reconfirm", fields)
    assert refused.status_code == 422, refused.text
    identity = catalogs.read("ru")["Identity"].string
    assert f"{identity} можно разрешить только на именном уровне" in refused.text
    assert "can be granted only" not in refused.text
    assert doc.get(f"/api/v1/people/{person}/consents").json()["items"] == []


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def test_a_hold_decided_already_is_refused_in_russian_with_its_state(app: FastAPI, d: Desk) -> None:
    person = d.person()
    first, second = (page_login(app, c.username, c.totp_secret, steps=1)[0] for c in d.custodians)
    hold = {"reason": "The Commission asked that these be kept.", "proceedings_reference": "CoI-2026/3"}
    assert submit(first, "/erasures", f"/people/{person}/legal-hold", hold).status_code == 303
    page = second.get("/erasures").text
    decision = re.search(r'action="(/legal-holds/[0-9a-f-]{36}/decision)"', page)
    assert decision is not None
    assert submit(second, "/erasures", decision.group(1), {"decision": "confirm"}).status_code == 303
    _in(second, "ru", "/erasures")
    again = submit(second, "/erasures", decision.group(1), {"decision": "confirm"})
    assert again.status_code == 409, again.text
    in_force = catalogs.read("ru")["in force"].string
    assert f"это правовое удержание: {in_force}; оно не ждёт решения" in again.text
    assert "not waiting for a decision" not in again.text
