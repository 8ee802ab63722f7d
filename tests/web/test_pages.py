"""Every page route x every kind of user, with the answers written by hand (never computed by the
policy under test), and the security headers on every answer. Only the login page, the language
switch and the static assets are public; every other page sends a visitor without a session to login."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.consent.registry import FormRegistry
from app.core.db import unit_of_work
from app.web.deps import get_page_principal, get_streamed_page_principal
from app.web.render import PAGE_CSP
from app.web.routes import PUBLIC_PAGES
from tests.support.actors import code
from tests.support.attachments import sample
from tests.support.pages import browser, token_in
from tests.support.routes import ApiRoute, page_routes, protected_pages
from tests.support.world import World, path_of

SESSIONS = ["doc_in", "doc_out", "legal_in", "legal_out", "custodian", "auditor", "admin"]
RESTRICTED = ["doc_pw", "admin_pw", "doc_enrol", "admin_enrol"]
ACTORS = ["anon", *SESSIONS, *RESTRICTED]
LOGIN = "303 /login"
PASSWORD = "303 /account/password"
ENROL = "303 /account/second-factor"
WRONG_PASSWORD = {"current_password": "not it", "new_password": "x" * 20, "repeat_password": "x" * 20}
NEW_PERSON = "303 /people/{id}/consent?new=1"
V1 = FormRegistry(development=True).get("standard", "v1")
assert V1 is not None
DEFERRAL = {
    "form": "standard/v1",
    "language": "en",
    "variant": "main",
    "text_sha256": V1.text("en").sha256,
    "witness_name": "Witness One",
    "witness_role": "field coordinator",
    "age_years": "40",
    "outcome": "time_to_think",
}
PLAN = {
    "date": (date.today() + timedelta(days=7)).isoformat(),
    "time": "10:30",
    "utc_offset": "+04:00",
    "language": "hy",
    "private_setting": "yes",
    "accompanied_by": "alone",
    "referral_available_locally": "yes",
    "incident_types": "forced_displacement",
    "justification": "First account of the displacement; no prior recorded statement.",
}
EXPORT_FORM = {
    "case_ids": "{case_id}",
    "recipient_id": "{recipient_id}",
    "purpose": "un_fact_finding",
    "categories": "narrative_general",
    "max_disclosure_level": "pseudonymous",
    "justification": "The Commission asked for accounts of the October crossing.",
}
STREAMED = {("POST", "/interviews/{interview_id}/attachments")}
"""Forms whose file is streamed to the service: posted as a browser posts them, multipart, the token first."""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _row(default: str, **special: str) -> dict[str, str]:
    return {who: special.get(who, default) for who in ACTORS}


def _restricted(row: dict[str, str]) -> dict[str, str]:
    """A restricted login is sent to the step it must finish first."""
    return {**row, "doc_pw": PASSWORD, "admin_pw": PASSWORD, "doc_enrol": ENROL, "admin_enrol": ENROL}


ADMIN_ONLY = _restricted(_row("403", anon=LOGIN, admin="200"))
AUDITOR_ONLY = _restricted(_row("403", anon=LOGIN, auditor="200"))
REGISTRY_READERS = _restricted(_row("200", anon=LOGIN, auditor="403"))
CUSTODIAN_ONLY = _restricted(_row("403", anon=LOGIN, custodian="200"))
LOOKS_UP = _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="200", custodian="200"))
LOOKUP_MISS = _restricted(_row("403", anon=LOGIN, doc_in="404", doc_out="404", custodian="404"))

# (method, path template) -> (form fields, expected answer per actor: "status" or "303 location")
MATRIX: dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]] = {
    ("GET", "/login"): ({}, _row("200")),
    # A different unknown account each (one account's failures from one address are limited).
    ("POST", "/login"): ({"username": "nobody-{who}", "password": "wrong"}, _row("401")),
    ("POST", "/language"): ({"language": "hy", "back": "/cases"}, _row("303 /cases")),
    ("GET", "/"): ({}, _restricted(_row("200", anon=LOGIN))),
    ("POST", "/logout"): ({}, _row("303 /login?out=1", anon=LOGIN)),
    ("GET", "/cases"): ({}, _restricted(_row("200", anon=LOGIN, auditor="403"))),
    # Only a documenter on the team sees its people; a case one may not see is missing (404).
    ("GET", "/cases/{case_id}"): (
        {},
        _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="404", legal_out="404")),
    ),
    # Registering a person and recording their participation consent: documenters on the team only.
    ("POST", "/cases/{case_id}/people"): ({}, _restricted(_row("403", anon=LOGIN, doc_in=NEW_PERSON, doc_out="404"))),
    ("GET", "/people/{person_id}/consent"): ({}, _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="404"))),
    ("POST", "/people/{person_id}/consent/form"): (
        {"form": "standard/v1", "language": "hy", "variant": "main"},
        _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="404")),
    ),
    # "Needs time to think": a deferral, recorded again by each actor that may.
    ("POST", "/people/{person_id}/consent"): (
        DEFERRAL,
        _restricted(_row("403", anon=LOGIN, doc_in="303 /people/{id}/consent?done=1", doc_out="404")),
    ),
    # Planning and running an interview: documenters on the team only, like the API.
    ("GET", "/people/{person_id}/interviews"): ({}, _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="404"))),
    ("POST", "/people/{person_id}/interviews"): (
        PLAN,
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}", doc_out="404")),
    ),
    ("GET", "/interviews/{interview_id}"): ({}, _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="404"))),
    # The world's interview is in progress at revision 3: a break.
    ("POST", "/interviews/{interview_id}/state"): (
        {"revision": "3", "move": "pause", "break_reason": "Tea"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}#state", doc_out="404")),
    ),
    ("POST", "/interviews/{interview_id}/draft"): (
        {"text": "We left on foot at night, in October, with {who}.", "state_background": "declined"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}?saved=1#draft", doc_out="404")),
    ),
    # Its draft (revision 2) corrects version 1: version 2, with the reason.
    ("POST", "/interviews/{interview_id}/statements"): (
        {"version": "2", "draft_revision": "2", "read_back_in": "hy", "confirmed": "yes", "reason": "The month"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}#read-back", doc_out="404")),
    ),
    ("POST", "/interviews/{interview_id}/reconfirm"): (
        {"outcome": "confirmed"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}?reconfirmed=1#reconfirm", doc_out="404")),
    ),
    # The world's interview has started: its checklist is part of the record and no longer changes.
    ("POST", "/interviews/{interview_id}/checklist"): (
        {"revision": "3", **{k: v for k, v in PLAN.items() if k not in {"date", "time", "utc_offset", "language"}}},
        _restricted(_row("403", anon=LOGIN, doc_in="409", doc_out="404")),
    ),
    # Likewise its plan and its interviewers (the team's documenter, doc_in, named again).
    ("POST", "/interviews/{interview_id}/plan"): (
        {"revision": "3", **{k: v for k, v in PLAN.items() if k in {"date", "time", "utc_offset", "language"}}},
        _restricted(_row("403", anon=LOGIN, doc_in="409", doc_out="404")),
    ),
    ("POST", "/interviews/{interview_id}/interviewers"): (
        {"revision": "3", "interviewers": "{doc_in}"},
        _restricted(_row("403", anon=LOGIN, doc_in="409", doc_out="404")),
    ),
    # The attachment upload, streamed (a PDF filed as evidence, in the world's recording interview).
    ("POST", "/interviews/{interview_id}/attachments"): (
        {"kind": "document", "category": "evidentiary_documents"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}?stored=1#attachments", doc_out="404")),
    ),
    ("POST", "/interviews/{interview_id}/incidents"): (
        {"incident_from": "2023-09-01", "precision": "month", "violation_types": "forced_displacement"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}#incidents", doc_out="404")),
    ),
    ("POST", "/interviews/{interview_id}/referrals"): (
        {"revision": "3", "need": "medical", "contact": "Goris clinic, by phone"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /interviews/{id}#referrals", doc_out="404")),
    ),
    # The admin pages: the same services and answers as their API twins. The registry and the deny-list are
    # read by every role that records grants or prepares disclosures; the forms to change them are an admin's.
    ("GET", "/admin/users"): ({}, ADMIN_ONLY),
    ("POST", "/admin/users"): (
        {"username": "new-{who}", "display_name": "New {who}", "roles": "documenter"},
        _restricted(_row("403", anon=LOGIN, admin="200")),
    ),
    ("GET", "/admin/users/{user_id}"): ({}, ADMIN_ONLY),
    ("POST", "/admin/users/{user_id}"): (
        {"display_name": "Renamed", "roles": "documenter", "active": "yes"},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/users/{id}?done=saved")),
    ),
    ("POST", "/admin/users/{user_id}/reset-password"): ({}, _restricted(_row("403", anon=LOGIN, admin="200"))),
    ("POST", "/admin/users/{user_id}/reset-2fa"): (
        {},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/users/{id}?done=second_factor")),
    ),
    ("POST", "/admin/users/{user_id}/revoke-sessions"): (
        {},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/users/{id}?done=sessions")),
    ),
    ("GET", "/admin/confirmations"): ({}, ADMIN_ONLY),
    # The world's request was made by admin2: admin confirms it.
    ("POST", "/admin/confirmations/{confirmation_id}"): (
        {"decision": "confirm"},
        _restricted(_row("403", anon=LOGIN, admin="200")),
    ),
    # Every case one may see, as GET /api/v1/cases lists them; the form for a new one is an admin's.
    ("GET", "/admin/cases"): ({}, _restricted(_row("200", anon=LOGIN, auditor="403"))),
    ("POST", "/admin/cases"): (
        {"code": "NEW-1", "title": "A new case"},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/cases/{id}?done=created")),
    ),
    ("GET", "/admin/cases/{case_id}"): ({}, ADMIN_ONLY),
    ("POST", "/admin/cases/{case_id}/members"): (
        {"user_id": "{doc_out}"},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/cases/{id}?done=asked")),
    ),
    ("POST", "/admin/cases/{case_id}/members/{user_id}/remove"): (
        {},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/cases/{id}?done=removed")),
    ),
    ("GET", "/admin/recipients"): ({}, REGISTRY_READERS),
    ("POST", "/admin/recipients"): (
        {
            "recipient_class": "researchers",
            "jurisdiction": "DE",
            "names": "Institute {who}",
            "recall_contact": "By email to the archive.",
            "active": "yes",
        },
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/recipients?done=asked")),
    ),
    ("GET", "/admin/recipients/{recipient_id}"): ({}, REGISTRY_READERS),
    ("POST", "/admin/recipients/{recipient_id}"): (
        {
            "recipient_class": "un_investigative_bodies",
            "jurisdiction": "international",
            "names": "Commission of Inquiry\nCoI",
            "recall_contact": "Registry, by the secure channel agreed at first contact.",
            "active": "yes",
        },
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/recipients/{id}?done=saved")),
    ),
    ("GET", "/admin/deny-list"): ({}, REGISTRY_READERS),
    ("POST", "/admin/deny-list"): (
        {"jurisdictions": "RU"},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/deny-list?done=asked")),
    ),
    ("GET", "/admin/keys"): ({}, ADMIN_ONLY),
    # The world's keyring is a fresh one (KEK 1, nothing to re-wrap): the admin queues a rotation for a worker.
    ("POST", "/admin/keys/rotate"): (
        {"kek_seen": "1"},
        _restricted(_row("403", anon=LOGIN, admin="303 /admin/keys?done=rotate_queued")),
    ),
    ("POST", "/admin/keys/rewrap"): ({"kek_seen": "1"}, _restricted(_row("403", anon=LOGIN, admin="409"))),
    # A form naming a signing key that is not the one signing: the admin is refused, and the world keeps its key.
    ("POST", "/admin/keys/rotate-signing"): (
        {"key_seen": "0000000000000000"},
        _restricted(_row("403", anon=LOGIN, admin="409")),
    ),
    # The custodian's pages: the same services and answers as their API twins. Documenters look up and withdraw
    # too (on their team, without step-up): doc_in withdraws the world's record, so the custodian finds it done.
    ("GET", "/withdrawals"): ({}, LOOKS_UP),
    ("POST", "/withdrawals/lookup"): ({"reference": "00000-00000-00000-00000", "code_word": "apricot"}, LOOKUP_MISS),
    ("POST", "/withdrawals/{consent_id}"): (
        {"scope": "all", "mode": "stop_future_use", "received_via": "phone"},
        _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="404", custodian="409")),
    ),
    # A custodian on the person's case team only.
    ("GET", "/people/{person_id}/disclosure-report"): ({}, CUSTODIAN_ONLY),
    ("GET", "/erasures"): ({}, CUSTODIAN_ONLY),
    ("POST", "/people/{person_id}/erase"): (
        {"reason": "The survivor asked us to."},
        _restricted(_row("403", anon=LOGIN, custodian="303 /erasures?done=erasure_asked")),
    ),
    # The world's erasure and hold were asked for by another custodian: the world's custodian decides them.
    ("POST", "/erasures/{erasure_id}/decision"): (
        {"decision": "confirm"},
        _restricted(_row("403", anon=LOGIN, custodian="303 /erasures?done=erasure_confirmed")),
    ),
    ("POST", "/erasures/{erasure_id}/refuse"): (
        {"reason": "The survivor changed their mind."},
        _restricted(_row("403", anon=LOGIN, custodian="303 /erasures?done=erasure_refused")),
    ),
    ("POST", "/people/{person_id}/legal-hold"): (
        {"reason": "Kept for the Commission.", "proceedings_reference": "CoI-2026/4"},
        _restricted(_row("403", anon=LOGIN, custodian="303 /erasures?done=hold_asked")),
    ),
    # No hold stands on the world's person: nothing to lift.
    ("POST", "/people/{person_id}/legal-hold/lift"): (
        {"reason": "The proceedings ended."},
        _restricted(_row("403", anon=LOGIN, custodian="409")),
    ),
    ("POST", "/legal-holds/{hold_id}/decision"): (
        {"decision": "confirm"},
        _restricted(_row("403", anon=LOGIN, custodian="303 /erasures?done=hold_decided")),
    ),
    ("GET", "/duplicate-reviews"): ({}, CUSTODIAN_ONLY),
    ("POST", "/duplicate-reviews/{review_id}"): (
        {"decision": "not_duplicate"},
        _restricted(_row("403", anon=LOGIN, custodian="303 /duplicate-reviews?done=decided")),
    ),
    ("GET", "/retention"): ({}, CUSTODIAN_ONLY),
    ("POST", "/retention/reviews"): (
        {"person_id": "not-an-id", "category": "identity", "due_on": "2030-01-01", "decision": "delete"},
        _restricted(_row("403", anon=LOGIN, custodian="422")),
    ),
    # Minors come of age: documenters and custodians, each for their own cases (doc_out's list is empty).
    ("GET", "/reconsent"): ({}, _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="200", custodian="200"))),
    # Everyone with a second factor proves it again (a code of the next step: login spent this one).
    ("POST", "/account/step-up"): (
        {"back": "/admin/users", "totp": "{totp}"},
        _row("303 /admin/users", anon=LOGIN, doc_enrol="403", admin_enrol="403"),
    ),
    ("GET", "/account/password"): ({}, _row("200", anon=LOGIN)),
    # The auditor's pages: the same services as /api/v1/audit and /api/v1/disclosures; no other role reads them.
    ("GET", "/audit/events"): ({}, AUDITOR_ONLY),
    ("GET", "/audit/status"): ({}, AUDITOR_ONLY),
    ("GET", "/audit/proofs"): ({}, AUDITOR_ONLY),
    ("GET", "/audit/pin"): ({}, AUDITOR_ONLY),
    ("GET", "/audit/disclosures"): ({}, AUDITOR_ONLY),
    # The downloads, without a query: the world's signed checkpoint, its last event's inclusion in it, and its
    # consistency with itself.
    ("GET", "/audit/downloads/checkpoint"): ({}, AUDITOR_ONLY),
    ("GET", "/audit/downloads/inclusion"): ({}, AUDITOR_ONLY),
    ("GET", "/audit/downloads/consistency"): ({}, AUDITOR_ONLY),
    ("POST", "/account/password"): (WRONG_PASSWORD, _row("403", anon=LOGIN)),
    ("GET", "/account/second-factor"): ({}, _row("200", anon=LOGIN)),
    # Starting an enrolment: only for an account without a second factor; the others have one (409).
    ("POST", "/account/second-factor"): ({}, _row("409", anon=LOGIN, doc_enrol="200", admin_enrol="200")),
    ("POST", "/account/second-factor/confirm"): ({"code": "000000"}, _row("409", anon=LOGIN)),
    # Exports: the same services and answers as /api/v1/exports. Legal users ask (on the team of every case:
    # legal_out is on none), custodians review and decide those they did not ask for (the world's waiting export
    # is legal_in's), only the one who asked downloads (the waiting export is not ready: 409) or asks again (the
    # world's stale export).
    ("GET", "/exports"): ({}, _restricted(_row("403", anon=LOGIN, legal_in="200", legal_out="200", custodian="200"))),
    ("GET", "/exports/new"): ({}, _restricted(_row("403", anon=LOGIN, legal_in="200", legal_out="200"))),
    ("POST", "/exports/preview"): (
        EXPORT_FORM,
        _restricted(_row("403", anon=LOGIN, legal_in="200", legal_out="404")),
    ),
    ("POST", "/exports"): (
        EXPORT_FORM,
        _restricted(_row("403", anon=LOGIN, legal_in="303 /exports/{id}?done=requested", legal_out="404")),
    ),
    ("GET", "/exports/{export_id}"): (
        {},
        _restricted(_row("403", anon=LOGIN, legal_in="200", legal_out="404", custodian="200")),
    ),
    ("POST", "/exports/{export_id}/download"): (
        {},
        _restricted(_row("403", anon=LOGIN, legal_in="409", legal_out="404")),
    ),
    ("POST", "/exports/{export_id}/request-again"): (
        {},
        _restricted(_row("403", anon=LOGIN, legal_in="303 /exports/{id}?done=requested", legal_out="404")),
    ),
    ("GET", "/exports/{export_id}/review"): ({}, _restricted(_row("403", anon=LOGIN, custodian="200"))),
    ("POST", "/exports/{export_id}/approve"): (
        {"reason": "Within the stated purpose."},
        _restricted(_row("403", anon=LOGIN, custodian="303 /exports/{id}?done=approved")),
    ),
    ("POST", "/exports/{export_id}/reject"): (
        {"reason": "Outside the stated purpose."},
        _restricted(_row("403", anon=LOGIN, custodian="303 /exports/{id}?done=rejected")),
    ),
    # Recall notices: custodians and legal users read them; custodians move them on (the world's is open).
    ("GET", "/recalls"): ({}, _restricted(_row("403", anon=LOGIN, legal_in="200", legal_out="200", custodian="200"))),
    ("POST", "/recalls/{recall_id}/sent"): (
        {},
        _restricted(_row("403", anon=LOGIN, custodian="303 /recalls?done=sent")),
    ),
    ("POST", "/recalls/{recall_id}/acknowledged"): ({}, _restricted(_row("403", anon=LOGIN, custodian="409"))),
    # The survivors to tell of an approval or a recall: each documenter's own tasks (doc_out owns none); custodians
    # oversee them all.
    ("GET", "/feedback-tasks"): (
        {},
        _restricted(_row("403", anon=LOGIN, doc_in="200", doc_out="200", custodian="200")),
    ),
    ("POST", "/feedback-tasks/{task_id}/outcome"): (
        {"outcome": "informed"},
        _restricted(_row("403", anon=LOGIN, doc_in="303 /feedback-tasks?done=1", doc_out="404")),
    ),
}


def _client(world: World, who: str) -> tuple[TestClient, str]:
    """The actor's browser and the token its forms carry (anonymous: the login page's)."""
    if who == "anon":
        client = browser(world.app)
        return client, token_in(client.get("/login").text)
    actor = world.actors[who]
    actor.client.follow_redirects = False
    assert actor.csrf is not None
    return actor.client, actor.csrf


def fill(fields: dict[str, str], world: World, who: str) -> dict[str, str]:
    """The form's fields for this actor: its name, a code of its second factor, and the world's ids."""
    secret = world.actors[who].totp_secret if who != "anon" else None
    values = {
        "who": who,
        "totp": code(secret, world.app, steps=1) if secret else "000000",
        "doc_in": world.actors["doc_in"].user_id,
        "doc_out": world.actors["doc_out"].user_id,
        "case_id": world.case_id,
        "recipient_id": world.recipient_id,
    }
    return {name: value.format(**values) for name, value in fields.items()}


def post_form(client: TestClient, template: str, path: str, data: dict[str, str]) -> Any:
    """The form posted as its page posts it: with a file for a streamed form, urlencoded otherwise."""
    if ("POST", template) in STREAMED:
        # Its page puts the token first, where the route reads it; elsewhere in the form it is no token.
        data = dict(sorted(data.items(), key=lambda item: item[0] != "csrf_token"))
        return client.post(path, data=data, files={"file": ("letter.pdf", sample("pdf", 4_000), "application/pdf")})
    return client.post(path, data=data)


def answer_of(response: Any) -> str:
    if response.status_code in (302, 303, 307):
        # A new record's id is not known in advance: the table writes it as {id}.
        return f"{response.status_code} {UUID.sub('{id}', response.headers['location'])}"
    return str(response.status_code)


def assert_page_headers(response: Any) -> None:
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    if headers.get("content-type", "").startswith("text/html"):
        assert csp == PAGE_CSP
        assert "<script>" not in response.text
        assert " style=" not in response.text
        assert "<style" not in response.text


def test_every_page_route_is_in_the_matrix(app: FastAPI) -> None:
    assert {(r.method, r.path) for r in page_routes(app)} == set(MATRIX)


def _depends_on(route: ApiRoute, call: object) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is call:
            return True
        stack.extend(dep.dependencies)
    return False


def _depends_on_page_principal(route: ApiRoute) -> bool:
    """The session-cookie principal with the form's token: get_page_principal, or its streamed twin."""
    return _depends_on(route, get_page_principal) or _depends_on(route, get_streamed_page_principal)


def test_only_the_login_page_and_the_language_switch_are_public(app: FastAPI) -> None:
    for route in protected_pages(app):
        assert _depends_on_page_principal(route), route.path
    streamed = {(r.method, r.path) for r in page_routes(app) if _depends_on(r, get_streamed_page_principal)}
    assert streamed == STREAMED
    public = {(r.method, r.path) for r in page_routes(app) if not _depends_on_page_principal(r)}
    assert public == {("GET", "/login"), ("POST", "/login"), ("POST", "/language")}
    assert {path for _, path in public} | {"/static/web"} == PUBLIC_PAGES


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX), ids=lambda v: str(v))
def test_page_matrix(world: World, method: str, template: str) -> None:
    fields, expected = MATRIX[(method, template)]
    path = path_of(template, world)
    got = {}
    for who in ACTORS:
        client, token = _client(world, who)
        if method == "GET":
            response = client.get(path)
        else:
            filled = fill(fields, world, who)
            response = post_form(client, template, path, {"csrf_token": token, **filled})
        assert_page_headers(response)
        got[who] = answer_of(response)
    assert got == expected


def test_static_assets_are_public_and_carry_the_headers(app: FastAPI) -> None:
    sheet = browser(app).get("/static/web/style.css")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")
    assert_page_headers(sheet)
    assert browser(app).get("/static/web/../../main.py").status_code == 404


def test_an_unknown_page_is_a_plain_404_with_the_headers(app: FastAPI) -> None:
    missing = browser(app).get("/no-such-page", headers={"accept": "text/html"})
    assert missing.status_code == 404
    assert_page_headers(missing)


def test_my_cases_shows_what_the_api_lists_and_nothing_more(world: World) -> None:
    for who in ("doc_in", "doc_out"):
        actor = world.actors[who]
        listed = actor.get("/api/v1/cases").json()["items"]
        page = actor.get("/cases")
        assert page.status_code == 200
        assert [c["code"] for c in listed] == re.findall(r'<span class="code">([^<]+)</span>', page.text)
    assert "/cases/" in world.actors["doc_in"].get("/cases").text
    assert "/cases/" not in world.actors["doc_out"].get("/cases").text
    doc = world.actors["doc_in"]
    people = [p["code"] for p in doc.get(f"/api/v1/cases/{world.case_id}/people").json()["items"]]
    assert people
    shown = doc.get(f"/cases/{world.case_id}")
    assert re.findall(r'<td class="code">([^<]+)</td>', shown.text) == people


def _last_event(world: World) -> AuditEvent:
    with unit_of_work(world.app.state.sessionmaker) as s:
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        s.expunge(event)
        return event


def test_a_page_records_the_event_its_api_twin_records(world: World) -> None:
    doc = world.actors["doc_in"]
    assert doc.get(f"/cases/{world.case_id}").status_code == 200
    event = _last_event(world)
    assert (event.action, event.case_id, event.outcome) == ("person.list", world.case_id, "allowed")
    assert event.actor == f"user:{doc.user_id}"
    assert world.actors["doc_out"].get(f"/cases/{world.case_id}").status_code == 404
    denied = _last_event(world)
    assert (denied.action, denied.outcome, denied.status) == ("person.list", "denied", 404)
