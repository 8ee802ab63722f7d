"""The credential chain: which session or token acted, which one a refused request presented,
and which one each login or renewal made, so that an auditor can follow one from start to end."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.roles import Role
from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from tests.support.actors import PASSWORD, actor, anonymous, code, make_user


def _last_seq(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        last = s.scalar(select(func.max(AuditEvent.seq)))
        return -1 if last is None else int(last)


def _since(app: FastAPI, seq: int) -> list[AuditEvent]:
    with unit_of_work(app.state.sessionmaker) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)))


def _session_of(app: FastAPI, event: AuditEvent) -> str:
    assert event.new_credential is not None
    assert event.new_credential.startswith("session:")
    return event.new_credential


def test_a_forged_request_names_the_presented_session_but_never_as_actor(app: FastAPI) -> None:
    doc = actor(app, "victim", [Role.DOCUMENTER])
    before = _last_seq(app)
    forged = doc.client.post("/api/v1/auth/tokens", json={"name": "x"})  # the cookie, without the CSRF header
    assert forged.status_code == 403
    malformed = doc.client.post(
        "/api/v1/auth/tokens",
        content=b"{not json",
        headers={"content-type": "application/json", "x-csrf-token": doc.csrf or ""},
    )
    assert malformed.status_code == 422
    csrf_event, json_event = _since(app, before)
    me = doc.get("/api/v1/me")
    [read] = _since(app, json_event.seq)
    assert me.status_code == 200
    assert read.credential is not None
    assert read.credential.startswith("session:")
    assert (csrf_event.outcome, csrf_event.status, json_event.outcome, json_event.status) == (
        "denied",
        403,
        "failed",
        422,
    )
    for event in (csrf_event, json_event):
        assert (event.actor, event.credential) == ("anonymous", None)
        assert event.claimed_credential == read.credential
    assert b"claimed_credential" in csrf_event.entry  # part of the signed entry, not only a column


def test_a_refused_request_with_a_token_names_the_token(app: FastAPI) -> None:
    doc = actor(app, "scripted", [Role.DOCUMENTER])
    made = doc.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"}).json()
    before = _last_seq(app)
    r = anonymous(app).post(
        "/api/v1/auth/tokens",
        content=b"[",
        headers={"authorization": f"Bearer {made['token']}", "content-type": "application/json"},
    )
    assert r.status_code == 422
    [event] = _since(app, before)
    assert (event.actor, event.claimed_credential) == ("anonymous", f"token:{made['id']}")
    unknown = anonymous(app).get("/api/v1/me", headers={"authorization": "Bearer tvt_not-a-token"})
    assert unknown.status_code == 401
    [event] = _since(app, event.seq)
    assert event.claimed_credential is None


def test_an_auditor_follows_one_session_from_login_through_renewals_to_logout(app: FastAPI) -> None:
    _, secret = make_user(app, "walker", [Role.CUSTODIAN])
    assert secret is not None
    before = _last_seq(app)
    client = anonymous(app)
    login = client.post(
        "/api/v1/auth/login", json={"username": "walker", "password": PASSWORD, "totp": code(secret, app)}
    )
    assert login.status_code == 200
    csrf: dict[str, Any] = {"x-csrf-token": login.json()["user"]["csrf_token"]}
    [login_event] = _since(app, before)
    assert login_event.action == "auth.login"
    first = _session_of(app, login_event)
    assert client.get("/api/v1/me", headers=csrf).status_code == 200
    stepped = client.post("/api/v1/auth/step-up", headers=csrf, json={"totp": code(secret, app, steps=1)})
    assert stepped.status_code == 200
    csrf = {"x-csrf-token": stepped.json()["csrf_token"]}
    changed = client.post(
        "/api/v1/me/password",
        headers=csrf,
        json={"current_password": PASSWORD, "new_password": "a different long passphrase 9"},
    )
    assert changed.status_code == 200
    csrf = {"x-csrf-token": changed.json()["csrf_token"]}
    assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 204
    _, read, step_up, password, logout = _since(app, before)
    assert (read.action, read.credential) == ("me.read", first)
    assert (step_up.action, step_up.credential) == ("auth.step_up", first)
    second = _session_of(app, step_up)
    assert (password.action, password.credential) == ("me.password_change", second)
    third = _session_of(app, password)
    assert len({first, second, third}) == 3
    assert (logout.action, logout.credential, logout.new_credential) == ("auth.logout", third, None)

    auditor = actor(app, "watcher", [Role.AUDITOR])
    trail: list[str] = []
    credential = first
    while credential:
        events = auditor.get("/api/v1/audit/events", params={"credential": credential}).json()["events"]
        trail += [e["action"] for e in events]
        renewed = [e["new_credential"] for e in events if e["new_credential"] and e["new_credential"] != credential]
        credential = renewed[0] if renewed else ""
    assert trail == [
        "auth.login",
        "me.read",
        "auth.step_up",
        "auth.step_up",
        "me.password_change",
        "me.password_change",
        "auth.logout",
    ]


def test_enrolling_a_second_factor_renews_the_session_and_names_both(app: FastAPI) -> None:
    make_user(app, "enroller", [Role.CUSTODIAN], with_totp=False)
    before = _last_seq(app)
    client = anonymous(app)
    login = client.post("/api/v1/auth/login", json={"username": "enroller", "password": PASSWORD})
    assert login.json()["user"]["must_enrol_totp"] is True
    csrf = {"x-csrf-token": login.json()["user"]["csrf_token"]}
    secret = client.post("/api/v1/me/totp", headers=csrf).json()["secret"]
    confirmed = client.post("/api/v1/me/totp/confirm", headers=csrf, json={"code": code(secret, app)})
    assert confirmed.status_code == 200, confirmed.text
    csrf = {"x-csrf-token": confirmed.json()["csrf_token"]}
    assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 204
    login_event, enrol, confirm, logout = _since(app, before)
    first = _session_of(app, login_event)
    assert (enrol.action, enrol.credential, enrol.new_credential) == ("me.totp_enrol", first, None)
    assert (confirm.action, confirm.credential) == ("me.totp_confirm", first)
    second = _session_of(app, confirm)
    assert second != first
    assert (logout.action, logout.credential) == ("auth.logout", second)


def test_numbers_past_64_bits_in_audit_queries_are_422(app: FastAPI) -> None:
    auditor = actor(app, "counter", [Role.AUDITOR])
    huge = str(2**63)
    for path in (
        f"/api/v1/audit/events?after={huge}",
        f"/api/v1/audit/checkpoints?size={huge}",
        f"/api/v1/audit/proofs/inclusion?index=0&tree_size={huge}",
        f"/api/v1/audit/proofs/consistency?first=1&second={huge}",
    ):
        r = auditor.get(path)
        assert r.status_code == 422, path
        assert huge not in r.text


def test_an_auditor_resolves_an_actor_id_to_a_name_and_the_lookup_is_logged(app: FastAPI) -> None:
    doc = actor(app, "named", [Role.DOCUMENTER])
    auditor = actor(app, "resolver", [Role.AUDITOR])
    before = _last_seq(app)
    r = auditor.get(f"/api/v1/audit/actors/{doc.user_id}")
    assert r.status_code == 200
    assert r.json() == {
        "id": str(doc.user_id),
        "actor": f"user:{doc.user_id}",
        "username": "named",
        "display_name": "named",
        "roles": ["documenter"],
        "active": True,
    }
    [event] = _since(app, before)
    assert (event.action, event.resource_type, event.resource_id) == ("audit.read", "user", str(doc.user_id))
    assert b"named" not in event.entry  # the log keeps the id, never the name
    assert doc.get(f"/api/v1/audit/actors/{auditor.user_id}").status_code == 403


def test_a_failed_login_names_the_account_it_targeted_when_there_is_one(app: FastAPI) -> None:
    user_id, _ = make_user(app, "targeted", [Role.CUSTODIAN])
    before = _last_seq(app)
    for username in ("targeted", "nobody-by-that-name"):
        r = anonymous(app).post("/api/v1/auth/login", json={"username": username, "password": "a wrong guess"})
        assert r.status_code == 401
    known, unknown = _since(app, before)
    assert (known.action, known.resource_id) == ("auth.login_failed", str(user_id))
    assert (unknown.action, unknown.resource_id) == ("auth.login_failed", None)
    assert b"nobody-by-that-name" not in unknown.entry
