"""Use grants through the HTTP API: consent records recorded, read, listed, amended and invalidated; every
bad record refused with a 422 naming the field, and nothing stored."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.roles import Role
from app.consent.grant_models import ConsentInvalidation, UseConsent
from app.core.db import unit_of_work
from tests.support.actors import Actor, actor, code, shift_clock
from tests.support.consent import documenter_team, grant, record_use_consent, register_recipient, use_consent
from tests.support.interviews import consenting_person


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str]:
    doc, case_id = documenter_team(app)
    return doc, consenting_person(doc, case_id, app)


def _refused(r: Any, status: int, code: str | None, fields: list[str] | None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body.get("code") == code, body
    if fields is not None:
        assert body.get("fields") == fields, body


def _stored(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(UseConsent)) or 0)


def test_a_record_is_kept_sealed_and_read_back_whole(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    kept = register_recipient(app)
    body = use_consent(
        app,
        grants=[
            grant(),
            grant(
                purpose="criminal_investigation",
                recipient_class="national_authorities",
                jurisdictions=["FR", "DE"],
                categories=["identity", "narrative_general"],
                disclosure_level="named_protected",
                expires_at="2099-01-01T00:00:00+00:00",
            ),
        ],
        refusals=[{"purpose": "media", "recipient_class": "journalists", "categories": ["narrative_general"]}],
        restrictions=[kept, "RU"],
        retention={"audio_recording": "P2Y"},
        place="Canary village hall",
        notes="Canary note about the choices.",
    )
    r = doc.post(f"/api/v1/people/{person}/consents", json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["version"], made["state"], made["status"], made["amends"]) == (1, "current", "given", None)
    assert made["chain_id"] == made["id"]
    assert [g["purpose"] for g in made["grants"]] == ["un_fact_finding", "criminal_investigation"]
    assert made["grants"][1]["jurisdictions"] == ["DE", "FR"]
    assert all(uuid.UUID(g["id"]) and g["withdrawn"] is False for g in made["grants"])
    assert made["restrictions"] == {"recipient_ids": [kept], "jurisdictions": ["RU"]}
    assert made["refusals"][0]["recipient_class"] == "journalists"
    # The shorter of the category's own period and the storage retention of participation consent (P10Y).
    assert (made["retention"], made["effective_retention"]) == ({"audio_recording": "P2Y"}, {"audio_recording": "P2Y"})
    # The reference code is told once, in the answer that records: never read back.
    assert made["reference_code"] is not None
    read_back = {**made, "reference_code": None}
    assert doc.get(f"/api/v1/consents/{made['id']}").json() == read_back
    listed = doc.get(f"/api/v1/people/{person}/consents").json()
    assert (listed["items"], listed["next_cursor"]) == ([read_back], None)
    with unit_of_work(app.state.sessionmaker) as s:
        sealed = s.scalars(select(UseConsent.details)).one()
    # The jurisdiction as the sealed JSON would hold it: two bytes alone turn up in random ciphertext by chance.
    for plain in (b"Canary", b"un_fact_finding", b'"RU"', kept.encode()):
        assert plain not in sealed


def test_a_longer_category_period_gives_way_to_the_storage_retention(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    made = record_use_consent(doc, person, app, retention={"health": "P20Y"})
    assert made["effective_retention"] == {"health": "P10Y"}


def _refusals(app: FastAPI) -> list[tuple[dict[str, Any], str]]:
    return [
        ({"grants": [grant(purpose="gossip")]}, "grants.0.purpose"),
        ({"grants": [grant(recipient_class="neighbours")]}, "grants.0.recipient_class"),
        ({"grants": [grant(categories=["narrative_general", "ethnicity"])]}, "grants.0.categories.1"),
        ({"grants": [grant(categories=["identity"], disclosure_level="pseudonymous")]}, "grants.0.disclosure_level"),
        ({"grants": [grant(categories=["contact"], disclosure_level="deidentified")]}, "grants.0.disclosure_level"),
        ({"grants": [grant(recipient_class="national_authorities")]}, "grants.0.jurisdictions"),
        (
            {"grants": [grant(recipient_class="national_authorities", jurisdictions=["international"])]},
            "grants.0.jurisdictions",
        ),
        ({"grants": [grant(expires_at="2001-01-01T00:00:00+00:00")]}, "grants.0.expires_at"),
        ({"grants": [grant(id=str(uuid.uuid4()))]}, "grants.0.id"),
        ({"restrictions": ["RU", "the police in my town"]}, "restrictions.1"),
        ({"restrictions": [str(uuid.uuid4())]}, "restrictions.0"),
        (
            {"refusals": [{"purpose": "media", "recipient_id": str(uuid.uuid4()), "categories": ["health"]}]},
            "refusals.0.recipient_id",
        ),
        (
            {"refusals": [{"purpose": "media", "categories": ["health"]}]},
            "refusals.0.recipient_class",
        ),
        ({"retention": {"health": "forever"}}, "retention.health"),
        ({"method": "verbal_witnessed", "witness": None}, "witness"),
        ({"text_sha256": "0" * 64}, "text_sha256"),
    ]


def test_a_bad_record_is_refused_naming_the_field_and_nothing_is_stored(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    for overrides, field in _refusals(app):
        r = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app, **overrides))
        assert r.status_code == 422, (field, r.text)
        assert field in r.json()["fields"], (field, r.json())
        for sent in ("gossip", "neighbours", "the police in my town", "forever"):
            assert sent not in r.text
    assert _stored(app) == 0
    assert doc.get(f"/api/v1/people/{person}/consents").json()["items"] == []


def test_only_the_case_team_records_and_reads(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    made = record_use_consent(doc, person, app)
    outsider = actor(app, "outsider", [Role.DOCUMENTER])
    legal = actor(app, "legal", [Role.LEGAL])
    custodian = actor(app, "keeper", [Role.CUSTODIAN])
    _refused(outsider.post(f"/api/v1/people/{person}/consents", json=use_consent(app)), 404, None, None)
    _refused(outsider.get(f"/api/v1/consents/{made['id']}"), 404, None, None)
    _refused(outsider.get(f"/api/v1/people/{person}/consents"), 404, None, None)
    _refused(outsider.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app)), 404, None, None)
    for other in (legal, custodian):
        _refused(other.get(f"/api/v1/consents/{made['id']}"), 403, None, None)
        _refused(other.post(f"/api/v1/people/{person}/consents", json=use_consent(app)), 403, None, None)
    assert _stored(app) == 1


def test_an_amendment_supersedes_and_keeps_the_history(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    first = record_use_consent(
        doc, person, app, grants=[grant(), grant(purpose="research", recipient_class="researchers")]
    )
    kept, changed = first["grants"]
    r = doc.post(
        f"/api/v1/consents/{first['id']}/amend",
        json=use_consent(
            app,
            grants=[
                {**grant(), "id": kept["id"]},
                {
                    **grant(purpose="research", recipient_class="researchers", disclosure_level="deidentified"),
                    "id": changed["id"],
                },
                grant(purpose="follow_up", recipient_class="case_team"),
            ],
        ),
    )
    assert r.status_code == 201, r.text
    second = r.json()
    assert (second["version"], second["amends"], second["chain_id"], second["state"]) == (
        2,
        first["id"],
        first["id"],
        "current",
    )
    ids = [g["id"] for g in second["grants"]]
    assert ids[0] == kept["id"]  # unchanged: the same grant
    assert changed["id"] not in ids  # changed: a new grant
    old = doc.get(f"/api/v1/consents/{first['id']}").json()
    assert (old["state"], old["superseded_by"]) == ("superseded", second["id"])
    assert old["grants"] == first["grants"]
    listed = doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    assert [v["version"] for v in listed] == [1, 2]
    # The superseded version is history: only the latest is amended.
    _refused(
        doc.post(f"/api/v1/consents/{first['id']}/amend", json=use_consent(app)), 409, "superseded", ["consent_id"]
    )
    # An amendment may name only grants of the version it amends.
    stray = use_consent(app, grants=[{**grant(), "id": str(uuid.uuid4())}])
    _refused(doc.post(f"/api/v1/consents/{second['id']}/amend", json=stray), 422, None, ["grants.0.id"])
    assert _stored(app) == 2


def test_a_custodian_invalidates_with_a_reason_and_an_invalid_record_is_not_amended(
    app: FastAPI, team: tuple[Actor, str]
) -> None:
    doc, person = team
    made = record_use_consent(doc, person, app)
    custodian = actor(app, "keeper", [Role.CUSTODIAN])
    path = f"/api/v1/consents/{made['id']}/invalidate"
    _refused(doc.post(path, json={"reason": "Given under pressure from a relative."}), 403, None, None)
    _refused(custodian.post(path, json={}), 422, None, ["reason"])
    _refused(custodian.post(path, json={"reason": "   "}), 422, None, ["reason"])
    # Taking away every use the person allowed needs a fresh second factor in a browser session.
    token = custodian.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"}).json()["token"]
    by_token = Actor(custodian.user_id, custodian.username, None, custodian.client, bearer=token)
    _refused(by_token.post(path, json={"reason": "Scripted."}), 403, "step_up_required", None)
    shift_clock(app, timedelta(minutes=6))
    _refused(custodian.post(path, json={"reason": "Stale."}), 403, "step_up_required", None)
    assert _invalidations(app) == 0
    stepped = custodian.post("/api/v1/auth/step-up", json={"totp": code(custodian.totp_secret or "", app)})
    assert stepped.status_code == 200, stepped.text
    custodian.csrf = stepped.json()["csrf_token"]
    r = custodian.post(path, json={"reason": "Given under pressure from a relative."})
    assert r.status_code == 200, r.text
    assert r.json()["consent_id"] == made["id"]
    assert "grants" not in r.json()  # the custodian is not shown what the record says
    _refused(custodian.post(path, json={"reason": "Again."}), 409, "invalidated", ["consent_id"])
    read = doc.get(f"/api/v1/consents/{made['id']}").json()
    assert read["state"] == "invalid"
    assert read["invalidation"]["reason"] == "Given under pressure from a relative."
    _refused(
        doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app)), 409, "invalidated", ["consent_id"]
    )
    with unit_of_work(app.state.sessionmaker) as s:
        sealed = s.scalars(select(ConsentInvalidation.details)).one()
    assert b"pressure" not in sealed


def _invalidations(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return s.scalar(select(func.count()).select_from(ConsentInvalidation)) or 0
