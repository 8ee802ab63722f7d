"""In a real Chromium: when the first request after a session's end is the interview page's autosave (a
script's fetch, whose answer, the login page, is never shown), the next page the documenter opens still
says their session ended. The browser keeps nothing for it but a cookie holding "1"; the URL says only
``ended=1``; logging in again clears it. And a planned interview's interviewers are changed on its page
with the keyboard alone, and its time after them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.support.actors import login, make_user, runtime, shift_clock
from tests.support.browser import log_in
from tests.support.consent import record_use_consent
from tests.support.interviews import checklist, consenting_person, new_interview
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py

NOTES = "She asked for water after the second question."
NOTICE = "Your session has ended."


def test_the_notice_survives_an_autosave_that_met_the_end(app: FastAPI, chromium: Browser) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="KR-14", title="Goris, 2023"))
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
        log_in(page, app, "nare", secret, "Nare", steps=1)
        page.goto(f"/interviews/{interview['id']}")
        before = {c["name"] for c in page.context.cookies()}
        assert "testimony_session" in before

        shift_clock(app, timedelta(minutes=runtime(app).settings.session.idle_minutes + 1))
        page.get_by_label("Working notes (free text)").fill(NOTES)
        page.keyboard.press("Tab")  # the autosave's fetch is the first request after the end
        expect(page.locator("#saved-at")).to_contain_text("Not saved: your session has ended.")
        assert page.url.endswith(f"/interviews/{interview['id']}")
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert "testimony_session" not in cookies  # cleared by the fetch's answer
        flag = cookies["testimony_ended"]
        assert (flag["value"], flag["httpOnly"], flag["sameSite"]) == ("1", True, "Strict")
        assert set(cookies) - before == {"testimony_ended"}
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0

        # The documenter goes on to another page: the login page, saying why.
        page.get_by_role("link", name="Back to this person's interviews").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text(NOTICE)
        assert page.url == f"{base_url}/login?ended=1"
        page.reload()  # as often as they look, until they log in
        expect(page.get_by_role("status")).to_contain_text(NOTICE)

        log_in(page, app, "nare", secret, "Nare", steps=0)
        assert "testimony_ended" not in {c["name"] for c in page.context.cookies()}
        page.context.close()
    assert problems == []


def test_a_planned_interviews_interviewers_are_changed_with_the_keyboard(
    app: FastAPI, chromium: Browser, tmp_path: Path
) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="KR-15", title="Goris, 2023"))
    _, secret = make_user(app, "nare", [Role.DOCUMENTER], cases=(case.id,), display_name="Nare")
    colleague, _ = make_user(app, "armen", [Role.DOCUMENTER], cases=(case.id,), display_name="Armen")
    assert secret is not None
    api = login(app, "nare", secret)
    person = consenting_person(api, case.id, app)
    record_use_consent(api, person, app)
    interview = new_interview(api, person, checklist=checklist())
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "interviewers")
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        log_in(page, app, "nare", secret, "Nare", steps=1)
        page.goto(f"/interviews/{interview['id']}")
        expect(page.locator("#interviewers")).to_have_text("Interviewers: Nare")
        _scan(page, scanned, shots)
        form = page.locator("#interviewers-form")
        expect(form.get_by_label("Nare")).to_be_checked()
        expect(form.get_by_label("Armen")).not_to_be_checked()
        form.get_by_label("Armen").focus()
        page.keyboard.press("Space")
        form.get_by_role("button", name="Save the interviewers").focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/interviews/[0-9a-f-]{36}#plan$"))
        expect(page.locator("#interviewers")).to_have_text(re.compile(r"Interviewers: (Armen, Nare|Nare, Armen)"))
        _scan(page, scanned, shots)
        # Rescheduled to 15:00 in Yerevan: 11:00 UTC, as the page says.
        plan = page.locator("#plan-form")
        plan.get_by_label("Time", exact=True).fill("15:00")
        plan.get_by_label("Time zone").select_option("+04:00")
        plan.get_by_role("button", name="Save the plan").click()
        expect(page.locator("#interview-state")).to_contain_text("11:00 UTC")
        expect(page.locator("#plan-form").get_by_label("Time zone")).to_have_value("+00:00")
        page.context.close()
    assert problems == []
    read = api.get(f"/api/v1/interviews/{interview['id']}").json()
    assert sorted(read["interviewers"]) == sorted([str(colleague), read["created_by"]])
