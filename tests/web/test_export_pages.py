"""The export pages through the real app, as a browser without JavaScript posts them, checked through the API
afterwards: a legal user previews and asks for an export, a custodian who did not ask reviews it (the redacted
text, never the statement) and approves it with a fresh second factor, the real worker builds it, and the
requester downloads the very bytes sealed; a withdrawal then shows a recall notice to the requester, which a
custodian moves on, and a documenter is told to tell the survivor. The one who asked never decides; a form
without its token, or with bad input, is refused and writes nothing."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.roles import Role
from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from app.exports.models import ExportRequest
from tests.exports.test_recalls import _contactable
from tests.support.actors import Actor, actor, code, shift_clock
from tests.support.consent import grant
from tests.support.exports import DEIDENTIFIED_NARRATIVE, NAMED_IDENTITY, REDACTED, TEXT, Desk, desk, stored_bundle
from tests.support.pages import token_in
from tests.web.test_pages import assert_page_headers

WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}
JUSTIFICATION = "The Commission asked for accounts of the October crossing."


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _page(who: Actor, path: str) -> Any:
    who.client.follow_redirects = False
    answer = who.client.get(path)
    assert_page_headers(answer)
    return answer


def _post(who: Actor, path: str, fields: dict[str, Any] | list[tuple[str, str]], *, token: bool = True) -> Any:
    """A form posted with the session's token (the one every page of this login carries)."""
    who.client.follow_redirects = False
    assert who.csrf is not None
    pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
    if token:
        pairs.append(("csrf_token", who.csrf))
    body = urlencode(pairs)
    answer = who.client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert_page_headers(answer)
    return answer


def _request_form(d: Desk, **overrides: Any) -> list[tuple[str, str]]:
    fields = {
        "recipient_id": d.recipient_id,
        "purpose": "un_fact_finding",
        "max_disclosure_level": "pseudonymous",
        "justification": JUSTIFICATION,
    }
    fields.update({k: v for k, v in overrides.items() if k not in {"categories", "case_ids"}})
    categories = overrides.get("categories", ["narrative_general"])
    cases = overrides.get("case_ids", [d.case_id])
    return [*fields.items(), *(("categories", c) for c in categories), *(("case_ids", c) for c in cases)]


def _exports(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return s.scalar(select(func.count()).select_from(ExportRequest)) or 0


def _ask(d: Desk, **overrides: Any) -> str:
    """An export asked for through the form; its id, from where the page sends the lawyer."""
    made = _post(d.legal, "/exports", _request_form(d, **overrides))
    assert made.status_code == 303, made.text
    found = re.fullmatch(r"/exports/([0-9a-f-]{36})\?done=requested", made.headers["location"])
    assert found, made.headers["location"]
    return found.group(1)


def _step_up(who: Actor, app: FastAPI, back: str) -> None:
    assert who.totp_secret is not None
    stepped = _post(who, "/account/step-up", {"back": back, "totp": code(who.totp_secret, app)})
    assert (stepped.status_code, stepped.headers["location"]) == (303, back), stepped.text
    # The session is renewed, and with it the token its forms carry.
    who.csrf = token_in(_page(who, back).text)


def _last_event(app: FastAPI) -> AuditEvent:
    with unit_of_work(app.state.sessionmaker) as s:
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        s.expunge(event)
        return event


def test_a_lawyer_previews_asks_a_custodian_approves_with_step_up_and_the_lawyer_downloads(
    app: FastAPI, d: Desk
) -> None:
    for _ in range(5):
        d.person(grant())
    form = _page(d.legal, "/exports/new")
    assert form.status_code == 200
    assert "KX-1" in form.text
    assert f'value="{d.recipient_id}"' in form.text
    preview = _post(d.legal, "/exports/preview", _request_form(d))
    assert preview.status_code == 200, preview.text
    counts = re.search(r'<table id="counts">.*?</table>', preview.text, re.S)
    assert counts, preview.text
    assert re.search(r"Under a code, not a name</th><td>5</td>", counts.group(0))
    assert _exports(app) == 0  # a preview stores nothing
    assert JUSTIFICATION in preview.text  # the form comes back filled in

    export_id = _ask(d)
    asked = d.legal.get(f"/api/v1/exports/{export_id}").json()
    assert (asked["status"], asked["purpose"], asked["categories"]) == (
        "requested",
        "un_fact_finding",
        ["narrative_general"],
    )
    shown = _page(d.legal, f"/exports/{export_id}?done=requested")
    assert "waiting for a custodian" in shown.text
    assert "/review" not in shown.text  # a lawyer never decides
    assert _page(d.legal, "/exports").text.count(f'href="/exports/{export_id}"') == 1

    # Keeper 1, whose second factor is no longer fresh: the review page asks for it, and approving is refused.
    keeper = d.custodians[0]
    shift_clock(app, timedelta(minutes=6))
    review = _page(keeper, f"/exports/{export_id}/review")
    assert review.status_code == 200, review.text
    assert 'id="step-up"' in review.text
    assert "Under a code, not a name</th><td>5</td>" in review.text
    refused = _post(keeper, f"/exports/{export_id}/approve", {"reason": "Within the purpose."})
    assert refused.status_code == 403
    assert "Confirm your second factor first" in refused.text
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "requested"
    _step_up(keeper, app, f"/exports/{export_id}/review")
    assert 'id="step-up"' not in _page(keeper, f"/exports/{export_id}/review").text
    approved = _post(keeper, f"/exports/{export_id}/approve", {"reason": "Within the purpose."})
    assert (approved.status_code, approved.headers["location"]) == (303, f"/exports/{export_id}?done=approved")
    event = _last_event(app)
    assert (event.action, event.outcome, event.resource_id) == ("export.approve", "allowed", export_id)
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "approved"

    assert d.worker().run_once() is True
    ready = _page(d.legal, f"/exports/{export_id}")
    assert "ready to download" in ready.text
    sent = stored_bundle(app, export_id)
    assert f'id="sha256">{hashlib.sha256(sent).hexdigest()}<' in ready.text
    assert "Downloaded 0 of 3 times" in ready.text
    got = _post(d.legal, f"/exports/{export_id}/download", {})
    assert got.status_code == 200, got.text
    assert got.content == sent
    assert got.headers["content-disposition"] == f'attachment; filename="export-{uuid.UUID(export_id).hex}.bin"'
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["downloads"] == 1
    # Nobody but the one who asked downloads it.
    assert _post(keeper, f"/exports/{export_id}/download", {}).status_code == 403
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["downloads"] == 1


def test_the_one_who_asked_never_decides_and_the_page_says_so(app: FastAPI, d: Desk) -> None:
    d.person(grant())
    both = actor(app, "lawkeeper", [Role.LEGAL, Role.CUSTODIAN], cases=(uuid.UUID(d.case_id),))
    own = _post(both, "/exports", _request_form(d))
    assert own.status_code == 303, own.text
    export_id = own.headers["location"].split("/")[2].split("?")[0]
    shown = _page(both, f"/exports/{export_id}")
    assert 'id="own-request"' in shown.text
    assert "You asked for this: another custodian decides it." in shown.text
    assert f'href="/exports/{export_id}/review"' not in shown.text
    listed = _page(both, "/exports")
    assert f'href="/exports/{export_id}/review"' not in listed.text
    review = _page(both, f"/exports/{export_id}/review")
    assert review.status_code == 403
    assert "a custodian who did not ask for this export reviews it" in review.text
    refused = _post(both, f"/exports/{export_id}/approve", {"reason": "Mine."})
    assert refused.status_code == 403
    assert "a custodian who did not ask for this export must decide it" in refused.text
    assert d.legal.get("/api/v1/exports").json()["items"] == []  # (the lawyer of the desk asked nothing)
    assert d.custodians[0].get(f"/api/v1/exports/{export_id}").json()["status"] == "requested"
    # Another custodian sees the way to decide it.
    assert f'href="/exports/{export_id}/review"' in _page(d.custodians[1], f"/exports/{export_id}").text


def test_a_deidentified_narrative_is_reviewed_as_its_redaction(app: FastAPI, d: Desk) -> None:
    _, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    d.redact(interview, statement)
    export_id = _ask(
        d, categories=["narrative_general", "narrative_sexual_violence"], max_disclosure_level="deidentified"
    )
    keeper = d.custodians[1]
    # Approving before reading the review is refused: the custodian has not seen what would leave.
    unseen = _post(keeper, f"/exports/{export_id}/approve", {"reason": "Within the purpose."})
    assert unseen.status_code == 409
    assert f'href="/exports/{export_id}/review"' in unseen.text
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "requested"
    review = _page(keeper, f"/exports/{export_id}/review")
    assert review.status_code == 200
    assert REDACTED in review.text
    assert "Hadrut" not in review.text
    assert TEXT not in review.text
    basis = re.search(r'<section aria-labelledby="basis-heading" id="basis">.*?</section>', review.text, re.S)
    assert basis
    assert re.search(r"<code>[^<]+</code>", basis.group(0))  # the grant relied on, by id
    approved = _post(keeper, f"/exports/{export_id}/approve", {"reason": "Within the purpose."})
    assert approved.status_code == 303, approved.text


def test_a_rejection_is_recorded_and_nothing_is_built(app: FastAPI, d: Desk) -> None:
    d.person(grant())
    export_id = _ask(d)
    keeper = d.custodians[0]
    _page(keeper, f"/exports/{export_id}/review")
    rejected = _post(keeper, f"/exports/{export_id}/reject", {"reason": "Outside the stated purpose."})
    assert (rejected.status_code, rejected.headers["location"]) == (303, f"/exports/{export_id}?done=rejected")
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "rejected"
    assert d.worker().run_once() is False
    assert "rejected" in _page(d.legal, f"/exports/{export_id}").text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"categories": []}, "categories"),
        ({"case_ids": []}, "case_ids"),
        ({"recipient_id": "not-an-id"}, "recipient_id"),
        ({"purpose": "gossip"}, "purpose"),
        ({"max_disclosure_level": ""}, "max_disclosure_level"),
        ({"justification": "   "}, "justification"),
    ],
)
def test_bad_input_shows_the_form_again_and_writes_nothing(
    app: FastAPI, d: Desk, change: dict[str, Any], field: str
) -> None:
    d.person(grant())
    before = _last_event(app).seq
    for path in ("/exports", "/exports/preview"):
        refused = _post(d.legal, path, _request_form(d, **change))
        assert refused.status_code == 422, (path, refused.text)
        assert 'id="error"' in refused.text
        assert 'id="request-form"' in refused.text
    assert _exports(app) == 0
    with unit_of_work(app.state.sessionmaker) as s:
        outcomes = s.scalars(select(AuditEvent.outcome).where(AuditEvent.seq > before)).all()
    assert outcomes == ["failed", "failed"]  # each refusal recorded, nothing else
    # A decision without a reason is no decision.
    export_id = _ask(d)
    _page(d.custodians[0], f"/exports/{export_id}/review")
    blank = _post(d.custodians[0], f"/exports/{export_id}/approve", {"reason": ""})
    assert blank.status_code == 422
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "requested"


def test_a_form_without_its_token_is_refused_and_writes_nothing(app: FastAPI, d: Desk) -> None:
    d.person(grant())
    refused = _post(d.legal, "/exports", _request_form(d), token=False)
    assert refused.status_code == 403
    assert "This form has expired" in refused.text
    assert _exports(app) == 0
    export_id = _ask(d)
    keeper = d.custodians[0]
    _page(keeper, f"/exports/{export_id}/review")
    assert _post(keeper, f"/exports/{export_id}/approve", {"reason": "Fine."}, token=False).status_code == 403
    wrong = _post(keeper, f"/exports/{export_id}/approve", [("reason", "Fine."), ("csrf_token", "forged")], token=False)
    assert wrong.status_code == 403
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "requested"


def _withdraw_all(d: Desk, person: str) -> None:
    for record in d.doc.get(f"/api/v1/people/{person}/consents").json()["items"]:
        r = d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=WITHDRAW)
        assert r.status_code == 201, r.text


def test_a_withdrawal_after_a_download_shows_a_recall_notice_and_a_task(app: FastAPI, d: Desk) -> None:
    person = _contactable(d)
    export_id, _ = d.ready()
    assert _post(d.legal, f"/exports/{export_id}/download", {}).status_code == 200
    assert 'id="no-recalls"' in _page(d.legal, "/recalls").text
    _withdraw_all(d, person)

    notices = _page(d.legal, "/recalls")
    assert f'href="/exports/{export_id}"' in notices.text
    assert "to send" in notices.text
    assert "Mark as sent" not in notices.text  # the lawyer reads; custodians move notices on
    [notice] = d.custodians[0].get("/api/v1/recalls").json()["items"]
    assert f'<td class="code">{notice["record_id"]}</td>' in notices.text
    keeper = _page(d.custodians[0], "/recalls")
    assert f'action="/recalls/{notice["id"]}/sent"' in keeper.text
    sent = _post(d.custodians[0], f"/recalls/{notice['id']}/sent", {})
    assert (sent.status_code, sent.headers["location"]) == (303, "/recalls?done=sent")
    again = _post(d.custodians[0], f"/recalls/{notice['id']}/sent", {})
    assert again.status_code == 409  # sent once
    assert d.custodians[0].get("/api/v1/recalls").json()["items"][0]["state"] == "sent"
    assert _post(d.legal, f"/recalls/{notice['id']}/acknowledged", {}).status_code == 403

    tasks = _page(d.doc, "/feedback-tasks")
    assert "an export was recalled" in tasks.text
    task = next(t for t in d.doc.get("/api/v1/feedback-tasks").json()["items"] if t["reason"] == "recall")
    told = _post(d.doc, f"/feedback-tasks/{task['id']}/outcome", {"outcome": "informed"})
    assert told.status_code == 303, told.text
    assert _post(d.doc, f"/feedback-tasks/{task['id']}/outcome", {"outcome": "maybe"}).status_code == 422
    after = next(t for t in d.doc.get("/api/v1/feedback-tasks").json()["items"] if t["id"] == task["id"])
    assert after["state"] == "informed"
    # The custodian oversees the same task, sees whose it is and that it was done, and has no outcome buttons.
    overseen = _page(d.custodians[0], "/feedback-tasks")
    assert 'id="oversight"' in overseen.text
    assert 'href="/feedback-tasks"' in overseen.text
    assert f'<td class="code">{d.doc.username}</td>' in overseen.text
    assert "/outcome" not in overseen.text
    assert 'id="oversight"' not in tasks.text  # the documenter's own list
    # The stale export: the download is refused with the reason, and the lawyer may ask again.
    stale = _post(d.legal, f"/exports/{export_id}/download", {})
    assert stale.status_code == 409
    assert "consent changed since this export was built" in stale.text
    again_asked = _post(d.legal, f"/exports/{export_id}/request-again", {})
    assert again_asked.status_code == 303, again_asked.text


def test_the_export_pages_speak_the_chosen_language(app: FastAPI, d: Desk) -> None:
    for language, heading, level in (
        ("hy", "Հայցել արտահանում", "Կոդով, ոչ անունով"),
        ("ru", "Запросить экспорт", "Под кодом, без имени"),
    ):
        switched = _post(d.legal, "/language", {"language": language, "back": "/exports/new"})
        assert switched.status_code == 303
        form = _page(d.legal, "/exports/new")
        assert f"<h1>{heading}</h1>" in form.text
        assert level in form.text


def test_named_identity_waits_for_a_second_custodian(app: FastAPI, d: Desk) -> None:
    d.person(NAMED_IDENTITY)
    export_id = _ask(d, categories=["identity", "narrative_general"], max_disclosure_level="named_protected")
    first, second = d.custodians
    _page(first, f"/exports/{export_id}/review")
    assert _post(first, f"/exports/{export_id}/approve", {"reason": "Named, as the court needs."}).status_code == 303
    waiting = _page(first, f"/exports/{export_id}")
    assert "waiting for a second custodian" in waiting.text
    assert 'id="approved-first"' in waiting.text
    assert f'href="/exports/{export_id}/review"' not in waiting.text
    again = _post(first, f"/exports/{export_id}/approve", {"reason": "Again."})
    assert again.status_code == 403  # the engine refuses the custodian who approved first
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "awaiting_second_approval"
    assert f'href="/exports/{export_id}/review"' in _page(second, f"/exports/{export_id}").text
    _page(second, f"/exports/{export_id}/review")
    assert _post(second, f"/exports/{export_id}/approve", {"reason": "Agreed."}).status_code == 303
    assert d.legal.get(f"/api/v1/exports/{export_id}").json()["status"] == "approved"
