"""The custodian's pages, as a browser without JavaScript posts them, checked through the API and the database
afterwards: a withdrawal found by reference code and code word (throttled, never echoed), the recall notices it
raised, erasure and legal holds that take two different custodians, the queues, and the printable data report.
A form without its token, or with bad input, is refused and writes nothing."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select

from app.access.roles import Role
from app.audit.models import AuditEvent
from app.consent import lookup, withdrawal
from app.consent.grant_models import ConsentWithdrawal, ErasureRequest
from app.core.db import unit_of_work
from app.exports.models import RecallNotice
from app.people.models import LegalHold
from app.web import custodian
from tests.support.actors import make_user, shift_clock
from tests.support.consent import CODE_WORD, grant, record_use_consent
from tests.support.exports import Desk, desk
from tests.support.interviews import consenting_person
from tests.support.pages import page_login, submit, token_in
from tests.web.test_pages import assert_page_headers

WITHDRAW_ALL = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _keeper(d: Desk, i: int) -> TestClient:
    """The desk's custodian ``i``, logged in through the login page (a fresh second factor)."""
    who = d.custodians[i]
    client, answer = page_login(d.app, who.username, who.totp_secret, steps=1)
    assert answer.headers["location"] == "/", answer.text
    return client


def _post(client: TestClient, page: str, action: str, fields: dict[str, str]) -> Any:
    answer = submit(client, page, action, fields)
    assert_page_headers(answer)
    return answer


def _count(app: FastAPI, model: type[Any]) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _recorded(d: Desk) -> tuple[str, dict[str, Any]]:
    """A consenting person of the desk with one use grant: the person and the record (with its reference code)."""
    person = consenting_person(d.doc, d.case_id, d.app)
    return person, record_use_consent(d.doc, person, d.app, grants=[grant()])


def _lookup(client: TestClient, reference: str, word: str = CODE_WORD) -> Any:
    return _post(client, "/withdrawals", "/withdrawals/lookup", {"reference": reference, "code_word": word})


def test_the_pages_speak_the_services_words() -> None:
    assert lookup.REMINDER in custodian.SERVICE_TEXTS
    assert lookup.REFERENCE_LOCKED in custodian.REFUSALS
    assert withdrawal.LIMITS in custodian.SERVICE_TEXTS


def test_a_withdrawal_found_by_reference_and_code_word_shows_the_recalls_it_raised(app: FastAPI, d: Desk) -> None:
    _, record = _recorded(d)
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    keeper = _keeper(d, 0)

    # Read back over the phone: lower case, spaces for dashes.
    spoken = record["reference_code"].lower().replace("-", " ")
    found = _lookup(keeper, spoken)
    assert found.status_code == 200, found.text
    assert "call the person back on the safe channel" in found.text
    assert record["id"] in found.text
    assert record["reference_code"] not in found.text  # neither code is echoed
    assert CODE_WORD not in found.text
    assert f'action="/withdrawals/{record["id"]}"' in found.text

    done = keeper.post(f"/withdrawals/{record['id']}", data={"csrf_token": token_in(found.text), **WITHDRAW_ALL})
    assert_page_headers(done)
    assert done.status_code == 200, done.text
    assert 'id="withdrawn"' in done.text
    assert "cannot call back what was shared before it" in done.text
    notices = d.custodians[1].get("/api/v1/recalls").json()["items"]
    assert len(notices) == 1, notices
    assert "Notices raised: 1. Exports they concern: 1." in done.text
    row = r"<tr><td><code>([0-9a-f-]{36})</code></td><td><code>([0-9a-f-]{36})</code></td></tr>"
    shown = re.findall(row, done.text)
    assert shown == [(notices[0]["id"], export)]
    assert notices[0]["record_id"]  # the bundle's record id, which the recipient finds in the bundle
    assert notices[0]["record_id"] not in done.text  # ids and counts only
    # The record is withdrawn: the same lookup says so, and offers no second withdrawal.
    again = _lookup(keeper, record["reference_code"])
    assert "withdrawn" in again.text
    assert f'action="/withdrawals/{record["id"]}"' not in again.text
    assert _count(app, ConsentWithdrawal) == 1


def test_a_wrong_code_word_is_answered_like_an_unknown_code_and_the_lookup_is_throttled(app: FastAPI, d: Desk) -> None:
    _, record = _recorded(d)
    keeper = _keeper(d, 0)
    limit = app.state.runtime.settings.throttle.lookups_per_target
    for _ in range(limit):
        wrong = _lookup(keeper, record["reference_code"], "apricot")
        assert wrong.status_code == 404, wrong.text
        assert "no consent record matches these values" in wrong.text
        assert 'id="lookup"' in wrong.text  # the form again, empty
        assert record["reference_code"] not in wrong.text
        assert "apricot" not in wrong.text
    # The reference has spent its failures: even the right code word, from the other custodian, waits.
    held = _lookup(_keeper(d, 1), record["reference_code"])
    assert held.status_code == 429, held.text
    assert int(held.headers["retry-after"]) > 0
    assert record["id"] not in held.text
    assert str(escape(lookup.REFERENCE_LOCKED)) in held.text  # locked, and the pseudonym-code way round it


def test_a_form_without_its_token_is_refused_and_writes_nothing(app: FastAPI, d: Desk) -> None:
    person, record = _recorded(d)
    keeper = _keeper(d, 0)
    assert keeper.get("/withdrawals").status_code == 200
    for action, fields in (
        (f"/withdrawals/{record['id']}", WITHDRAW_ALL),
        (f"/people/{person}/erase", {"reason": "The survivor asked us."}),
        (f"/people/{person}/legal-hold", {"reason": "Kept for the court.", "proceedings_reference": "ICC-01"}),
    ):
        for token in ({}, {"csrf_token": "forged"}):
            refused = keeper.post(action, data={**fields, **token})
            assert_page_headers(refused)
            assert refused.status_code == 403, (action, refused.text)
            assert "This form has expired" in refused.text
    assert (_count(app, ConsentWithdrawal), _count(app, ErasureRequest), _count(app, LegalHold)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({**WITHDRAW_ALL, "scope": "named", "grant_ids": "not-an-id"}, 422),
        ({**WITHDRAW_ALL, "scope": "named", "grant_ids": str(uuid.uuid4())}, 422),
        ({**WITHDRAW_ALL, "scope": "some"}, 422),
        ({**WITHDRAW_ALL, "mode": "forget"}, 422),
        ({"scope": "all", "mode": "stop_future_use"}, 422),
        ({**WITHDRAW_ALL, "reason": "x" * 2001}, 422),
    ],
)
def test_a_bad_withdrawal_is_a_4xx_and_writes_nothing(
    app: FastAPI, d: Desk, fields: dict[str, str], status: int
) -> None:
    _, record = _recorded(d)
    keeper = _keeper(d, 0)
    answer = _post(keeper, "/withdrawals", f"/withdrawals/{record['id']}", fields)
    assert answer.status_code == status, answer.text
    assert 'class="error"' in answer.text
    assert f'action="/withdrawals/{record["id"]}"' in answer.text  # the form again, for that record
    assert _count(app, ConsentWithdrawal) == 0
    assert _count(app, RecallNotice) == 0


def test_a_custodian_withdrawal_needs_a_fresh_second_factor(app: FastAPI, d: Desk) -> None:
    _, record = _recorded(d)
    keeper = _keeper(d, 0)
    shift_clock(app, timedelta(minutes=6))
    shown = keeper.get("/withdrawals")
    assert 'id="step-up"' in shown.text
    refused = _post(keeper, "/withdrawals", f"/withdrawals/{record['id']}", WITHDRAW_ALL)
    assert refused.status_code == 403, refused.text
    assert "Confirm your second factor first" in refused.text
    assert _count(app, ConsentWithdrawal) == 0


def _erasure(d: Desk) -> dict[str, Any]:
    [item] = d.custodians[1].get("/api/v1/erasures").json()["items"]
    return dict(item)


def test_an_erasure_takes_two_different_custodians(app: FastAPI, d: Desk) -> None:
    person, _ = _recorded(d)
    first, second = _keeper(d, 0), _keeper(d, 1)
    blank = _post(first, "/erasures", f"/people/{person}/erase", {"reason": "  "})
    assert blank.status_code == 422, blank.text
    assert _count(app, ErasureRequest) == 0

    asked = _post(first, "/erasures", f"/people/{person}/erase", {"reason": "The survivor asked us to."})
    assert (asked.status_code, asked.headers["location"]) == (303, "/erasures?done=erasure_asked")
    erasure = _erasure(d)
    assert erasure["state"] == "awaiting_confirmation"
    mine = first.get("/erasures")
    assert "You asked for this erasure: a second custodian confirms it." in mine.text
    assert f'action="/erasures/{erasure["id"]}/decision"' not in mine.text
    # The page hides the button from the one who asked; the service refuses them all the same.
    refused = first.post(
        f"/erasures/{erasure['id']}/decision", data={"csrf_token": token_in(mine.text), "decision": "confirm"}
    )
    assert refused.status_code == 403, refused.text
    assert "a second person must confirm this request" in refused.text
    assert _erasure(d)["state"] == "awaiting_confirmation"

    theirs = second.get("/erasures")
    consequence = theirs.text.index("This cannot be undone.")
    assert consequence < theirs.text.index("Erase for good")  # the consequence, before the final button
    done = _post(second, "/erasures", f"/erasures/{erasure['id']}/decision", {"decision": "confirm"})
    assert (done.status_code, done.headers["location"]) == (303, "/erasures?done=erasure_confirmed")
    listed = d.custodians[1].get("/api/v1/erasures", params={"state": "erased"}).json()["items"]
    assert [e["id"] for e in listed] == [erasure["id"]]
    assert "No erasure request waits." in second.get("/erasures").text


def test_a_legal_hold_takes_two_custodians_and_stops_an_erasure(app: FastAPI, d: Desk) -> None:
    person, _ = _recorded(d)
    first, second = _keeper(d, 0), _keeper(d, 1)
    hold = {"reason": "The Commission asked that these be kept.", "proceedings_reference": "CoI-2026/3"}
    missing = _post(first, "/erasures", f"/people/{person}/legal-hold", {**hold, "proceedings_reference": ""})
    assert missing.status_code == 422, missing.text
    assert _count(app, LegalHold) == 0
    asked = _post(first, "/erasures", f"/people/{person}/legal-hold", hold)
    assert (asked.status_code, asked.headers["location"]) == (303, "/erasures?done=hold_asked")
    page = first.get("/erasures")
    assert "You asked for this hold: a second custodian confirms it." in page.text
    with unit_of_work(app.state.sessionmaker) as s:
        hold_id = s.scalars(select(LegalHold.id)).one()
    refused = first.post(
        f"/legal-holds/{hold_id}/decision", data={"csrf_token": token_in(page.text), "decision": "confirm"}
    )
    assert refused.status_code == 403, refused.text
    confirmed = _post(second, "/erasures", f"/legal-holds/{hold_id}/decision", {"decision": "confirm"})
    assert confirmed.status_code == 303, confirmed.text
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalars(select(LegalHold.state)).one() == "active"
    # Held: an erasure is refused and nothing is filed.
    stopped = _post(second, "/erasures", f"/people/{person}/erase", {"reason": "The survivor asked us to."})
    assert stopped.status_code == 409, stopped.text
    assert "a legal hold is on this person" in stopped.text
    assert _count(app, ErasureRequest) == 0
    lifted = _post(first, "/erasures", f"/people/{person}/legal-hold/lift", {"reason": "The proceedings ended."})
    assert (lifted.status_code, lifted.headers["location"]) == (303, "/erasures?done=hold_lifted")
    assert "No legal hold stands or waits." in first.get("/erasures").text


def test_the_data_report_is_printable_in_the_survivors_language(app: FastAPI, d: Desk) -> None:
    person, _ = _recorded(d)
    # A custodian reads a survivor's report only for a case they work on.
    _, secret = make_user(app, "keeper3", [Role.CUSTODIAN], cases=(uuid.UUID(d.case_id),))
    on_team, _ = page_login(app, "keeper3", secret)
    shown = on_team.get(f"/people/{person}/disclosure-report?language=hy")
    assert_page_headers(shown)
    assert shown.status_code == 200, shown.text
    assert '<article class="report" lang="hy"' in shown.text
    assert "Ձեր տեղեկությունները" in shown.text
    assert 'href="/static/web/print.css" media="print"' in shown.text
    english = on_team.get(f"/people/{person}/disclosure-report")  # the language the person consented in
    assert '<article class="report" lang="en"' in english.text
    assert on_team.get(f"/people/{person}/disclosure-report?language=fr").status_code == 422
    assert _keeper(d, 0).get(f"/people/{person}/disclosure-report").status_code == 404


def _events(app: FastAPI, action: str) -> list[AuditEvent]:
    with unit_of_work(app.state.sessionmaker) as s:
        found = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))
        s.expunge_all()
        return found


def test_each_page_records_the_event_its_api_twin_records(app: FastAPI, d: Desk) -> None:
    person, record = _recorded(d)
    keeper = _keeper(d, 0)
    assert _lookup(keeper, record["reference_code"], "apricot").status_code == 404
    assert _lookup(keeper, record["reference_code"]).status_code == 200
    missed, found = _events(app, "consent.lookup")
    assert (missed.outcome, missed.status, found.outcome) == ("denied", 404, "allowed")
    assert found.resource_id == record["id"]
    for event in (missed, found):  # neither code, ever
        assert record["reference_code"].replace("-", "") not in event.entry.decode()
        assert CODE_WORD not in event.entry.decode()
    done = _post(keeper, "/withdrawals", f"/withdrawals/{record['id']}", WITHDRAW_ALL)
    assert done.status_code == 200, done.text
    [withdrawn] = _events(app, "consent.withdraw")
    assert (withdrawn.resource_id, withdrawn.outcome) == (record["id"], "allowed")
    assert withdrawn.actor == f"user:{d.custodians[0].user_id}"
    # A lawyer has no such page: refused, and recorded as refused.
    lawyer, _ = page_login(app, d.legal.username, d.legal.totp_secret, steps=1)
    assert lawyer.get("/erasures").status_code == 403
    [listing] = _events(app, "erasure.list")
    assert (listing.outcome, listing.status) == ("denied", 403)
    asked = _post(keeper, "/erasures", f"/people/{person}/erase", {"reason": "The survivor asked us to."})
    assert asked.status_code == 303
    [request] = _events(app, "erasure.request")
    assert (request.resource_id, request.outcome) == (person, "allowed")
