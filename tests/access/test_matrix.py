"""Every route x every role x team member / non-member, plus anonymous, read-only API tokens, and
logins restricted until a password change or a second-factor enrolment.

The expected answers are written by hand; they are never computed by the policy under test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.deps import get_form_principal, get_principal
from app.main import PUBLIC_PATHS
from tests.support.actors import PASSWORD, code
from tests.support.consent import CODE_WORD, use_consent
from tests.support.consent import participation as consent_body
from tests.support.interviews import INCIDENT, planned
from tests.support.routes import ApiRoute, api_routes, protected_routes
from tests.support.world import (
    DRAFT_REVISION,
    INTERVIEW_REVISION,
    RECORDING,
    UPLOAD_PHOTO,
    Raw,
    World,
    export_request,
    path_of,
    request,
)

SESSION_ACTORS = ["doc_in", "doc_out", "legal_in", "legal_out", "custodian", "auditor", "admin"]
TOKENS = ["doc_in_ro", "custodian_ro", "auditor_ro", "admin_ro"]  # read-only API tokens of those users
RESTRICTED = ["doc_pw", "admin_pw", "doc_enrol", "admin_enrol"]  # password change / 2FA enrolment pending
# Tokens act first: a session's password change later in the same test revokes its user's tokens.
ACTORS = ["anon", *TOKENS, *SESSION_ACTORS, *RESTRICTED]

Body = Callable[[World, str], dict[str, Any] | Raw | None]


def _none(_w: World, _who: str) -> None:
    return None


def _fixed(body: dict[str, Any]) -> Body:
    return lambda _w, _who: body


def _fixed_raw(body: Raw) -> Body:
    return lambda _w, _who: body


def _step_up(w: World, who: str) -> dict[str, Any]:
    secret = w.actors[who].totp_secret if who != "anon" else None
    return {"totp": code(secret, w.app, steps=1) if secret else "000000"}


def _retention_item(w: World, _who: str) -> dict[str, Any]:
    """The first item of the review queue (the world's re-contact comes due within 30 days), marked for deletion."""
    [item, *_] = w.actors["custodian"].get("/api/v1/retention/due").json()["items"]
    return {k: item[k] for k in ("person_id", "category", "due_on")} | {"decision": "delete"}


def _allow(ok: int, who: set[str], other: int = 403, *, others: int = 403) -> dict[str, int]:
    """``ok`` for ``who``; ``other`` for the remaining session actors; ``others`` for the remaining
    tokens and restricted logins; 401 for anonymous."""
    return {a: 401 if a == "anon" else ok if a in who else other if a in SESSION_ACTORS else others for a in ACTORS}


SESSIONS = set(SESSION_ACTORS)
ADMIN = {"admin"}
AUDITOR = {"auditor"}
CUSTODIAN = {"custodian"}
DOC_IN = {"doc_in"}
ALL = set(ACTORS) - {"anon"}
# Every role that records grants, prepares or reviews disclosures reads the registry and the deny-list.
REGISTRY_READERS = {"doc_in", "doc_out", "legal_in", "legal_out", "custodian", "admin"}
REGISTRY_READ = REGISTRY_READERS | {"doc_in_ro", "custodian_ro", "admin_ro"}
ENROLLED_RESTRICTED = {"doc_pw", "admin_pw"}  # restricted, but with a second factor
ENROLLING = {"doc_enrol", "admin_enrol"}

# (method, path template) -> (body, expected status per actor)
MATRIX: dict[tuple[str, str], tuple[Body, dict[str, int]]] = {
    ("GET", "/api/v1/me"): (_none, _allow(200, ALL)),
    # Logging out ends a session or revokes the token presented, whatever the role.
    ("POST", "/api/v1/auth/logout"): (_none, _allow(204, ALL)),
    # Step-up needs a browser session and an enrolled second factor.
    ("POST", "/api/v1/auth/step-up"): (_step_up, _allow(200, SESSIONS | ENROLLED_RESTRICTED)),
    ("POST", "/api/v1/me/password"): (
        _fixed({"current_password": PASSWORD, "new_password": "another long passphrase 7"}),
        _allow(200, SESSIONS | set(RESTRICTED)),
    ),
    ("POST", "/api/v1/me/totp"): (
        _none,
        {**_allow(409, SESSIONS | ENROLLED_RESTRICTED), "doc_enrol": 200, "admin_enrol": 200},
    ),
    ("POST", "/api/v1/me/totp/confirm"): (_fixed({"code": "123456"}), _allow(409, SESSIONS | set(RESTRICTED))),
    ("POST", "/api/v1/auth/tokens"): (_fixed({"name": "matrix"}), _allow(201, SESSIONS)),
    ("GET", "/api/v1/auth/tokens"): (_none, _allow(200, SESSIONS)),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): (_none, _allow(204, ADMIN, other=404)),
    ("GET", "/api/v1/users"): (_none, _allow(200, {"admin", "admin_ro"})),
    ("POST", "/api/v1/users"): (
        _fixed({"username": "fresh", "display_name": "F", "roles": []}),
        _allow(202, ADMIN),
    ),
    ("PATCH", "/api/v1/users/{user_id}"): (_fixed({"display_name": "Renamed"}), _allow(200, ADMIN)),
    ("POST", "/api/v1/users/{user_id}/revoke-sessions"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/users/{user_id}/reset-2fa"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/users/{user_id}/reset-password"): (_none, _allow(202, ADMIN)),
    ("GET", "/api/v1/confirmations"): (_none, _allow(200, {"admin", "admin_ro"})),
    ("POST", "/api/v1/confirmations/{confirmation_id}"): (_fixed({"decision": "confirm"}), _allow(200, ADMIN)),
    ("POST", "/api/v1/cases"): (_fixed({"code": "NEW-1", "title": "t"}), _allow(201, ADMIN)),
    ("GET", "/api/v1/cases"): (
        _none,
        _allow(200, SESSIONS - {"auditor"} | {"doc_in_ro", "custodian_ro", "admin_ro"}),
    ),
    ("GET", "/api/v1/cases/{case_id}"): (
        _none,
        {
            "anon": 401,
            "doc_in": 200,
            "doc_out": 404,
            "legal_in": 200,
            "legal_out": 404,
            "custodian": 200,
            "auditor": 403,
            "admin": 200,
            "doc_in_ro": 200,
            "custodian_ro": 200,
            "auditor_ro": 403,
            "admin_ro": 200,
            "doc_pw": 403,
            "admin_pw": 403,
            "doc_enrol": 403,
            "admin_enrol": 403,
        },
    ),
    ("GET", "/api/v1/cases/{case_id}/members"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/cases/{case_id}/members"): (
        lambda w, _who: {"user_id": str(w.target_id)},
        _allow(202, ADMIN),
    ),
    ("DELETE", "/api/v1/cases/{case_id}/members/{user_id}"): (_none, _allow(204, ADMIN)),
    ("GET", "/api/v1/audit/events"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    ("GET", "/api/v1/audit/checkpoints"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    ("GET", "/api/v1/audit/checkpoints/latest"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    ("GET", "/api/v1/audit/proofs/inclusion"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    ("GET", "/api/v1/audit/proofs/consistency"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    ("GET", "/api/v1/audit/public-key"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    ("GET", "/api/v1/audit/actors/{user_id}"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    ("POST", "/api/v1/cases/{case_id}/people"): (_none, {**_allow(201, DOC_IN), "doc_out": 404}),
    ("GET", "/api/v1/cases/{case_id}/people"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    ("GET", "/api/v1/people/{person_id}"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    ("PATCH", "/api/v1/people/{person_id}"): (
        _fixed({"identity": {"full_name": "Anahit Sargsyan", "date_of_birth": "1981-02-03"}}),
        {**_allow(200, DOC_IN), "doc_out": 404},
    ),
    ("POST", "/api/v1/people/{person_id}/participation"): (
        lambda w, _who: consent_body(w.app),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/people/{person_id}/participation"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("POST", "/api/v1/people/{person_id}/consents"): (
        lambda w, _who: use_consent(w.app),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/people/{person_id}/consents"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("GET", "/api/v1/consents/{consent_id}"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    ("GET", "/api/v1/consents/{consent_id}/record"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("GET", "/api/v1/consents/{consent_id}/receipt"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    # The world's person chose a code card.
    ("GET", "/api/v1/consents/{consent_id}/receipt.html"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("POST", "/api/v1/consents/{consent_id}/amend"): (
        lambda w, _who: use_consent(w.app),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    # A custodian finds a record invalid; nobody else may.
    ("POST", "/api/v1/consents/{consent_id}/invalidate"): (
        _fixed({"reason": "Given under pressure from a relative."}),
        _allow(200, CUSTODIAN),
    ),
    # The team's documenter, or a custodian (with a fresh second factor: the world's login is fresh). The
    # documenter acts first; the custodian then asks for erasure too, since a withdrawal that changes
    # nothing is a 409.
    ("POST", "/api/v1/consents/{consent_id}/withdraw"): (
        lambda _w, who: {
            "scope": "all",
            "mode": "withdraw_and_erase" if who == "custodian" else "stop_future_use",
            "received_via": "phone",
        },
        {**_allow(201, DOC_IN | CUSTODIAN), "doc_out": 404},
    ),
    # The survivor's reference code and code word: custodians (org-wide) and the team's documenters; one
    # outside the team is told what an unknown reference is told.
    ("POST", "/api/v1/consents/lookup"): (
        lambda w, _who: {"reference": w.reference_code, "code_word": CODE_WORD},
        {**_allow(200, {"doc_in", "doc_in_ro", "custodian", "custodian_ro"}), "doc_out": 404},
    ),
    ("POST", "/api/v1/interviews/{interview_id}/reconfirm-consent"): (
        lambda w, _who: {"outcome": "first", "first": use_consent(w.app)},
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/consent-forms"): (_none, _allow(200, SESSIONS | set(TOKENS))),
    ("GET", "/api/v1/consent-forms/{form_id}/{version}"): (_none, _allow(200, SESSIONS | set(TOKENS))),
    ("GET", "/api/v1/consent-forms/{form_id}/{version}/{language}"): (_none, _allow(200, SESSIONS | set(TOKENS))),
    ("POST", "/api/v1/people/{person_id}/interviews"): (
        lambda _w, _who: planned(),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/people/{person_id}/interviews"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("GET", "/api/v1/interviews/{interview_id}"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    ("PATCH", "/api/v1/interviews/{interview_id}"): (
        _fixed({"revision": INTERVIEW_REVISION, "distress_observed": [{"note": "Needed a pause; offered water."}]}),
        {**_allow(200, DOC_IN), "doc_out": 404},
    ),
    ("PUT", "/api/v1/interviews/{interview_id}/draft"): (
        _fixed({"text": "We crossed the river at dawn."}),
        {**_allow(200, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/interviews/{interview_id}/draft"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("POST", "/api/v1/interviews/{interview_id}/statements"): (
        _fixed(
            {
                "version": 2,
                "draft_revision": DRAFT_REVISION,
                "confirmed_by_interviewee": True,
                "read_back_in": "hy",
                "reason": "The date was corrected on reading back.",
            }
        ),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/interviews/{interview_id}/statements"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("GET", "/api/v1/statements/{statement_id}"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    # Redactions: the team's documenters prepare and read them; custodians review the redacted text only.
    ("POST", "/api/v1/interviews/{interview_id}/redactions"): (
        lambda w, _who: {"statement_version_id": w.statement_id, "text": "We left […] at night."},
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/interviews/{interview_id}/redactions"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    # A documenter's own cases: one on no team has an empty queue.
    ("GET", "/api/v1/redactions/queue"): (_none, _allow(200, {"doc_in", "doc_in_ro", "doc_out"})),
    # The redactions waiting exports need, in a documenter's own cases (one on no team has an empty list).
    ("GET", "/api/v1/redactions/waiting"): (_none, _allow(200, {"doc_in", "doc_in_ro", "doc_out"})),
    ("GET", "/api/v1/redactions/{redaction_id}"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    ("GET", "/api/v1/redactions/{redaction_id}/review"): (_none, _allow(200, {"custodian", "custodian_ro"})),
    ("POST", "/api/v1/interviews/{interview_id}/incidents"): (
        _fixed(INCIDENT),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/interviews/{interview_id}/incidents"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("GET", "/api/v1/interview-guides/{guide_id}/{version}"): (
        _none,
        _allow(200, {"doc_in", "doc_in_ro", "doc_out"}),
    ),
    ("GET", "/api/v1/incidents/{incident_id}"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    ("GET", "/api/v1/cases/{case_id}/feedback-tasks"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("PATCH", "/api/v1/feedback-tasks/{task_id}"): (_fixed({"state": "done"}), {**_allow(200, DOC_IN), "doc_out": 404}),
    # Attachments: the world's interview being recorded, its stored photo and doc_in's resumable upload.
    ("POST", "/api/v1/interviews/{interview_id}/attachments"): (
        _fixed_raw(UPLOAD_PHOTO),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/interviews/{interview_id}/attachments"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("GET", "/api/v1/attachments/{attachment_id}"): (_none, {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404}),
    ("GET", "/api/v1/attachments/{attachment_id}/content"): (
        _none,
        {**_allow(200, {"doc_in", "doc_in_ro"}), "doc_out": 404},
    ),
    ("POST", "/api/v1/interviews/{interview_id}/uploads"): (
        _fixed({"kind": "audio", "length": 5000}),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    # A resumable upload is its owner's: continuing it is uploading, so a read-only token may not even look.
    ("GET", "/api/v1/uploads/{upload_id}"): (_none, {**_allow(200, DOC_IN), "doc_out": 404}),
    ("PATCH", "/api/v1/uploads/{upload_id}"): (
        _fixed_raw(Raw(RECORDING, {"upload-offset": "0", "content-type": "application/octet-stream"})),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("DELETE", "/api/v1/uploads/{upload_id}"): (_none, {**_allow(204, DOC_IN), "doc_out": 404}),
    ("GET", "/api/v1/recipients"): (_none, _allow(200, REGISTRY_READ)),
    # Registering waits for a second admin.
    ("POST", "/api/v1/recipients"): (
        _fixed(
            {
                "recipient_class": "national_authorities",
                "jurisdiction": "FR",
                "names": ["Pôle crimes contre l'humanité"],
                "recall_contact": "By registered letter to the unit's head.",
            }
        ),
        _allow(202, ADMIN),
    ),
    ("GET", "/api/v1/recipients/{recipient_id}"): (_none, _allow(200, REGISTRY_READ)),
    ("PATCH", "/api/v1/recipients/{recipient_id}"): (
        _fixed({"names": ["Commission of Inquiry", "The Commission"]}),
        _allow(200, ADMIN),
    ),
    ("GET", "/api/v1/deny-list"): (_none, _allow(200, REGISTRY_READ)),
    # A change waits for a second admin.
    ("PUT", "/api/v1/deny-list"): (_fixed({"jurisdictions": ["RU"]}), _allow(202, ADMIN)),
    # Exports: legal users on the case team ask and preview; one off the team is told what a missing case
    # is told; custodians read every request and decide (with a fresh second factor, never by token).
    ("POST", "/api/v1/exports"): (
        lambda w, _who: export_request(w.case_id, w.recipient_id),
        {**_allow(201, {"legal_in"}), "legal_out": 404},
    ),
    ("POST", "/api/v1/exports/preview"): (
        lambda w, _who: export_request(w.case_id, w.recipient_id),
        {**_allow(200, {"legal_in"}), "legal_out": 404},
    ),
    ("GET", "/api/v1/exports"): (_none, _allow(200, {"legal_in", "legal_out", "custodian", "custodian_ro"})),
    # The world's export was asked for by legal_in: another legal user does not see it.
    ("GET", "/api/v1/exports/{export_id}"): (
        _none,
        {**_allow(200, {"legal_in", "custodian", "custodian_ro"}), "legal_out": 404},
    ),
    # What the export would send, for a custodian who may decide it (never by a read-only token: it records a
    # review, which approving needs).
    ("GET", "/api/v1/exports/{export_id}/review"): (_none, _allow(200, CUSTODIAN)),
    ("POST", "/api/v1/exports/{export_id}/approve"): (
        _fixed({"reason": "Within the stated purpose."}),
        _allow(200, CUSTODIAN),
    ),
    ("POST", "/api/v1/exports/{export_id}/reject"): (
        _fixed({"reason": "Too broad for the purpose."}),
        _allow(200, CUSTODIAN),
    ),
    # Downloads: only the legal user who asked (the world's ready export); asking again is for the stale one.
    ("GET", "/api/v1/exports/{export_id}/bundle"): (_none, {**_allow(200, {"legal_in"}), "legal_out": 404}),
    ("POST", "/api/v1/exports/{export_id}/request-again"): (
        _none,
        {**_allow(201, {"legal_in"}), "legal_out": 404},
    ),
    # Recalls: custodians and legal users read notices (legal users their own exports'); custodians move them
    # and mark ledger rows submitted to proceedings.
    ("POST", "/api/v1/exports/{export_id}/ledger/{ledger_id}/submitted"): (
        _fixed({"reason": "Filed with the court."}),
        _allow(200, CUSTODIAN),
    ),
    ("GET", "/api/v1/recalls"): (_none, _allow(200, {"legal_in", "legal_out", "custodian", "custodian_ro"})),
    # The world's notice is open: it can be sent, not yet acknowledged.
    ("POST", "/api/v1/recalls/{recall_id}/sent"): (_none, _allow(200, CUSTODIAN)),
    ("POST", "/api/v1/recalls/{recall_id}/acknowledged"): (_none, _allow(409, CUSTODIAN)),
    # Disclosure feedback: documenters list their own tasks (doc_out owns none) and the owner records outcomes;
    # custodians oversee every task (read only).
    ("GET", "/api/v1/feedback-tasks"): (_none, _allow(200, {"doc_in", "doc_out", "custodian", "custodian_ro"})),
    ("POST", "/api/v1/feedback-tasks/{task_id}/outcome"): (
        _fixed({"outcome": "informed"}),
        {**_allow(200, {"doc_in"}), "doc_out": 404},
    ),
    # Retention: custodians review what comes due; the re-consent queue is for the case team (custodians and
    # documenters; a documenter off the team sees an empty list); the data report is for a custodian on the team.
    ("GET", "/api/v1/retention/due"): (_none, _allow(200, CUSTODIAN)),
    ("POST", "/api/v1/retention/reviews"): (_retention_item, _allow(201, CUSTODIAN)),
    ("GET", "/api/v1/people/reconsent-due"): (
        _none,
        _allow(200, {"doc_in", "doc_out", "custodian", "doc_in_ro", "custodian_ro"}),
    ),
    ("GET", "/api/v1/people/{person_id}/disclosure-report"): (_none, _allow(200, {"custodian", "custodian_ro"})),
    ("GET", "/api/v1/people/{person_id}/disclosure-report.json"): (_none, _allow(200, {"custodian", "custodian_ro"})),
    # The disclosure ledger: auditors only (ids and codes, never content).
    ("GET", "/api/v1/disclosures"): (_none, _allow(200, {"auditor", "auditor_ro"})),
    # Legal holds and erasure: custodians only, with a fresh second factor (never by token); the world's hold
    # and erasure were asked for by another custodian, so the world's custodian decides them.
    ("POST", "/api/v1/people/{person_id}/legal-hold"): (
        _fixed({"reason": "Kept for the proceedings.", "proceedings_reference": "ICC-01/26"}),
        _allow(202, CUSTODIAN),
    ),
    ("DELETE", "/api/v1/people/{person_id}/legal-hold"): (_fixed({"reason": "Closed."}), _allow(409, CUSTODIAN)),
    ("POST", "/api/v1/legal-holds/{hold_id}/decision"): (_fixed({"confirm": True}), _allow(200, CUSTODIAN)),
    ("POST", "/api/v1/people/{person_id}/erase"): (_fixed({"reason": "The survivor asked."}), _allow(202, CUSTODIAN)),
    ("GET", "/api/v1/erasures"): (_none, _allow(200, {"custodian", "custodian_ro"})),
    ("POST", "/api/v1/erasures/{erasure_id}/decision"): (_fixed({"confirm": True}), _allow(200, CUSTODIAN)),
    ("POST", "/api/v1/erasures/{erasure_id}/refuse"): (_fixed({"reason": "Kept by order."}), _allow(200, CUSTODIAN)),
    ("GET", "/api/v1/duplicate-reviews"): (_none, _allow(200, CUSTODIAN)),
    ("POST", "/api/v1/duplicate-reviews/{review_id}"): (
        _fixed({"decision": "not_duplicate"}),
        _allow(200, CUSTODIAN),
    ),
}


FORM_CSRF_ROUTES = {("POST", "/api/v1/interviews/{interview_id}/attachments")}
"""The only routes that take the CSRF token from a form's first field (get_form_principal)."""


def _principal_dependencies(route: ApiRoute) -> set[object]:
    found: set[object] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call in (get_principal, get_form_principal):
            found.add(dep.call)
        stack.extend(dep.dependencies)
    return found


def _depends_on_principal(route: ApiRoute) -> bool:
    expected = get_form_principal if (route.method, route.path) in FORM_CSRF_ROUTES else get_principal
    return _principal_dependencies(route) == {expected}


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    assert {(r.method, r.path) for r in protected_routes(app)} == set(MATRIX)


def test_every_non_public_route_requires_a_principal(app: FastAPI) -> None:
    routes = protected_routes(app)
    assert len(routes) >= len(MATRIX)
    for route in routes:
        assert _depends_on_principal(route), route.path
    public = {r.path for r in api_routes(app)} - {r.path for r in routes}
    assert public == {"/api/v1/health", "/api/v1/auth/login", "/api/v1/keys/signing", "/api/docs"}
    assert public <= PUBLIC_PATHS


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX), ids=lambda v: str(v))
def test_matrix(world: World, method: str, template: str) -> None:
    body, expected = MATRIX[(method, template)]
    # Each actor's own changes (logout, password, tokens) touch nobody else, and only the actors
    # expected to succeed change shared state, so one copy of the world serves every actor in turn.
    path = path_of(template, world)
    got = {who: request(world, who, method, path, body(world, who)).status_code for who in ACTORS}
    assert got == expected
