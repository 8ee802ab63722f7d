"""The ended-session notice survives a first request that cannot show it. When a session ends, the first
request after the end clears the session cookie; if that request is a script's fetch (the interview
page's autosave), the login page it was sent to is never seen. A cookie holding only "1" then keeps the
notice for the next page, until the next login or logout; nothing about the person or the session is in
it or in the URL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from http.cookies import SimpleCookie

from fastapi import FastAPI

from app.access.roles import Role
from app.core.config import Settings
from app.keys.store import Keys
from app.main import create_app
from tests.conftest import production
from tests.support.actors import PASSWORD, code, make_user, runtime, shift_clock
from tests.support.pages import browser, page_login, submit, token_in

NOTICE = "Your session has ended."
ENDED = "/login?ended=1"


def _idle(app: FastAPI) -> None:
    shift_clock(app, timedelta(minutes=runtime(app).settings.session.idle_minutes + 1))


def test_the_notice_survives_a_first_request_whose_answer_is_never_shown(app: FastAPI) -> None:
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER])
    assert secret is not None
    client, answer = page_login(app, "lusine", secret)
    assert answer.headers["location"] == "/"
    _idle(app)
    # The first request after the end: a script's post (as the autosave's fetch), which follows the redirect
    # and never shows the login page it led to.
    first = client.post(f"/cases/{uuid.uuid4()}/people", data={"csrf_token": "anything"}, follow_redirects=True)
    assert first.status_code == 200
    assert str(first.url).endswith(ENDED)
    assert "testimony_session" not in client.cookies
    assert client.cookies.get("testimony_ended") == "1"  # no content: a flag
    # The next page the person opens still says why they must log in again, as often as they look.
    for _ in range(2):
        later = client.get("/cases")
        assert (later.status_code, later.headers["location"]) == (303, ENDED)
        assert "set-cookie" not in later.headers
        shown = client.get("/login")
        assert NOTICE in shown.text
    # Logging in again clears it: a later end of that session says so again, a logout does not.
    again = submit(client, "/login", "/login", {"username": "lusine", "password": "x" * 12})
    assert again.status_code == 401
    assert NOTICE not in again.text  # the form shown again with its error, without the notice
    assert client.cookies.get("testimony_ended") == "1"  # a failed login clears nothing
    fields = {"username": "lusine", "password": PASSWORD, "totp": code(secret, app, steps=1)}
    logged_in = submit(client, "/login", "/login", fields)
    assert (logged_in.status_code, logged_in.headers["location"]) == (303, "/")
    assert "testimony_ended" not in client.cookies
    assert client.get("/cases").status_code == 200
    out = submit(client, "/cases", "/logout")
    assert (out.status_code, out.headers["location"]) == (303, "/login?out=1")
    assert NOTICE not in client.get("/login?out=1").text
    assert client.get("/cases").headers["location"] == "/login"
    assert NOTICE not in client.get("/login").text


def test_only_a_browser_whose_session_ended_is_told_so(app: FastAPI) -> None:
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER])
    client, _ = page_login(app, "lusine", secret)
    _idle(app)
    assert client.get("/cases").headers["location"] == ENDED
    assert client.cookies.get("testimony_ended") == "1"
    assert NOTICE in client.get("/login").text
    # Never logged in on this browser: no notice, no flag.
    stranger = browser(app)
    assert stranger.get("/cases").headers["location"] == "/login"
    assert "testimony_ended" not in stranger.cookies
    assert NOTICE not in stranger.get("/login").text
    # A flag without a session behind it changes nothing but the notice: it opens no page.
    stranger.cookies.set("testimony_ended", "1")
    assert stranger.get("/cases").headers["location"] == ENDED
    assert token_in(stranger.get("/login").text)


def test_outside_development_the_flag_is_host_only_secure_and_holds_nothing(settings: Settings, keys: Keys) -> None:
    app = create_app(production(settings), keys)
    _, secret = make_user(app, "prod", [Role.DOCUMENTER])
    client, answer = page_login(app, "prod", secret)
    assert answer.status_code == 303
    _idle(app)
    ended = client.get("/cases")
    assert (ended.status_code, ended.headers["location"]) == (303, ENDED)
    cookies = SimpleCookie()
    for header in ended.headers.get_list("set-cookie"):
        cookies.load(header)
    flag = cookies["__Host-testimony_ended"]
    assert flag.value == "1"
    assert (flag["path"], flag["secure"], flag["httponly"], flag["samesite"].lower()) == ("/", True, True, "strict")
    assert int(flag["max-age"]) == runtime(app).settings.session.absolute_hours * 3600
    assert cookies["__Host-testimony_session"]["max-age"] == "0"  # the session cookie is cleared
    assert NOTICE in client.get(ended.headers["location"]).text
    app.state.engine.dispose()
