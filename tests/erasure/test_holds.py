"""Legal holds through the real app, on SQLite and PostgreSQL: set by two custodians with a fresh second factor
(never the same one twice, never a bearer token); while one holds, erasure is refused with 409 ``legal_hold``
and a survivor's withdrawal still stops every new use; its reason and proceedings reference are never logged
or read back; lifted by one custodian with a reason."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from app.exports.models import DisclosureEntry
from app.people.holds import is_held
from tests.erasure.support import ask, decide, erase, remains
from tests.support.actors import Actor
from tests.support.consent import grant
from tests.support.exports import Desk, desk

REASON = "Kept for the trial of Commander Q7Wc-Հ"
REFERENCE = "ICC-01/26-Q7Wc"


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _held(app: FastAPI, person: str) -> bool:
    with unit_of_work(app.state.sessionmaker) as s:
        return is_held(s, uuid.UUID(person))


def test_a_legal_hold_blocks_erasure_but_not_withdrawal(
    app: FastAPI, d: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first, second = d.custodians
    person = d.person(grant())
    body = {"reason": REASON, "proceedings_reference": REFERENCE}
    assert d.doc.post(f"/api/v1/people/{person}/legal-hold", json=body).status_code == 403
    asked = first.post(f"/api/v1/people/{person}/legal-hold", json=body)
    assert asked.status_code == 202, asked.text
    hold = asked.json()
    assert (hold["state"], hold["requested_by"]) == ("requested", str(first.user_id))
    assert not _held(app, person)  # one custodian is not enough
    again = second.post(f"/api/v1/people/{person}/legal-hold", json=body)
    assert (again.status_code, again.json()["code"]) == (409, "legal_hold_exists")
    path = f"/api/v1/legal-holds/{hold['id']}/decision"
    same = first.post(path, json={"confirm": True})
    assert (same.status_code, same.json()["code"]) == (403, "same_person")
    token = second.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"}).json()["token"]
    by_token = Actor(second.user_id, second.username, None, second.client, bearer=token)
    assert by_token.post(path, json={"confirm": True}).json()["code"] == "step_up_required"
    confirmed = second.post(path, json={"confirm": True})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["state"], confirmed.json()["confirmed_by"]) == ("active", str(second.user_id))
    assert _held(app, person)

    refused = ask(first, person)
    assert (refused.status_code, refused.json()["code"]) == (409, "legal_hold")
    assert refused.json()["held"] == [person]
    # The survivor withdraws and asks for erasure: every new use stops at once, the erasure waits.
    [record] = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    withdraw = {"scope": "all", "mode": "withdraw_and_erase", "received_via": "phone"}
    assert d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=withdraw).status_code == 201
    built, _ = d.ready(filters={"people": [person, d.person(grant())]})
    with unit_of_work(app.state.sessionmaker) as s:
        ledger = set(s.scalars(select(DisclosureEntry.person_id).where(DisclosureEntry.export_id == uuid.UUID(built))))
    assert len(ledger) == 1
    assert uuid.UUID(person) not in ledger  # withdrawn: left out, though held
    [queued] = first.get("/api/v1/erasures").json()["items"]
    assert (queued["person_id"], queued["legal_hold"]) == (person, True)
    assert ask(first, person).json()["code"] == "legal_hold"
    assert remains(app, person).has_key

    lifted = first.request("DELETE", f"/api/v1/people/{person}/legal-hold", json={"reason": "Trial closed."})
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["state"], lifted.json()["lifted_by"]) == ("lifted", str(first.user_id))
    assert not _held(app, person)
    done = erase(first, second, person)
    assert done["id"] == queued["id"]  # the survivor's own request, carried out
    assert remains(app, person).tombstone is not None

    shown = " ".join(r.getMessage() for r in caplog.records)
    with unit_of_work(app.state.sessionmaker) as s:
        events = " ".join(e.entry.decode() for e in s.scalars(select(AuditEvent)))
    for secret in (REASON, REFERENCE, "Q7Wc"):
        assert secret not in shown
        assert secret not in events
        assert secret not in confirmed.text + lifted.text


def test_a_rejected_or_expired_hold_does_not_hold(app: FastAPI, d: Desk) -> None:
    first, second = d.custodians
    person = d.person(grant())
    body = {"reason": REASON, "proceedings_reference": REFERENCE}
    asked = first.post(f"/api/v1/people/{person}/legal-hold", json=body).json()
    rejected = second.post(f"/api/v1/legal-holds/{asked['id']}/decision", json={"confirm": False})
    assert rejected.json()["state"] == "rejected"
    assert not _held(app, person)
    lift = first.request("DELETE", f"/api/v1/people/{person}/legal-hold", json={"reason": "Nothing to lift."})
    assert (lift.status_code, lift.json()["code"]) == (409, "no_legal_hold")
    assert decide(second, ask(first, person).json()["id"]).json()["state"] == "erased"
