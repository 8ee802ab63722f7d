"""Every protected route records exactly one event, allowed or denied, naming the right resource.

The expected action and resource type per route are written by hand here; a route
missing from the table fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from tests.access.test_matrix import MATRIX
from tests.support.actors import anonymous, code
from tests.support.erasure import WORLD_REASON, second_custodian
from tests.support.routes import protected_routes
from tests.support.world import QUERY, World, body_of, path_of

ANY = object()
Expect = Callable[[World, Any], object]


def _target(w: World, _r: Any) -> object:
    return str(w.target_id)


def _me(who: str) -> Expect:
    return lambda w, _r: str(w.actors[who].user_id)


def _from_body(*keys: str) -> Expect:
    def pick(_w: World, r: Any) -> object:
        value = r.json()
        for k in keys:
            value = value[k]
        return str(value)

    return pick


def _export(w: World, _r: Any) -> object:
    return w.export_id


def _person(w: World, _r: Any) -> object:
    return w.person_id


def _interview(w: World, _r: Any) -> object:
    return w.interview_id


def _recording(w: World, _r: Any) -> object:
    return w.recording_id


def _attachment(w: World, _r: Any) -> object:
    return w.attachment_id


def _upload(w: World, _r: Any) -> object:
    return w.upload_id


def _recipient(w: World, _r: Any) -> object:
    return w.recipient_id


def _consent(w: World, _r: Any) -> object:
    return w.consent_id


def _any(_w: World, _r: Any) -> object:
    return ANY


def _none(_w: World, _r: Any) -> object:
    return None


# (method, path) -> (who succeeds, action, resource type, expected resource id)
# Routes whose successful request stores an attachment, and so writes its custody commitment first.
STORING = {("POST", "/api/v1/interviews/{interview_id}/attachments"), ("PATCH", "/api/v1/uploads/{upload_id}")}

ROUTES: dict[tuple[str, str], tuple[str, str, str, Expect]] = {
    ("GET", "/api/v1/me"): ("doc_in", "me.read", "user", _me("doc_in")),
    ("POST", "/api/v1/auth/logout"): ("doc_in", "auth.logout", "session", _any),
    ("POST", "/api/v1/auth/step-up"): ("admin", "auth.step_up", "session", _any),
    ("POST", "/api/v1/me/password"): ("doc_in", "me.password_change", "user", _me("doc_in")),
    ("POST", "/api/v1/me/totp"): ("doc_enrol", "me.totp_enrol", "user", _me("doc_enrol")),
    ("POST", "/api/v1/me/totp/confirm"): ("doc_enrol", "me.totp_confirm", "user", _me("doc_enrol")),
    ("POST", "/api/v1/auth/tokens"): ("doc_in", "token.create", "token", _from_body("id")),
    ("GET", "/api/v1/auth/tokens"): ("doc_in", "token.list", "token", _none),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): ("admin", "token.revoke", "token", lambda w, _r: w.admin_token_id),
    ("GET", "/api/v1/users"): ("admin", "user.list", "user", _none),
    ("POST", "/api/v1/users"): ("admin", "user.create", "user", _from_body("user", "id")),
    ("PATCH", "/api/v1/users/{user_id}"): ("admin", "user.update", "user", _target),
    ("POST", "/api/v1/users/{user_id}/revoke-sessions"): ("admin", "user.revoke_sessions", "user", _target),
    ("POST", "/api/v1/users/{user_id}/reset-2fa"): ("admin", "user.reset_2fa", "user", _target),
    ("POST", "/api/v1/users/{user_id}/reset-password"): ("admin", "user.reset_password", "user", _target),
    ("GET", "/api/v1/confirmations"): ("admin", "confirmation.list", "confirmation", _none),
    ("POST", "/api/v1/confirmations/{confirmation_id}"): (
        "admin",
        "confirmation.decide",
        "confirmation",
        lambda w, _r: w.confirmation_id,
    ),
    ("POST", "/api/v1/cases"): ("admin", "case.create", "case", _from_body("id")),
    ("GET", "/api/v1/cases"): ("doc_in", "case.list", "case", _none),
    ("GET", "/api/v1/cases/{case_id}"): ("doc_in", "case.read", "case", lambda w, _r: str(w.case_id)),
    ("GET", "/api/v1/cases/{case_id}/members"): ("admin", "case.members_read", "case", lambda w, _r: str(w.case_id)),
    ("POST", "/api/v1/cases/{case_id}/members"): ("admin", "case.member_add", "user", _target),
    ("DELETE", "/api/v1/cases/{case_id}/members/{user_id}"): (
        "admin",
        "case.member_remove",
        "user",
        lambda w, _r: str(w.actors["doc_in"].user_id),
    ),
    ("GET", "/api/v1/audit/events"): ("auditor", "audit.read", "audit_log", _none),
    ("GET", "/api/v1/audit/checkpoints"): ("auditor", "audit.read", "audit_checkpoint", _none),
    ("GET", "/api/v1/audit/checkpoints/latest"): ("auditor", "audit.read", "audit_checkpoint", _none),
    ("GET", "/api/v1/audit/proofs/inclusion"): ("auditor", "audit.read", "audit_proof", _none),
    ("GET", "/api/v1/audit/proofs/consistency"): ("auditor", "audit.read", "audit_proof", _none),
    ("GET", "/api/v1/audit/public-key"): ("auditor", "audit.read", "audit_key", _none),
    ("GET", "/api/v1/audit/actors/{user_id}"): ("auditor", "audit.read", "user", _target),
    ("POST", "/api/v1/cases/{case_id}/people"): ("doc_in", "person.create", "person", _from_body("id")),
    ("GET", "/api/v1/cases/{case_id}/people"): ("doc_in", "person.list", "person", _none),
    ("GET", "/api/v1/people/{person_id}"): ("doc_in", "person.read", "person", _person),
    ("PATCH", "/api/v1/people/{person_id}"): ("doc_in", "person.update", "person", _person),
    ("POST", "/api/v1/people/{person_id}/participation"): (
        "doc_in",
        "consent.record",
        "participation_consent",
        _from_body("id"),
    ),
    ("GET", "/api/v1/people/{person_id}/participation"): ("doc_in", "consent.read", "participation_consent", _person),
    ("POST", "/api/v1/people/{person_id}/consents"): ("doc_in", "consent.record", "use_consent", _from_body("id")),
    ("GET", "/api/v1/people/{person_id}/consents"): ("doc_in", "consent.read", "use_consent", _person),
    ("GET", "/api/v1/consents/{consent_id}"): ("doc_in", "consent.read", "use_consent", _consent),
    ("GET", "/api/v1/consents/{consent_id}/record"): ("doc_in", "consent.read", "use_consent", _consent),
    ("GET", "/api/v1/consents/{consent_id}/receipt"): ("doc_in", "consent.receipt", "use_consent", _consent),
    ("GET", "/api/v1/consents/{consent_id}/receipt.html"): ("doc_in", "consent.receipt", "use_consent", _consent),
    ("POST", "/api/v1/consents/{consent_id}/amend"): ("doc_in", "consent.amend", "use_consent", _from_body("id")),
    ("POST", "/api/v1/consents/{consent_id}/invalidate"): ("custodian", "consent.invalidate", "use_consent", _consent),
    ("POST", "/api/v1/consents/{consent_id}/withdraw"): ("custodian", "consent.withdraw", "use_consent", _consent),
    ("POST", "/api/v1/consents/lookup"): ("custodian", "consent.lookup", "use_consent", _consent),
    ("POST", "/api/v1/interviews/{interview_id}/reconfirm-consent"): (
        "doc_in",
        "consent.reconfirm",
        "interview",
        _interview,
    ),
    ("GET", "/api/v1/consent-forms"): ("legal_in", "forms.read", "consent_form", _none),
    ("GET", "/api/v1/consent-forms/{form_id}/{version}"): (
        "auditor",
        "forms.read",
        "consent_form",
        lambda _w, _r: "standard",
    ),
    ("GET", "/api/v1/consent-forms/{form_id}/{version}/{language}"): (
        "doc_in",
        "forms.read",
        "consent_form",
        lambda _w, _r: "standard",
    ),
    ("POST", "/api/v1/people/{person_id}/interviews"): ("doc_in", "interview.create", "interview", _from_body("id")),
    ("GET", "/api/v1/people/{person_id}/interviews"): ("doc_in", "interview.list", "interview", _person),
    ("GET", "/api/v1/interviews/{interview_id}"): ("doc_in", "interview.read", "interview", _interview),
    ("PATCH", "/api/v1/interviews/{interview_id}"): ("doc_in", "interview.update", "interview", _interview),
    ("POST", "/api/v1/interviews/{interview_id}/attachments"): (
        "doc_in",
        "attachment.upload",
        "attachment",
        _from_body("id"),
    ),
    ("GET", "/api/v1/interviews/{interview_id}/attachments"): ("doc_in", "attachment.list", "attachment", _recording),
    ("GET", "/api/v1/attachments/{attachment_id}"): ("doc_in", "attachment.read", "attachment", _attachment),
    ("GET", "/api/v1/attachments/{attachment_id}/content"): (
        "doc_in",
        "attachment.download",
        "attachment",
        _attachment,
    ),
    ("POST", "/api/v1/interviews/{interview_id}/uploads"): (
        "doc_in",
        "attachment.upload_open",
        "attachment_upload",
        _from_body("id"),
    ),
    ("GET", "/api/v1/uploads/{upload_id}"): ("doc_in", "attachment.upload_status", "attachment_upload", _upload),
    ("PATCH", "/api/v1/uploads/{upload_id}"): ("doc_in", "attachment.upload", "attachment", _upload),
    ("DELETE", "/api/v1/uploads/{upload_id}"): ("doc_in", "attachment.upload_abandon", "attachment_upload", _upload),
    ("PUT", "/api/v1/interviews/{interview_id}/draft"): ("doc_in", "draft.save", "interview", _interview),
    ("GET", "/api/v1/interviews/{interview_id}/draft"): ("doc_in", "draft.read", "interview", _interview),
    ("POST", "/api/v1/interviews/{interview_id}/statements"): (
        "doc_in",
        "statement.confirm",
        "statement",
        _from_body("id"),
    ),
    ("GET", "/api/v1/interviews/{interview_id}/statements"): ("doc_in", "statement.list", "statement", _interview),
    ("GET", "/api/v1/statements/{statement_id}"): (
        "doc_in",
        "statement.read",
        "statement",
        lambda w, _r: w.statement_id,
    ),
    ("POST", "/api/v1/interviews/{interview_id}/redactions"): (
        "doc_in",
        "redaction.create",
        "redaction",
        _from_body("id"),
    ),
    ("GET", "/api/v1/interviews/{interview_id}/redactions"): ("doc_in", "redaction.list", "redaction", _interview),
    ("GET", "/api/v1/redactions/queue"): ("doc_in", "redaction.queue", "statement", _none),
    ("GET", "/api/v1/redactions/waiting"): ("doc_in", "redaction.waiting", "statement", _none),
    ("GET", "/api/v1/redactions/{redaction_id}"): (
        "doc_in",
        "redaction.read",
        "redaction",
        lambda w, _r: w.redaction_id,
    ),
    ("GET", "/api/v1/redactions/{redaction_id}/review"): (
        "custodian",
        "redaction.review",
        "redaction",
        lambda w, _r: w.redaction_id,
    ),
    ("POST", "/api/v1/interviews/{interview_id}/incidents"): (
        "doc_in",
        "incident.create",
        "incident",
        _from_body("id"),
    ),
    ("GET", "/api/v1/interviews/{interview_id}/incidents"): ("doc_in", "incident.list", "incident", _interview),
    ("GET", "/api/v1/interview-guides/{guide_id}/{version}"): (
        "doc_in",
        "guide.read",
        "interview_guide",
        lambda _w, _r: "standard",
    ),
    ("GET", "/api/v1/incidents/{incident_id}"): ("doc_in", "incident.read", "incident", lambda w, _r: w.incident_id),
    ("GET", "/api/v1/cases/{case_id}/feedback-tasks"): ("doc_in", "feedback.list", "feedback_task", _none),
    ("PATCH", "/api/v1/feedback-tasks/{task_id}"): (
        "doc_in",
        "feedback.update",
        "feedback_task",
        lambda w, _r: w.task_id,
    ),
    ("GET", "/api/v1/recipients"): ("doc_in", "recipient.list", "recipient", _none),
    ("POST", "/api/v1/recipients"): (
        "admin",
        "recipient.create",
        "recipient",
        _from_body("pending_confirmation", "target_id"),
    ),
    ("GET", "/api/v1/recipients/{recipient_id}"): ("legal_out", "recipient.read", "recipient", _recipient),
    ("PATCH", "/api/v1/recipients/{recipient_id}"): ("admin", "recipient.update", "recipient", _recipient),
    ("GET", "/api/v1/deny-list"): ("custodian", "deny_list.read", "deny_list", _none),
    ("PUT", "/api/v1/deny-list"): ("admin", "deny_list.update", "deny_list", _none),
    ("POST", "/api/v1/exports"): ("legal_in", "export.request", "export", _from_body("id")),
    ("POST", "/api/v1/exports/preview"): ("legal_in", "export.preview", "export", _none),
    ("GET", "/api/v1/exports"): ("custodian", "export.list", "export", _none),
    ("GET", "/api/v1/exports/{export_id}"): ("legal_in", "export.read", "export", _export),
    ("GET", "/api/v1/exports/{export_id}/review"): ("custodian", "export.review", "export", _export),
    ("POST", "/api/v1/exports/{export_id}/approve"): ("custodian", "export.approve", "export", _export),
    ("POST", "/api/v1/exports/{export_id}/reject"): ("custodian", "export.reject", "export", _export),
    ("GET", "/api/v1/exports/{export_id}/bundle"): (
        "legal_in",
        "export.download",
        "export",
        lambda w, _r: w.ready_export_id,
    ),
    ("POST", "/api/v1/exports/{export_id}/request-again"): (
        "legal_in",
        "export.request_again",
        "export",
        _from_body("id"),  # the new request made (its copy_of names the stale one)
    ),
    ("POST", "/api/v1/exports/{export_id}/ledger/{ledger_id}/submitted"): (
        "custodian",
        "export.ledger_submitted",
        "export",
        lambda w, _r: w.stale_export_id,
    ),
    ("GET", "/api/v1/retention/due"): ("custodian", "retention.due", "retention_item", _none),
    ("POST", "/api/v1/retention/reviews"): ("custodian", "retention.review", "person", _from_body("person_id")),
    ("GET", "/api/v1/people/reconsent-due"): ("doc_in", "reconsent.list", "person", _none),
    ("GET", "/api/v1/people/{person_id}/disclosure-report"): (
        "custodian",
        "disclosure_report.read",
        "person",
        _person,
    ),
    ("GET", "/api/v1/people/{person_id}/disclosure-report.json"): (
        "custodian",
        "disclosure_report.read",
        "person",
        _person,
    ),
    ("GET", "/api/v1/disclosures"): ("auditor", "ledger.read", "disclosure", _none),
    ("GET", "/api/v1/recalls"): ("custodian", "recall.list", "recall", _none),
    ("POST", "/api/v1/recalls/{recall_id}/sent"): ("custodian", "recall.sent", "recall", lambda w, _r: w.recall_id),
    ("POST", "/api/v1/recalls/{recall_id}/acknowledged"): (
        "custodian",
        "recall.acknowledged",
        "recall",
        lambda w, _r: w.recall_id,
    ),
    ("GET", "/api/v1/feedback-tasks"): ("doc_in", "disclosure_feedback.list", "disclosure_feedback", _none),
    ("POST", "/api/v1/feedback-tasks/{task_id}/outcome"): (
        "doc_in",
        "disclosure_feedback.outcome",
        "disclosure_feedback",
        lambda w, _r: w.disclosure_task_id,
    ),
    ("POST", "/api/v1/people/{person_id}/legal-hold"): ("custodian", "legal_hold.request", "person", _person),
    ("DELETE", "/api/v1/people/{person_id}/legal-hold"): ("custodian", "legal_hold.lift", "person", _person),
    ("POST", "/api/v1/legal-holds/{hold_id}/decision"): (
        "custodian",
        "legal_hold.confirm",
        "legal_hold",
        lambda w, _r: w.hold_id,
    ),
    ("POST", "/api/v1/people/{person_id}/erase"): ("custodian", "erasure.request", "person", _person),
    ("GET", "/api/v1/erasures"): ("custodian", "erasure.list", "erasure", _none),
    ("POST", "/api/v1/erasures/{erasure_id}/decision"): (
        "custodian",
        "erasure.confirm",
        "erasure",
        lambda w, _r: w.erasure_id,
    ),
    ("POST", "/api/v1/erasures/{erasure_id}/refuse"): (
        "custodian",
        "erasure.refuse",
        "erasure",
        lambda w, _r: w.erasure_id,
    ),
    ("GET", "/api/v1/duplicate-reviews"): ("custodian", "duplicate.review", "duplicate_review", _none),
    ("POST", "/api/v1/duplicate-reviews/{review_id}"): (
        "custodian",
        "duplicate.decide",
        "duplicate_review",
        lambda w, _r: w.review_id,
    ),
}


def test_every_protected_route_is_in_the_table(app: FastAPI) -> None:
    assert {(r.method, r.path) for r in protected_routes(app)} == set(ROUTES)


def _events_since(app: FastAPI, seq: int) -> list[AuditEvent]:
    with unit_of_work(app.state.sessionmaker) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)))


def _last_seq(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        last = s.scalar(select(func.max(AuditEvent.seq)))
        return -1 if last is None else int(last)


def _body(world: World, method: str, template: str, who: str) -> Any:
    body, _expected = MATRIX[(method, template)]
    return body(world, who)


@pytest.mark.parametrize(("method", "template"), sorted(ROUTES), ids=lambda v: str(v))
def test_one_event_per_request_allowed_and_denied(world: World, method: str, template: str) -> None:
    app = world.app
    who, action, resource_type, expect = ROUTES[(method, template)]
    path = path_of(template, world)
    case_in_path = str(world.case_id) if "{case_id}" in template else None

    anon_body = _body(world, method, template, "anon")  # a body read from the app records its own event first
    before = _last_seq(app)
    denied = anonymous(app).request(method, path, **body_of(anon_body))
    assert denied.status_code == 401
    [event] = _events_since(app, before)
    assert (event.action, event.resource_type, event.outcome, event.actor) == (
        action,
        resource_type,
        "denied",
        "anonymous",
    )
    assert (str(event.case_id) if event.case_id else None) == case_in_path
    assert event.credential is None

    payload = _body(world, method, template, who)
    if template == "/api/v1/me/totp/confirm":  # success needs an enrolment started first
        secret = world.actors[who].post("/api/v1/me/totp").json()["secret"]
        payload = {"code": code(secret, app)}
    if template == "/api/v1/recalls/{recall_id}/acknowledged":  # a notice is acknowledged once it was sent
        assert world.actors[who].post(path_of("/api/v1/recalls/{recall_id}/sent", world)).status_code == 200
    if (method, template) == ("DELETE", "/api/v1/people/{person_id}/legal-hold"):  # lifted once it holds
        _held(world, who, path)
    before = _last_seq(app)
    allowed = world.actors[who].request(method, path, **body_of(payload))
    assert allowed.status_code < 300, allowed.text
    # Storing a file or confirming a statement first commits to it in a custody entry of its own, which
    # names nothing.
    events = _events_since(app, before)
    commitments = [e for e in events if e.action == "custody.commit"]
    stores = (method, template) in STORING or action == "statement.confirm"
    assert len(commitments) == (1 if stores else 0)
    assert all(c.resource_id is None and c.case_id is None for c in commitments)
    if commitments:
        assert events[0].action == "custody.commit"
    [event] = [e for e in events if e.action != "custody.commit"]
    assert (event.action, event.resource_type, event.outcome) == (action, resource_type, "allowed")
    assert event.actor == f"user:{world.actors[who].user_id}"
    assert event.credential is not None
    assert event.credential.startswith("session:")
    assert event.status == allowed.status_code
    assert event.request_id == allowed.headers["x-request-id"]
    expected_id = expect(world, allowed)
    if expected_id is ANY:
        assert event.resource_id is not None
    else:
        assert event.resource_id == expected_id
    if case_in_path:
        assert str(event.case_id) == case_in_path
    scoped = ("person_id", "interview_id", "task_id", "statement_id", "incident_id", "redaction_id")
    if any(f"{{{name}}}" in template for name in scoped):
        assert event.case_id == world.case_id  # the case of the person or interview, though not in the path


def _held(world: World, who: str, path: str) -> None:
    """A legal hold asked for by ``who`` and confirmed by a second custodian."""
    asked = world.actors[who].post(path, json={"reason": WORLD_REASON, "proceedings_reference": "ICC-01/26"})
    assert asked.status_code == 202, asked.text
    confirmed = second_custodian(world.app, "custodian3").post(
        f"/api/v1/legal-holds/{asked.json()['id']}/decision", json={"confirm": True}
    )
    assert confirmed.status_code == 200, confirmed.text


def test_denied_by_role_and_by_need_to_know_are_recorded(world: World) -> None:
    app = world.app
    before = _last_seq(app)
    assert world.actors["doc_in"].get("/api/v1/users").status_code == 403
    assert world.actors["doc_out"].get(f"/api/v1/cases/{world.case_id}").status_code == 404
    role, need = _events_since(app, before)
    assert (role.action, role.outcome, role.status) == ("user.list", "denied", 403)
    assert (need.action, need.outcome, need.status, need.case_id) == ("case.read", "denied", 404, world.case_id)
    assert need.actor == f"user:{world.actors['doc_out'].user_id}"


def test_login_success_and_failure_never_store_the_attempted_name(app: FastAPI) -> None:
    before = _last_seq(app)
    name = "canary-Պետրոսյան-zq9"
    r = anonymous(app).post("/api/v1/auth/login", json={"username": name, "password": "canary-pass-zq9"})
    assert r.status_code == 401
    [event] = _events_since(app, before)
    assert (event.action, event.outcome, event.resource_id) == ("auth.login_failed", "denied", None)
    assert b"zq9" not in event.entry
    assert event.client is not None
    assert "testclient" not in event.entry.decode()  # the address is stored as an HMAC


def test_query_strings_of_the_table_are_valid(app: FastAPI) -> None:
    assert set(QUERY) <= {t for _m, t in ROUTES}


def test_events_name_the_token_that_acted(app: FastAPI) -> None:
    from app.access.roles import Role
    from tests.support.actors import actor

    admin = actor(app, "tok", [Role.ADMIN])
    made = admin.post("/api/v1/auth/tokens", json={"name": "script"}).json()
    before = _last_seq(app)
    assert anonymous(app).get("/api/v1/users", headers={"authorization": f"Bearer {made['token']}"}).status_code == 200
    [event] = _events_since(app, before)
    assert event.credential == f"token:{made['id']}"
    auditor = actor(app, "aud", [Role.AUDITOR])
    found = auditor.get(f"/api/v1/audit/events?credential=token:{made['id']}").json()["events"]
    # Its trail starts where it was made (by the admin's session) and goes on with what it did.
    assert [(e["action"], e["credential"], e["new_credential"]) for e in found] == [
        ("token.create", found[0]["credential"], f"token:{made['id']}"),
        ("user.list", f"token:{made['id']}", None),
    ]
    assert found[0]["credential"].startswith("session:")


def test_malformed_path_ids_are_404_and_never_stored_verbatim(app: FastAPI) -> None:
    from app.access.roles import Role
    from tests.support.actors import actor

    doc = actor(app, "probe", [Role.DOCUMENTER])
    before = _last_seq(app)
    junk = "x" * 70 + "<script>"
    assert doc.get(f"/api/v1/people/{junk}").status_code == 404
    assert doc.get(f"/api/v1/cases/{'y' * 200}").status_code == 404
    first, second = _events_since(app, before)
    assert (first.action, first.outcome, first.resource_id) == ("person.read", "denied", None)
    assert (second.action, second.outcome, second.resource_id, second.case_id) == ("case.read", "denied", None, None)
