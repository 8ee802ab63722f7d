"""Logging in, second factors, sessions, tokens and throttling, through the real app."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import APIRouter, FastAPI, File, UploadFile
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.access import policy, totp
from app.access.deps import CurrentPrincipal
from app.access.models import BrowserSession, User
from app.access.passwords import Passwords
from app.access.roles import Role
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute
from app.core.config import PasswordHashSettings, Settings
from app.core.db import db_now, unit_of_work
from app.core.errors import ConfigError
from app.keys.store import Keys
from app.main import create_app
from tests.conftest import production
from tests.support.actors import PASSWORD, actor, anonymous, code, login, make_user, now, shift_clock

LOGIN = "/api/v1/auth/login"


def test_login_me_logout(app: FastAPI) -> None:
    doc = actor(app, "dana", [Role.DOCUMENTER])
    me = doc.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "dana"
    assert me.json()["roles"] == ["documenter"]
    cookie = doc.client.cookies.get("testimony_session")
    assert cookie
    assert cookie.startswith("tvs_")
    assert doc.post("/api/v1/auth/logout").status_code == 204
    # The old cookie value no longer works even if replayed.
    replay = anonymous(app)
    replay.cookies.set("testimony_session", cookie)
    assert replay.get("/api/v1/me").status_code == 401


def test_cookie_flags_outside_development(settings: Settings, keys: Keys) -> None:
    app = create_app(production(settings), keys)
    make_user(app, "prod", [Role.DOCUMENTER], with_totp=False)
    client = anonymous(app)
    r = client.post(LOGIN, json={"username": "prod", "password": PASSWORD})
    assert r.status_code == 200
    header = r.headers["set-cookie"]
    assert header.startswith("__Host-testimony_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag.lower() in header.lower()
    assert "domain=" not in header.lower()
    app.state.engine.dispose()


def test_wrong_password_wrong_code_and_unknown_user_look_the_same(app: FastAPI) -> None:
    _, secret = make_user(app, "carla", [Role.CUSTODIAN])
    assert secret is not None
    client = anonymous(app)
    answers = [
        client.post(LOGIN, json={"username": "carla", "password": "wrong password here", "totp": code(secret, app)}),
        client.post(LOGIN, json={"username": "carla", "password": PASSWORD, "totp": "000000"}),
        client.post(LOGIN, json={"username": "carla", "password": PASSWORD}),
        client.post(LOGIN, json={"username": "nobody-here", "password": PASSWORD, "totp": "123456"}),
    ]
    assert {a.status_code for a in answers} == {401}
    bodies = {(a.json()["title"], a.json()["detail"]) for a in answers}
    assert len(bodies) == 1


def test_totp_code_cannot_be_replayed(app: FastAPI) -> None:
    _, secret = make_user(app, "ada", [Role.ADMIN])
    assert secret is not None
    used = code(secret, app)
    first = anonymous(app).post(LOGIN, json={"username": "ada", "password": PASSWORD, "totp": used})
    assert first.status_code == 200
    replay = anonymous(app).post(LOGIN, json={"username": "ada", "password": PASSWORD, "totp": used})
    assert replay.status_code == 401


def test_recovery_code_works_once(app: FastAPI) -> None:
    doc = actor(app, "rita", [Role.DOCUMENTER], with_totp=False)
    assert doc.post("/api/v1/me/totp").status_code == 200
    with unit_of_work(app.state.sessionmaker) as s:
        user = s.scalars(select(User).where(User.username == "rita")).one()
        assert user.totp_secret is not None
        assert b"rita" not in user.totp_secret
    enrol = doc.post("/api/v1/me/totp")  # restarting enrolment makes a new secret
    secret = enrol.json()["secret"]
    assert enrol.json()["qr_svg"].startswith("<svg")
    assert enrol.json()["otpauth_uri"].startswith("otpauth://totp/")
    confirmed = doc.post("/api/v1/me/totp/confirm", json={"code": code(secret, app)})
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    assert all(re.fullmatch(r"[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}", c) for c in codes)
    body = {"username": "rita", "password": PASSWORD, "recovery_code": codes[0]}
    assert anonymous(app).post(LOGIN, json=body).status_code == 200
    assert anonymous(app).post(LOGIN, json=body).status_code == 401


def test_enrolment_is_required_for_oversight_roles(app: FastAPI) -> None:
    aud = actor(app, "otto", [Role.AUDITOR], with_totp=False)
    me = aud.get("/api/v1/me").json()
    assert me["must_enrol_totp"] is True
    blocked = aud.get("/api/v1/cases")
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "totp_enrolment_required"
    secret = aud.post("/api/v1/me/totp").json()["secret"]
    confirmed = aud.post("/api/v1/me/totp/confirm", json={"code": code(secret, app)})
    assert confirmed.status_code == 200
    aud.csrf = confirmed.json()["csrf_token"]
    assert aud.get("/api/v1/me").json()["must_enrol_totp"] is False


def test_session_is_rotated_after_second_factor(app: FastAPI) -> None:
    doc = actor(app, "tom", [Role.DOCUMENTER], with_totp=False)
    before = doc.client.cookies.get("testimony_session")
    secret = doc.post("/api/v1/me/totp").json()["secret"]
    r = doc.post("/api/v1/me/totp/confirm", json={"code": code(secret, app)})
    after = doc.client.cookies.get("testimony_session")
    assert before != after
    stale = anonymous(app)
    stale.cookies.set("testimony_session", before or "")
    assert stale.get("/api/v1/me").status_code == 401
    doc.csrf = r.json()["csrf_token"]
    assert doc.get("/api/v1/me").status_code == 200


def test_idle_timeout_ends_the_session(app: FastAPI) -> None:
    doc = actor(app, "ida", [Role.DOCUMENTER])
    shift_clock(app, timedelta(minutes=29))
    assert doc.get("/api/v1/me").status_code == 200  # activity renews the idle timer
    shift_clock(app, timedelta(minutes=29))
    assert doc.get("/api/v1/me").status_code == 200
    shift_clock(app, timedelta(minutes=31))
    assert doc.get("/api/v1/me").status_code == 401
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalars(select(BrowserSession)).all() == []  # the dead session was removed


def test_absolute_timeout_ends_the_session(app: FastAPI) -> None:
    doc = actor(app, "abe", [Role.DOCUMENTER])
    for _ in range(25):
        shift_clock(app, timedelta(minutes=29))
        if doc.get("/api/v1/me").status_code != 200:
            break
    else:
        pytest.fail("the session outlived its absolute timeout")
    assert doc.get("/api/v1/me").status_code == 401


def test_admin_revocation_ends_sessions_and_tokens(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    doc = actor(app, "lost", [Role.DOCUMENTER])
    token = doc.post("/api/v1/auth/tokens", json={"name": "script", "scope": "read"}).json()["token"]
    bearer = anonymous(app)
    assert bearer.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert admin.post(f"/api/v1/users/{doc.user_id}/revoke-sessions").status_code == 200
    assert doc.get("/api/v1/me").status_code == 401
    assert bearer.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_tokens_are_shown_once_scoped_and_revocable(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    made = admin.post("/api/v1/auth/tokens", json={"name": "reports", "scope": "read", "expires_in_days": 7})
    assert made.status_code == 201
    secret = made.json()["token"]
    listed = admin.get("/api/v1/auth/tokens").json()["items"]
    assert [t["name"] for t in listed] == ["reports"]
    assert "token" not in listed[0]
    script = anonymous(app)
    auth = {"authorization": f"Bearer {secret}"}
    assert script.get("/api/v1/users", headers=auth).status_code == 200
    read_only = script.post("/api/v1/cases", headers=auth, json={"code": "RO-1", "title": "x"})
    assert read_only.status_code == 403
    assert admin.request("DELETE", f"/api/v1/auth/tokens/{made.json()['id']}").status_code == 204
    assert script.get("/api/v1/users", headers=auth).status_code == 401


def test_token_expires(app: FastAPI) -> None:
    doc = actor(app, "exp", [Role.DOCUMENTER])
    secret = doc.post("/api/v1/auth/tokens", json={"name": "s", "expires_in_days": 1}).json()["token"]
    shift_clock(app, timedelta(days=1, seconds=1))
    assert anonymous(app).get("/api/v1/me", headers={"authorization": f"Bearer {secret}"}).status_code == 401


def test_login_can_return_a_token_instead_of_a_session(app: FastAPI) -> None:
    _, secret = make_user(app, "bot", [Role.DOCUMENTER])
    assert secret is not None
    body = {"username": "bot", "password": PASSWORD, "totp": code(secret, app), "token": True}
    r = anonymous(app).post(LOGIN, json=body)
    assert r.status_code == 200
    token = r.json()["token"]["token"]
    assert token.startswith("tvt_")
    assert "set-cookie" not in r.headers
    assert r.json()["user"]["csrf_token"] is None
    assert anonymous(app).get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 200


def test_throttling_is_per_account_and_address(app: FastAPI) -> None:
    make_user(app, "cust", [Role.CUSTODIAN], with_totp=False)
    attacker = anonymous(app)
    bad = {"username": "cust", "password": "definitely not it"}
    answers = [attacker.post(LOGIN, json=bad).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
    limited = attacker.post(LOGIN, json={"username": "cust", "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    # The same account still logs in from elsewhere: no lockout by a third party.
    assert login(app, "cust", None, address="10.9.8.7").get("/api/v1/me").status_code == 200
    # An unknown account is throttled exactly the same way.
    ghost = {"username": "ghost", "password": "whatever it is"}
    ghost_answers = [attacker.post(LOGIN, json=ghost).status_code for _ in range(6)]
    assert ghost_answers == [401] * 5 + [429]


def test_forwarded_for_is_trusted_only_from_configured_proxies(app: FastAPI) -> None:
    app.state.runtime.settings.trusted_proxies.append("127.0.0.1/32")
    make_user(app, "prox", [Role.DOCUMENTER])
    bad = {"username": "prox", "password": "definitely not it"}
    via_proxy = anonymous(app)
    via_proxy.__init__(app, base_url="https://testserver", raise_server_exceptions=False, client=("127.0.0.1", 1))  # type: ignore[misc]
    for i in range(5):
        r = via_proxy.post(LOGIN, json=bad, headers={"x-forwarded-for": f"203.0.113.{i}"})
        assert r.status_code == 401
    # Five different real clients: none of them has used up its own budget.
    assert via_proxy.post(LOGIN, json=bad, headers={"x-forwarded-for": "203.0.113.99"}).status_code == 401
    # A client that is not a trusted proxy cannot choose its address with the header.
    direct = anonymous(app)
    answers = [
        direct.post(LOGIN, json=bad, headers={"x-forwarded-for": f"198.51.100.{i}"}).status_code for i in range(6)
    ]
    assert answers[-1] == 429


def test_password_hash_uses_production_argon2id_parameters() -> None:
    defaults = PasswordHashSettings()
    hasher = Passwords.from_settings(defaults)
    stored = hasher.hash("a long test passphrase 42")
    m = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert m is not None
    memory, time_cost, parallelism = map(int, m.groups())
    assert memory >= 19456
    assert time_cost >= 2
    assert parallelism >= 1
    assert hasher.verify(stored, "a long test passphrase 42")


def test_login_rehashes_when_parameters_change(app: FastAPI) -> None:
    make_user(app, "old", [Role.DOCUMENTER], with_totp=False)
    with unit_of_work(app.state.sessionmaker) as s:
        user = s.scalars(select(User).where(User.username == "old")).one()
        weak = Passwords.from_settings(PasswordHashSettings(time_cost=1, memory_kib=128, parallelism=1))
        user.password_hash = weak.hash(PASSWORD)
        before = user.password_hash
    assert anonymous(app).post(LOGIN, json={"username": "old", "password": PASSWORD}).status_code == 200
    with unit_of_work(app.state.sessionmaker) as s:
        after = s.scalars(select(User.password_hash).where(User.username == "old")).one()
    assert after != before
    assert ",t=1,p=1$" not in after or "m=256" in after  # now at the configured cost


def test_first_login_with_one_time_password_must_change_it(app: FastAPI) -> None:
    admin, second = actor(app, "adm", [Role.ADMIN]), actor(app, "adm2", [Role.ADMIN])
    made = admin.post("/api/v1/users", json={"username": "newbie", "display_name": "N", "roles": []})
    asked = made.json()["pending_confirmation"]["id"]
    half = second.post(f"/api/v1/confirmations/{asked}", json={"decision": "confirm"}).json()["one_time_password_half"]
    otp = made.json()["one_time_password_half"] + half
    client = anonymous(app)
    r = client.post(LOGIN, json={"username": "newbie", "password": otp})
    assert r.status_code == 200
    csrf = {"x-csrf-token": r.json()["user"]["csrf_token"]}
    assert r.json()["user"]["must_change_password"] is True
    assert client.get("/api/v1/cases", headers=csrf).status_code == 403
    short = client.post("/api/v1/me/password", headers=csrf, json={"current_password": otp, "new_password": "short"})
    assert short.status_code == 422
    assert short.json()["fields"] == ["new_password"]
    changed = client.post("/api/v1/me/password", headers=csrf, json={"current_password": otp, "new_password": PASSWORD})
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False
    csrf = {"x-csrf-token": changed.json()["csrf_token"]}
    unchanged = {"current_password": PASSWORD, "new_password": PASSWORD}
    same = client.post("/api/v1/me/password", headers=csrf, json=unchanged)
    assert same.status_code == 422  # a new password must differ from the current one
    assert same.json()["fields"] == ["new_password"]
    assert anonymous(app).post(LOGIN, json={"username": "newbie", "password": otp}).status_code == 401


# CSRF and step-up on test-only routes, until uploads and export approval exist.


def _install_probe_routes(app: FastAPI) -> None:
    router = APIRouter(prefix="/api/v1/test-probe", route_class=UnitOfWorkRoute)

    @router.post("/upload")
    def upload(principal: CurrentPrincipal, file: UploadFile = File(...)) -> dict[str, int]:  # noqa: B008
        return {"size": file.size or 0}

    @router.post("/approve")
    def approve(principal: CurrentPrincipal, session: DbSession) -> dict[str, bool]:
        policy.require_step_up(principal, policy.Action.CONFIRMATION_DECIDE, db_now(session))
        return {"approved": True}

    app.include_router(router)


def test_csrf_is_enforced_on_a_multipart_post(app: FastAPI) -> None:
    _install_probe_routes(app)
    doc = actor(app, "csrf", [Role.DOCUMENTER])
    files = {"file": ("a.txt", b"hello", "text/plain")}
    assert doc.client.post("/api/v1/test-probe/upload", files=files).status_code == 403
    assert (
        doc.client.post("/api/v1/test-probe/upload", files=files, headers={"x-csrf-token": "x" * 64}).status_code == 403
    )
    # The token as a form's first field is for the attachment upload only: every other route wants the header.
    as_field = doc.client.post("/api/v1/test-probe/upload", data={"csrf_token": doc.csrf or ""}, files=files)
    assert (as_field.status_code, as_field.json()["code"]) == (403, "csrf")
    ok = doc.post("/api/v1/test-probe/upload", files=files)
    assert ok.status_code == 200
    assert ok.json() == {"size": 5}


def test_step_up_is_required_and_a_bearer_token_cannot_approve(app: FastAPI) -> None:
    _install_probe_routes(app)
    _, secret = make_user(app, "cus", [Role.CUSTODIAN])
    assert secret is not None
    cus = login(app, "cus", secret)
    assert cus.post("/api/v1/test-probe/approve").status_code == 200  # fresh from login
    shift_clock(app, timedelta(minutes=6))
    stale = cus.post("/api/v1/test-probe/approve")
    assert stale.status_code == 403
    assert stale.json()["code"] == "step_up_required"
    wrong = cus.post("/api/v1/auth/step-up", json={"totp": "000000"})
    assert wrong.status_code == 403
    stepped = cus.post("/api/v1/auth/step-up", json={"totp": code(secret, app)})
    assert stepped.status_code == 200, stepped.text
    cus.csrf = stepped.json()["csrf_token"]
    assert cus.post("/api/v1/test-probe/approve").status_code == 200
    token = cus.post("/api/v1/auth/tokens", json={"name": "t", "scope": "write"}).json()["token"]
    bearer = anonymous(app).post("/api/v1/test-probe/approve", headers={"authorization": f"Bearer {token}"})
    assert bearer.status_code == 403
    assert bearer.json()["code"] == "step_up_required"


def test_totp_verify_accepts_drift_and_refuses_old_steps() -> None:
    from datetime import UTC, datetime

    secret = totp.new_secret()
    at = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    step = totp.time_step(at)
    assert totp.verify(secret, totp.code_at(secret, at), at, None) == step
    earlier = at - timedelta(seconds=30)
    assert totp.verify(secret, totp.code_at(secret, earlier), at, None) == step - 1
    assert totp.verify(secret, totp.code_at(secret, at - timedelta(seconds=90)), at, None) is None
    assert totp.verify(secret, totp.code_at(secret, at), at, step) is None
    assert totp.verify(secret, "12345", at, None) is None


def test_documenters_need_a_second_factor_by_default(app: FastAPI) -> None:
    doc = actor(app, "strict", [Role.DOCUMENTER], with_totp=False)
    assert doc.get("/api/v1/me").json()["must_enrol_totp"] is True
    assert doc.get("/api/v1/cases").json()["code"] == "totp_enrolment_required"
    # A read token cannot be made either: until enrolment the login may only enrol.
    assert doc.post("/api/v1/auth/tokens", json={"name": "s"}).json()["code"] == "totp_enrolment_required"


def test_only_development_may_relax_the_second_factor_for_documenters_only(
    settings: Settings, keys: Keys, app: FastAPI
) -> None:
    app.state.runtime.settings.session.documenter_totp_required = False  # the test app runs in development mode
    doc = actor(app, "relaxed", [Role.DOCUMENTER], with_totp=False)
    assert doc.get("/api/v1/me").json()["must_enrol_totp"] is False
    custodian = actor(app, "still", [Role.CUSTODIAN], with_totp=False)
    assert custodian.get("/api/v1/me").json()["must_enrol_totp"] is True
    relaxed = production(settings, session=settings.session.model_copy(update={"documenter_totp_required": False}))
    with pytest.raises(ConfigError, match="DOCUMENTER_TOTP_REQUIRED"):
        create_app(relaxed, keys)


def test_login_sweeps_dead_sessions(app: FastAPI) -> None:
    first = actor(app, "sweep", [Role.DOCUMENTER], with_totp=False)
    assert first.get("/api/v1/me").status_code == 200
    shift_clock(app, timedelta(minutes=31))
    login(app, "sweep", None)
    with unit_of_work(app.state.sessionmaker) as s:
        assert len(s.scalars(select(BrowserSession)).all()) == 1  # only the new one is left


def test_rotation_keeps_the_absolute_expiry_and_the_factor_time(app: FastAPI) -> None:
    _, secret = make_user(app, "keeper", [Role.CUSTODIAN])
    assert secret is not None
    cus = login(app, "keeper", secret)
    with unit_of_work(app.state.sessionmaker) as s:
        [first] = s.scalars(select(BrowserSession)).all()
        expiry, factor = first.expires_at, first.second_factor_at
    shift_clock(app, timedelta(minutes=20))
    stepped = cus.post("/api/v1/auth/step-up", json={"totp": code(secret, app)})
    assert stepped.status_code == 200
    cus.csrf = stepped.json()["csrf_token"]
    changed = cus.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "a new long passphrase 99"}
    )
    assert changed.status_code == 200
    with unit_of_work(app.state.sessionmaker) as s:
        [now_row] = s.scalars(select(BrowserSession)).all()
    assert now_row.expires_at == expiry  # rotation never extends the 12-hour limit
    assert factor is not None
    assert now_row.second_factor_at is not None
    assert now_row.second_factor_at > factor  # from the step-up, not from the password change


def test_wrong_current_password_is_throttled(app: FastAPI) -> None:
    doc = actor(app, "guess", [Role.DOCUMENTER])
    bad = {"current_password": "not the password", "new_password": "a new long passphrase 99"}
    answers = [doc.post("/api/v1/me/password", json=bad).status_code for _ in range(6)]
    assert answers == [403] * 5 + [429]


def test_a_wrong_current_password_spends_the_accounts_login_budget(app: FastAPI) -> None:
    doc = actor(app, "shared", [Role.DOCUMENTER])
    client = anonymous(app)  # the same address as the session
    for _ in range(4):
        assert client.post(LOGIN, json={"username": "shared", "password": "not the password"}).status_code == 401
    wrong = {"current_password": "still not it", "new_password": "a long new passphrase 8"}
    assert doc.post("/api/v1/me/password", json=wrong).status_code == 403
    assert doc.post("/api/v1/me/password", json=wrong).status_code == 429  # the sixth guess, however it is made
    assert client.post(LOGIN, json={"username": "shared", "password": "not the password"}).status_code == 429


def test_ipv6_clients_are_counted_by_their_64_network(settings: Settings, keys: Keys) -> None:
    proxied = create_app(settings.model_copy(update={"trusted_proxies": ["127.0.0.1/32"]}), keys)
    make_user(proxied, "sixer", [Role.CUSTODIAN])
    client = TestClient(proxied, base_url="https://testserver", raise_server_exceptions=False, client=("127.0.0.1", 1))
    answers = [
        client.post(
            LOGIN,
            json={"username": "sixer", "password": "not the password"},
            headers={"x-forwarded-for": f"2001:db8:1:2::{i:x}"},
        ).status_code
        for i in range(6)
    ]
    assert answers == [401] * 5 + [429]
    other_network = client.post(
        LOGIN,
        json={"username": "sixer", "password": "not the password"},
        headers={"x-forwarded-for": "2001:db8:1:3::1"},
    )
    assert other_network.status_code == 401
    proxied.state.engine.dispose()


def test_enrolling_a_second_factor_ends_the_sessions_opened_with_the_password_alone(app: FastAPI) -> None:
    _, _ = make_user(app, "late-enrol", [Role.DOCUMENTER], with_totp=False)
    enrolling = login(app, "late-enrol", None)
    other = login(app, "late-enrol", None)
    secret = enrolling.post("/api/v1/me/totp").json()["secret"]
    confirmed = enrolling.post("/api/v1/me/totp/confirm", json={"code": code(secret, app)})
    assert confirmed.status_code == 200
    enrolling.csrf = confirmed.json()["csrf_token"]
    assert enrolling.get("/api/v1/me").json()["must_enrol_totp"] is False
    assert other.get("/api/v1/me").status_code == 401


def test_forwarded_addresses_count_without_port_or_zone_and_never_as_free_text(settings: Settings, keys: Keys) -> None:
    from app.core.http import address_of, client_address

    assert address_of("10.51.0.1:1111") == address_of("10.51.0.1:2222") == "10.51.0.1"
    assert address_of("[2001:db8:9::1]:443") == address_of("2001:db8:9::1%eth0") == "2001:db8:9::1"
    assert address_of("not an address") is None
    trusted = ["127.0.0.1/32"]
    assert client_address("127.0.0.1", "garbage-name", trusted) == "127.0.0.1"  # counts as the proxy
    proxied = create_app(settings.model_copy(update={"trusted_proxies": trusted}), keys)
    make_user(proxied, "ported", [Role.CUSTODIAN])
    client = TestClient(proxied, base_url="https://testserver", raise_server_exceptions=False, client=("127.0.0.1", 1))
    bad = {"username": "ported", "password": "not the password"}
    answers = [
        client.post(LOGIN, json=bad, headers={"x-forwarded-for": f"10.51.0.1:{1000 + i}"}).status_code for i in range(6)
    ]
    assert answers == [401] * 5 + [429]
    proxied.state.engine.dispose()


def test_a_sessions_last_seen_time_is_written_at_most_once_a_minute(app: FastAPI) -> None:
    doc = actor(app, "seen", [Role.DOCUMENTER])

    def last_seen() -> object:
        with unit_of_work(app.state.sessionmaker) as s:
            return s.scalars(select(BrowserSession.last_seen_at).where(BrowserSession.user_id == doc.user_id)).one()

    first = last_seen()
    for _ in range(3):
        assert doc.get("/api/v1/me").status_code == 200
    assert last_seen() == first  # no write, so a session's own requests never queue on its row
    shift_clock(app, timedelta(seconds=61))
    assert doc.get("/api/v1/me").status_code == 200
    assert last_seen() != first


def test_a_code_of_non_ascii_digits_is_refused_not_a_500(app: FastAPI) -> None:
    """str.isdigit() is true for Arabic-Indic and other digits, which compare_digest refuses as str."""
    _, secret = make_user(app, "nadia", [Role.CUSTODIAN])
    assert secret is not None
    for digits in ("١٢٣٤٥٦", "\uff11\uff12\uff13\uff14\uff15\uff16", "۱۲۳۴۵۶"):  # Arabic-Indic, full-width, Persian
        r = anonymous(app).post(LOGIN, json={"username": "nadia", "password": PASSWORD, "totp": digits})
        assert (r.status_code, r.headers["content-type"]) == (401, "application/problem+json"), r.text
    cus = login(app, "nadia", secret)
    r = cus.post("/api/v1/auth/step-up", json={"totp": "١٢٣٤٥٦"})
    assert (r.status_code, r.headers["content-type"]) == (403, "application/problem+json"), r.text
    assert totp.verify(secret, "١٢٣٤٥٦", now(app), None) is None
