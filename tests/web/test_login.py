"""The login journey through the pages, as a browser without JavaScript: password and second factor,
enrolment with the QR code and recovery codes, the forced password change, an ended session, logout."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import func, select

from app.access import totp
from app.access.principal import Principal
from app.access.roles import Role
from app.accounts.service import reset_password
from app.audit.models import AuditEvent
from app.core.config import Settings
from app.core.db import unit_of_work
from app.keys.store import Keys
from app.main import create_app
from tests.conftest import production
from tests.support.actors import PASSWORD, code, make_user, runtime, shift_clock
from tests.support.pages import browser, page_login, submit, token_in

NEW_PASSWORD = "a brand new passphrase for the field office"


def _events(app: FastAPI, action: str) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0)


def test_password_and_second_factor_open_the_start_page(app: FastAPI) -> None:
    make_user(app, "ani", [Role.DOCUMENTER], display_name="Ani Documenter")
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER], display_name="Lusine")
    client, answer = page_login(app, "lusine", secret)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    start = client.get("/")
    assert start.status_code == 200
    assert "Welcome, Lusine" in start.text
    assert _events(app, "auth.login") == 1


def test_a_wrong_password_or_a_missing_code_shows_the_form_again(app: FastAPI) -> None:
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER])
    client, wrong = page_login(app, "lusine", secret, password="not the password at all")
    assert wrong.status_code == 401
    assert "The username, password or code is not right." in wrong.text
    assert 'value="lusine"' in wrong.text  # the username stays; the password never comes back
    assert "not the password at all" not in wrong.text
    _, no_code = page_login(app, "lusine", None)
    assert no_code.status_code == 401
    assert "The username, password or code is not right." in no_code.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert _events(app, "auth.login_failed") == 2


def test_a_second_factor_code_opens_one_login_per_step(app: FastAPI) -> None:
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER])
    assert secret is not None
    one_code = {"username": "lusine", "password": PASSWORD, "totp": code(secret, app)}  # made once: one step
    assert submit(browser(app), "/login", "/login", one_code).status_code == 303
    assert submit(browser(app), "/login", "/login", one_code).status_code == 401  # that step is spent
    _, next_step = page_login(app, "lusine", secret, steps=1)
    assert next_step.status_code == 303


def test_an_ended_session_sends_to_the_login_page_which_says_so(app: FastAPI) -> None:
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER])
    client, _ = page_login(app, "lusine", secret)
    assert client.get("/cases").status_code == 200
    shift_clock(app, timedelta(minutes=runtime(app).settings.session.idle_minutes + 1))
    ended = client.get("/cases")
    assert (ended.status_code, ended.headers["location"]) == (303, "/login?ended=1")
    assert "testimony_session" not in client.cookies  # the dead cookie is cleared
    notice = client.get(ended.headers["location"])
    assert "Your session has ended." in notice.text
    assert browser(app).get("/cases").headers["location"] == "/login"  # never logged in: no notice


def test_logout_ends_the_session_on_the_server(app: FastAPI) -> None:
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER])
    client, _ = page_login(app, "lusine", secret)
    cookie = client.cookies["testimony_session"]
    out = submit(client, "/cases", "/logout")
    assert (out.status_code, out.headers["location"]) == (303, "/login?out=1")
    assert "You have logged out." in client.get("/login?out=1").text
    replay = browser(app)
    replay.cookies.set("testimony_session", cookie)
    assert replay.get("/cases").headers["location"] == "/login?ended=1"
    assert _events(app, "auth.logout") == 1


def test_enrolment_shows_the_qr_code_then_recovery_codes_that_work_once(app: FastAPI) -> None:
    make_user(app, "narek", [Role.DOCUMENTER], with_totp=False)
    client, answer = page_login(app, "narek", None)
    assert answer.headers["location"] == "/account/second-factor"
    assert client.get("/cases").headers["location"] == "/account/second-factor"  # nothing else until enrolled
    step = client.get("/account/second-factor").text
    assert 'href="/cases"' not in step  # only this step is offered, and logout
    assert 'action="/logout"' in step
    shown = submit(client, "/account/second-factor", "/account/second-factor")
    assert shown.status_code == 200
    assert "<svg" in shown.text
    assert 'class="segno"' in shown.text
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', shown.text)
    assert found
    secret = found.group(1)
    wrong = client.post("/account/second-factor/confirm", data={"csrf_token": token_in(shown.text), "code": "000000"})
    assert wrong.status_code == 403
    assert "that code is not right" in wrong.text
    codes_page = client.post(
        "/account/second-factor/confirm", data={"csrf_token": token_in(wrong.text), "code": code(secret, app)}
    )
    assert codes_page.status_code == 200, codes_page.text
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", codes_page.text)
    assert len(codes) == totp.RECOVERY_CODES
    assert client.get("/cases").status_code == 200  # the renewed session is a full one
    # The recovery code page's forms carry the renewed session's token.
    assert submit(client, "/cases", "/logout").status_code == 303
    again = browser(app)
    first = submit(again, "/login", "/login", {"username": "narek", "password": PASSWORD, "recovery_code": codes[0]})
    assert first.status_code == 303
    replayed = submit(
        browser(app), "/login", "/login", {"username": "narek", "password": PASSWORD, "recovery_code": codes[0]}
    )
    assert replayed.status_code == 401


def test_a_one_time_password_leads_to_the_forced_password_change(app: FastAPI) -> None:
    user_id, secret = make_user(app, "arpi", [Role.DOCUMENTER])
    with unit_of_work(app.state.sessionmaker) as s:
        one_time = reset_password(s, runtime(app), Principal.system("test"), user_id).one_time_password
    assert one_time is not None
    client, answer = page_login(app, "arpi", secret, password=one_time)
    assert answer.headers["location"] == "/account/password"
    assert client.get("/cases").headers["location"] == "/account/password"
    form = client.get("/account/password")
    assert "One-time password (first half, then second half)" in form.text
    mismatch = client.post(
        "/account/password",
        data={
            "csrf_token": token_in(form.text),
            "current_password": one_time,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 422
    assert "The two new passwords are not the same." in mismatch.text
    changed = client.post(
        "/account/password",
        data={
            "csrf_token": token_in(mismatch.text),
            "current_password": one_time,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
        },
    )
    assert (changed.status_code, changed.headers["location"]) == (303, "/")
    assert 'href="/cases"' in client.get("/").text  # no longer restricted: the whole menu
    assert client.get("/cases").status_code == 200
    _, with_new = page_login(app, "arpi", secret, steps=1, password=NEW_PASSWORD)
    assert with_new.status_code == 303


def test_outside_development_the_cookies_are_host_only_and_secure(settings: Settings, keys: Keys) -> None:
    app = create_app(production(settings), keys)
    make_user(app, "prod", [Role.DOCUMENTER], with_totp=False)
    client = browser(app)
    shown = client.get("/login")
    header = shown.headers["set-cookie"]
    assert header.startswith("__Host-testimony_form=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag.lower() in header.lower()
    logged_in = client.post(
        "/login", data={"csrf_token": token_in(shown.text), "username": "prod", "password": PASSWORD}
    )
    assert logged_in.status_code == 303
    assert logged_in.headers["set-cookie"].startswith("__Host-testimony_session=")
    app.state.engine.dispose()


def test_a_throttled_login_says_when_to_try_again(app: FastAPI) -> None:
    make_user(app, "lusine", [Role.DOCUMENTER])
    client = browser(app)
    token = token_in(client.get("/login").text)
    answers = [
        client.post("/login", data={"csrf_token": token, "username": "lusine", "password": "wrong"})
        for _ in range(runtime(app).settings.throttle.per_account_address + 1)
    ]
    assert [a.status_code for a in answers][-1] == 429
    assert "Too many attempts; try again later." in answers[-1].text
    assert int(answers[-1].headers["retry-after"]) > 0
