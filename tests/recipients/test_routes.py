"""The recipient registry and the deny-list through the real API: two admins for what decides who
may receive, refusals that name the field and store nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.roles import Role
from app.confirmations.models import Confirmation
from app.core.db import unit_of_work
from app.recipients.models import DenyListVersion, Recipient
from tests.support.actors import Actor, actor

AGE_KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"  # the example of age's README
OTHER_KEY = "age1qntepak6qykc5jh9crdvq4y2f7cmn3m6azj7708l7jejqjy66v0q4zksmv"
CANARY = "Canary-Ցուցակ-zq7"

ICC = {
    "recipient_class": "intl_criminal_investigators",
    "jurisdiction": "international",
    "names": ["  International Criminal Court, Office of the Prosecutor ", "ICC OTP"],
    "age_recipient": AGE_KEY,
    "recall_contact": "Evidence unit, by the secure channel agreed at first contact.",
}


def _admins(app: FastAPI) -> tuple[Actor, Actor]:
    return actor(app, "admin-one", [Role.ADMIN]), actor(app, "admin-two", [Role.ADMIN])


def _decide(admin: Actor, confirmation_id: str, decision: str = "confirm") -> Any:
    return admin.post(f"/api/v1/confirmations/{confirmation_id}", json={"decision": decision})


def _register(first: Actor, second: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """A recipient asked for by one admin and confirmed by another, as it reads now."""
    asked = first.post("/api/v1/recipients", json=body)
    assert asked.status_code == 202, asked.text
    decided = _decide(second, asked.json()["pending_confirmation"]["id"])
    assert decided.json()["status"] == "confirmed", decided.text
    found = first.get(f"/api/v1/recipients/{asked.json()['pending_confirmation']['target_id']}")
    assert found.status_code == 200, found.text
    recipient: dict[str, Any] = found.json()
    return recipient


def _counts(app: FastAPI) -> tuple[int, int, int]:
    with unit_of_work(app.state.sessionmaker) as s:
        return (
            int(s.scalar(select(func.count()).select_from(Recipient)) or 0),
            int(s.scalar(select(func.count()).select_from(Confirmation)) or 0),
            int(s.scalar(select(func.count()).select_from(DenyListVersion)) or 0),
        )


def test_a_recipient_is_registered_only_when_a_second_admin_confirms(app: FastAPI) -> None:
    first, second = _admins(app)
    asked = first.post("/api/v1/recipients", json=ICC)
    assert asked.status_code == 202, asked.text
    assert asked.json()["recipient"] is None
    pending = asked.json()["pending_confirmation"]
    assert (pending["action"], pending["status"]) == ("recipient.create", "pending")
    assert first.get("/api/v1/recipients").json()["items"] == []
    own = _decide(first, pending["id"])
    assert (own.status_code, own.json()["code"]) == (403, "same_person")
    assert first.get("/api/v1/recipients").json()["items"] == []
    assert _decide(second, pending["id"]).json()["status"] == "confirmed"
    [listed] = first.get("/api/v1/recipients").json()["items"]
    assert listed["id"] == pending["target_id"]
    assert listed["names"] == ["International Criminal Court, Office of the Prosecutor", "ICC OTP"]
    assert (listed["recipient_class"], listed["jurisdiction"], listed["age_recipient"], listed["active"]) == (
        "intl_criminal_investigators",
        "international",
        AGE_KEY,
        True,
    )
    assert _decide(second, pending["id"]).status_code == 409  # decided once


def test_names_contact_and_active_change_at_once(app: FastAPI) -> None:
    first, second = _admins(app)
    recipient = _register(first, second, ICC)
    path = f"/api/v1/recipients/{recipient['id']}"
    changed = first.request(
        "PATCH", path, json={"names": ["ICC OTP"], "recall_contact": "Registry desk.", "active": False}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["pending_confirmation"] is None
    now = first.get(path).json()
    assert (now["names"], now["recall_contact"], now["active"]) == (["ICC OTP"], "Registry desk.", False)
    assert [r["id"] for r in first.get("/api/v1/recipients", params={"active": "false"}).json()["items"]] == [
        recipient["id"]
    ]
    assert first.get("/api/v1/recipients", params={"active": "true"}).json()["items"] == []


@pytest.mark.parametrize(
    ("change", "after"),
    [
        ({"recipient_class": "journalists"}, {"recipient_class": "journalists"}),
        ({"jurisdiction": "nl"}, {"jurisdiction": "NL"}),
        ({"age_recipient": OTHER_KEY}, {"age_recipient": OTHER_KEY}),
        ({"age_recipient": None}, {"age_recipient": None}),
    ],
)
def test_class_jurisdiction_and_key_wait_for_a_second_admin(
    app: FastAPI, change: dict[str, Any], after: dict[str, Any]
) -> None:
    first, second = _admins(app)
    recipient = _register(first, second, ICC)
    path = f"/api/v1/recipients/{recipient['id']}"
    asked = first.request("PATCH", path, json={**change, "names": ["ICC"]})
    assert asked.status_code == 202, asked.text
    pending = asked.json()["pending_confirmation"]
    assert (pending["action"], pending["target_id"]) == ("recipient.change", recipient["id"])
    waiting = first.get(path).json()
    assert waiting["names"] == ["ICC"]  # the rest of the same request applied at once
    assert {k: waiting[k] for k in after} == {k: recipient[k] for k in after}
    again = first.request("PATCH", path, json={"recipient_class": "public"})
    assert again.status_code == 409  # one such request at a time
    assert _decide(first, pending["id"]).status_code == 403
    assert _decide(second, pending["id"]).json()["status"] == "confirmed"
    assert {k: first.get(path).json()[k] for k in after} == after


def test_an_unchanged_class_or_key_needs_no_second_admin(app: FastAPI) -> None:
    first, second = _admins(app)
    recipient = _register(first, second, ICC)
    same = {k: ICC[k] for k in ("recipient_class", "jurisdiction", "age_recipient")}
    r = first.request("PATCH", f"/api/v1/recipients/{recipient['id']}", json=same)
    assert r.status_code == 200, r.text
    assert r.json()["pending_confirmation"] is None


def test_a_change_rejected_by_the_second_admin_changes_nothing(app: FastAPI) -> None:
    first, second = _admins(app)
    recipient = _register(first, second, ICC)
    path = f"/api/v1/recipients/{recipient['id']}"
    asked = first.request("PATCH", path, json={"recipient_class": "public"})
    assert _decide(second, asked.json()["pending_confirmation"]["id"], "reject").json()["status"] == "rejected"
    assert first.get(path).json()["recipient_class"] == "intl_criminal_investigators"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recipient_class": "warlords"}, "recipient_class"),
        ({"jurisdiction": "XX"}, "jurisdiction"),
        ({"jurisdiction": "Armenia"}, "jurisdiction"),
        ({"jurisdiction": ""}, "jurisdiction"),
        ({"recipient_class": "national_authorities"}, "jurisdiction"),  # national authorities need a country
        ({"age_recipient": "age1notakey"}, "age_recipient"),
        ({"age_recipient": AGE_KEY[:-1] + "q"}, "age_recipient"),  # a wrong checksum
        (
            {"age_recipient": "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"},
            "age_recipient",
        ),
        ({"age_recipient": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"}, "age_recipient"),
        ({"names": []}, "names"),
        ({"names": ["   "]}, "names.0"),
        ({"names": ["ICC", "icc"]}, "names"),
        ({"names": ["ICC", "x" * 201]}, "names.1"),
        ({"names": ["IC\u0000C"]}, "names"),
        ({"recall_contact": "by\u0000phone"}, "recall_contact"),
        ({"recall_contact": "y" * 1001}, "recall_contact"),
        ({"recall_contact": " "}, "recall_contact"),
        ({"active": "yes"}, "active"),
        ({"active": 1}, "active"),
    ],
)
def test_a_bad_recipient_is_refused_naming_the_field_and_nothing_is_stored(
    app: FastAPI, change: dict[str, Any], field: str
) -> None:
    first, second = _admins(app)
    before = _counts(app)
    r = first.post("/api/v1/recipients", json={**ICC, **change})
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == [field]
    assert _counts(app) == before
    recipient = _register(first, second, ICC)
    before = _counts(app)
    patched = first.request("PATCH", f"/api/v1/recipients/{recipient['id']}", json=change)
    assert patched.status_code == 422, patched.text
    assert patched.json()["fields"] == [field]
    assert _counts(app) == before
    assert first.get(f"/api/v1/recipients/{recipient['id']}").json() == recipient


def test_national_authorities_name_their_country(app: FastAPI) -> None:
    first, second = _admins(app)
    body = {**ICC, "recipient_class": "national_authorities", "jurisdiction": "de", "names": ["GBA"]}
    recipient = _register(first, second, body)
    assert (recipient["recipient_class"], recipient["jurisdiction"]) == ("national_authorities", "DE")
    moved = first.request("PATCH", f"/api/v1/recipients/{recipient['id']}", json={"jurisdiction": "international"})
    assert (moved.status_code, moved.json()["fields"]) == (422, ["jurisdiction"])
    listed = first.get("/api/v1/recipients", params={"recipient_class": "national_authorities"}).json()["items"]
    assert [r["id"] for r in listed] == [recipient["id"]]
    assert first.get("/api/v1/recipients", params={"recipient_class": "journalists"}).json()["items"] == []


def test_only_admins_manage_and_every_staff_role_but_auditors_reads(app: FastAPI) -> None:
    first, second = _admins(app)
    recipient = _register(first, second, ICC)
    path = f"/api/v1/recipients/{recipient['id']}"
    for name, role in (("doc", Role.DOCUMENTER), ("lee", Role.LEGAL), ("cus", Role.CUSTODIAN), ("aud", Role.AUDITOR)):
        someone = actor(app, name, [role])
        assert someone.post("/api/v1/recipients", json=ICC).status_code == 403
        assert someone.request("PATCH", path, json={"names": ["Mine"]}).status_code == 403
        assert someone.request("PUT", "/api/v1/deny-list", json={"jurisdictions": ["RU"]}).status_code == 403
        reads = 403 if role is Role.AUDITOR else 200
        assert someone.get(path).status_code == reads
        assert someone.get("/api/v1/deny-list").status_code == reads
    assert first.get(path).json() == recipient
    assert first.get("/api/v1/deny-list").json()["version"] == 0


def test_the_deny_list_changes_only_when_a_second_admin_confirms_and_keeps_its_history(app: FastAPI) -> None:
    first, second = _admins(app)
    recipient = _register(first, second, ICC)
    empty = first.get("/api/v1/deny-list").json()
    assert (empty["version"], empty["recipient_ids"], empty["jurisdictions"]) == (0, [], [])
    asked = first.request(
        "PUT", "/api/v1/deny-list", json={"recipient_ids": [recipient["id"]], "jurisdictions": ["ru", "BY"]}
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["deny_list"]["version"] == 0
    pending = asked.json()["pending_confirmation"]
    assert pending["action"] == "deny_list.change"
    assert first.get("/api/v1/deny-list").json()["version"] == 0
    assert _decide(first, pending["id"]).status_code == 403
    assert _decide(second, pending["id"]).json()["status"] == "confirmed"
    now = first.get("/api/v1/deny-list").json()
    assert (now["version"], now["recipient_ids"], now["jurisdictions"]) == (1, [recipient["id"]], ["BY", "RU"])
    assert (now["requested_by"], now["confirmation_id"]) == (str(first.user_id), pending["id"])
    unchanged = first.request(
        "PUT", "/api/v1/deny-list", json={"recipient_ids": [recipient["id"]], "jurisdictions": ["BY", "RU"]}
    )
    assert (unchanged.status_code, unchanged.json()["pending_confirmation"]) == (200, None)
    narrowed = second.request("PUT", "/api/v1/deny-list", json={"jurisdictions": ["RU"]})
    assert _decide(first, narrowed.json()["pending_confirmation"]["id"]).json()["status"] == "confirmed"
    assert first.get("/api/v1/deny-list").json()["jurisdictions"] == ["RU"]
    with unit_of_work(app.state.sessionmaker) as s:
        history = [
            (v.version, v.jurisdictions) for v in s.scalars(select(DenyListVersion).order_by(DenyListVersion.version))
        ]
    assert history == [(1, ["BY", "RU"]), (2, ["RU"])]


def test_a_deny_list_change_asked_from_an_older_list_goes_void(app: FastAPI) -> None:
    first, second = _admins(app)
    one = first.request("PUT", "/api/v1/deny-list", json={"jurisdictions": ["RU"]}).json()["pending_confirmation"]
    two = second.request("PUT", "/api/v1/deny-list", json={"jurisdictions": ["BY"]}).json()["pending_confirmation"]
    assert _decide(second, one["id"]).json()["status"] == "confirmed"
    void = _decide(first, two["id"]).json()
    assert void["status"] == "void"
    assert void["payload"]["void_reason"] == "the deny-list changed while the request waited"
    now = first.get("/api/v1/deny-list").json()
    assert (now["version"], now["jurisdictions"]) == (1, ["RU"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipient_ids": ["Ministry of Interior"]}, "recipient_ids.0"),  # free text where an id is required
        ({"recipient_ids": ["00000000-0000-7000-8000-000000000001"]}, "recipient_ids"),  # not registered
        ({"jurisdictions": ["Russia"]}, "jurisdictions.0"),
        ({"jurisdictions": ["RU", "XX"]}, "jurisdictions.1"),
        ({"jurisdictions": ["international"]}, "jurisdictions.0"),
        ({"jurisdictions": ["R\u0000U"]}, "jurisdictions"),
        ({"jurisdictions": ["RU"], "note": "why"}, "body"),  # an unknown field is never named back
    ],
)
def test_a_bad_deny_list_is_refused_naming_the_field_and_nothing_is_stored(
    app: FastAPI, body: dict[str, Any], field: str
) -> None:
    first, _ = _admins(app)
    before = _counts(app)
    r = first.request("PUT", "/api/v1/deny-list", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == [field]
    assert _counts(app) == before


def test_recipient_details_are_never_logged(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    first, second = _admins(app)
    with caplog.at_level(logging.DEBUG):
        recipient = _register(first, second, {**ICC, "names": [CANARY], "recall_contact": CANARY})
        first.request("PATCH", f"/api/v1/recipients/{recipient['id']}", json={"names": [CANARY, "x" + CANARY]})
        first.post("/api/v1/recipients", json={**ICC, "names": [CANARY], "jurisdiction": CANARY})
        first.get("/api/v1/recipients")
    assert caplog.records  # the requests were logged, without what they carried
    assert CANARY not in caplog.text
    assert "zq7" not in caplog.text
