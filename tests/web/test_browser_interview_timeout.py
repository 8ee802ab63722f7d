"""In a real Chromium: the interview page's autosave when the session ends under it. The change typed
after the end is not reported as saved (the answer was the login page): the page says the session ended
and keeps the text. Once the documenter logs in again in another tab, the page takes the new session's
form token and saves what it holds by itself; the draft on the server is whole."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.support.actors import PASSWORD, code, login, make_user, runtime, shift_clock
from tests.support.consent import record_use_consent
from tests.support.interviews import checklist, consenting_person, new_interview
from tests.support.server import serve
from tests.web.test_browser import _page, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py

FIRST = "She asked for water after the second question."
SECOND = " We went on after ten minutes."


def _log_in(page: Page, secret: str, app: FastAPI, steps: int) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("nare")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(code(secret, app, steps=steps))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Welcome, Nare")).to_be_visible()


def test_the_autosave_says_the_session_ended_and_saves_once_logged_in_again(app: FastAPI, chromium: Browser) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="KR-12", title="Goris, 2023"))
    _, secret = make_user(app, "nare", [Role.DOCUMENTER], cases=(case.id,), display_name="Nare")
    assert secret is not None
    api = login(app, "nare", secret)  # its 30-second step is spent: the browser uses the next one
    person = consenting_person(api, case.id, app)
    record_use_consent(api, person, app)
    interview = new_interview(api, person, checklist=checklist())
    started = {"revision": interview["revision"], "state": "in_progress"}
    assert api.request("PATCH", f"/api/v1/interviews/{interview['id']}", json=started).status_code == 200
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        _log_in(page, secret, app, steps=1)
        page.goto(f"/interviews/{interview['id']}")
        notes = page.get_by_label("Working notes (free text)")
        before = page.locator("#saved-at").inner_text()
        notes.fill(FIRST)
        page.keyboard.press("Tab")
        expect(page.locator("#saved-at")).not_to_have_text(before)
        expect(page.locator("#saved-at")).to_contain_text("Saved on the server")

        shift_clock(app, timedelta(minutes=runtime(app).settings.session.idle_minutes + 1))
        notes.fill(FIRST + SECOND)
        page.keyboard.press("Tab")
        expect(page.locator("#saved-at")).to_contain_text("Not saved: your session has ended.")
        expect(notes).to_have_value(FIRST + SECOND)  # still on the page, never sent away to the login page
        assert page.url.endswith(f"/interviews/{interview['id']}")

        other = page.context.new_page()
        _log_in(other, secret, app, steps=0)
        other.close()
        page.get_by_role("button", name="Save").click()  # kept on this page: the script saves in place
        expect(page.locator("#saved-at")).to_contain_text("Saved on the server")
        assert page.url.endswith(f"/interviews/{interview['id']}")
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        page.context.close()
    assert problems == []
    again = login(app, "nare", secret, steps=1)
    assert again.get(f"/api/v1/interviews/{interview['id']}/draft").json()["text"] == FIRST + SECOND
