"""Withdrawal through the HTTP API: at once, of a whole record or of named grants; a pending erasure request
for withdraw_and_erase; custodians only with a fresh second factor, shown the records linked as the same
person; and the limits of withdrawal stated in every answer."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.roles import Role
from app.consent.grant_models import ConsentWithdrawal, ErasureRequest
from app.consent.withdrawal import LIMITS
from app.core.db import unit_of_work
from tests.support.actors import Actor, actor, code, shift_clock
from tests.support.consent import documenter_team, grant, record_use_consent, use_consent
from tests.support.interviews import consenting_person, same_person


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str, str]:
    doc, case_id = documenter_team(app)
    return doc, case_id, consenting_person(doc, case_id, app)


def _withdraw(who: Actor, consent_id: str, **body: Any) -> Any:
    return who.post(
        f"/api/v1/consents/{consent_id}/withdraw",
        json={"scope": "all", "mode": "stop_future_use", "received_via": "phone", **body},
    )


def test_a_whole_record_is_withdrawn_at_once(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(
        doc, person, app, grants=[grant(), grant(purpose="research", recipient_class="researchers")]
    )
    r = _withdraw(doc, made["id"], reason="She called: she no longer wants any use.")
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["scope"], done["mode"], done["erasure_request_id"], done["limits"]) == (
        "all",
        "stop_future_use",
        None,
        LIMITS,
    )
    assert done["linked_records"] == []
    read = doc.get(f"/api/v1/consents/{made['id']}").json()
    assert all(g["withdrawn"] for g in read["grants"])
    assert [w["id"] for w in read["withdrawals"]] == [done["id"]]
    # A record withdrawn whole is not amended: a new consent conversation makes a new record.
    amended = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app))
    assert (amended.status_code, amended.json()["code"]) == (409, "withdrawn")
    with unit_of_work(app.state.sessionmaker) as s:
        sealed = s.scalars(select(ConsentWithdrawal.details)).one()
        assert s.scalars(select(ErasureRequest)).all() == []
    assert b"no longer" not in sealed


def test_named_grants_are_withdrawn_and_the_others_stand(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(
        doc, person, app, grants=[grant(), grant(purpose="research", recipient_class="researchers")]
    )
    un, research = made["grants"]
    bad = _withdraw(doc, made["id"], scope=[research["id"], str(uuid.uuid4())])
    assert (bad.status_code, bad.json()["fields"]) == (422, ["scope.1"])
    r = _withdraw(doc, made["id"], scope=[research["id"]], received_via="in_person")
    assert r.status_code == 201, r.text
    assert r.json()["scope"] == [research["id"]]
    read = doc.get(f"/api/v1/consents/{made['id']}").json()
    assert [(g["id"], g["withdrawn"]) for g in read["grants"]] == [(un["id"], False), (research["id"], True)]


def test_withdraw_and_erase_files_a_pending_erasure_request(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    r = _withdraw(doc, made["id"], mode="withdraw_and_erase", received_via="safe_channel_message")
    assert r.status_code == 201, r.text
    with unit_of_work(app.state.sessionmaker) as s:
        [request] = s.scalars(select(ErasureRequest)).all()
        assert (str(request.id), str(request.person_id), request.state) == (
            r.json()["erasure_request_id"],
            person,
            "pending",
        )
    assert all(g["withdrawn"] for g in doc.get(f"/api/v1/consents/{made['id']}").json()["grants"])


def test_a_withdrawal_that_changes_nothing_is_refused_and_one_erasure_is_pending(
    app: FastAPI, team: tuple[Actor, str, str]
) -> None:
    doc, _case, person = team
    made = record_use_consent(
        doc, person, app, grants=[grant(), grant(purpose="research", recipient_class="researchers")]
    )
    other = record_use_consent(doc, person, app)
    un, research = (g["id"] for g in made["grants"])
    assert _withdraw(doc, made["id"], scope=[research]).status_code == 201
    for body in ({"scope": [research]}, {"scope": [research, research]}):
        again = _withdraw(doc, made["id"], **body)
        assert (again.status_code, again.json()["code"]) == (409, "already_withdrawn"), again.text
    assert _withdraw(doc, made["id"], scope=[un, research]).status_code == 201  # adds the UN grant
    # Every grant is withdrawn by name, but the whole record also closes it to amendment.
    assert _withdraw(doc, made["id"]).status_code == 201
    assert _withdraw(doc, made["id"]).status_code == 409
    erase = _withdraw(doc, made["id"], mode="withdraw_and_erase")  # erasure is asked for now
    assert erase.status_code == 201, erase.text
    request_id = erase.json()["erasure_request_id"]
    assert request_id is not None
    assert _withdraw(doc, made["id"], mode="withdraw_and_erase").status_code == 409
    # Erasing through another record joins the pending request: a person is erased once.
    joined = _withdraw(doc, other["id"], mode="withdraw_and_erase")
    assert (joined.status_code, joined.json()["erasure_request_id"]) == (201, request_id), joined.text
    with unit_of_work(app.state.sessionmaker) as s:
        assert len(s.scalars(select(ConsentWithdrawal)).all()) == 5
        assert [str(r.id) for r in s.scalars(select(ErasureRequest))] == [request_id]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "some"}, "scope"),
        ({"scope": []}, "scope"),
        ({"mode": "forget"}, "mode"),
        ({"received_via": "pigeon"}, "received_via"),
        ({"reason": ""}, "reason"),
    ],
)
def test_a_bad_withdrawal_is_refused_and_records_nothing(
    app: FastAPI, team: tuple[Actor, str, str], body: dict[str, Any], field: str
) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    r = _withdraw(doc, made["id"], **body)
    assert r.status_code == 422, r.text
    assert field in r.json()["fields"][0]
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalars(select(ConsentWithdrawal)).all() == []


def test_who_may_withdraw(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, case, person = team
    made = record_use_consent(doc, person, app)
    outsider = actor(app, "outsider", [Role.DOCUMENTER])
    legal = actor(app, "legal", [Role.LEGAL], cases=(uuid.UUID(case),))
    admin = actor(app, "admin2", [Role.ADMIN])
    assert _withdraw(outsider, made["id"]).status_code == 404
    assert _withdraw(legal, made["id"]).status_code == 403
    assert _withdraw(admin, made["id"]).status_code == 403
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalars(select(ConsentWithdrawal)).all() == []


def test_a_custodian_withdraws_with_a_fresh_second_factor_and_sees_linked_records(
    app: FastAPI, team: tuple[Actor, str, str]
) -> None:
    doc, case, _ = team
    # The same person, recorded twice; a custodian decides they are one.
    custodian, secret, person, twin = same_person(doc, case, app)
    made = record_use_consent(doc, person, app)
    twins = record_use_consent(doc, twin, app)
    shift_clock(app, timedelta(minutes=6))
    stale = _withdraw(custodian, made["id"], received_via="letter")
    assert (stale.status_code, stale.json()["code"]) == (403, "step_up_required")
    stepped = custodian.post("/api/v1/auth/step-up", json={"totp": code(secret, app)})
    assert stepped.status_code == 200, stepped.text
    custodian.csrf = stepped.json()["csrf_token"]
    r = _withdraw(custodian, made["id"], received_via="letter")
    assert r.status_code == 201, r.text
    assert r.json()["linked_records"] == [twin]
    # ...and where to withdraw there too, if the custodian decides it applies (ids only).
    assert r.json()["linked_consents"] == [{"person_id": twin, "consent_id": twins["id"]}]
    assert "grants" not in r.json()  # the custodian is not shown what the record says
    there = _withdraw(custodian, twins["id"], received_via="letter")
    assert there.status_code == 201, there.text
    assert all(g["withdrawn"] for g in doc.get(f"/api/v1/consents/{twins['id']}").json()["grants"])
    # The same withdrawal again changes nothing and is not recorded twice.
    twice = _withdraw(custodian, made["id"], received_via="letter")
    assert (twice.status_code, twice.json()["code"], twice.json()["fields"]) == (409, "already_withdrawn", ["scope"])
    # The documenter on the team is never asked for a second factor, and never shown the links.
    again = _withdraw(doc, made["id"], mode="withdraw_and_erase")
    assert again.status_code == 201, again.text
    assert (again.json()["linked_records"], again.json()["linked_consents"]) == ([], [])
    assert all(g["withdrawn"] for g in doc.get(f"/api/v1/consents/{made['id']}").json()["grants"])
