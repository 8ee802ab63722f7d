"""End to end in a real Chromium (Debian's, at /usr/bin/chromium) through Playwright, against the app
under a real uvicorn server: log in with the second factor, see My cases and a case's people, log out;
a first login that enrols a second factor; and an axe-core scan of every page on the way that finds
no serious or critical violation. The pages must also break none of their own CSP rules."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from app.access import totp
from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.support.actors import PASSWORD, code, login, make_user
from tests.support.browser import enrol
from tests.support.consent import person_in
from tests.support.server import serve

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    # Skipped on a developer's machine without it; never in CI, where .ci/run installs it first.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed: apt-get install chromium (.ci/run does)",
    ),
]
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


def _page(chromium: Browser, base_url: str) -> tuple[Page, list[str]]:
    context = chromium.new_context(base_url=base_url, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    return page, _watch(page)


def _watch(page: Page) -> list[str]:
    """The errors the page's console and scripts report from now on (a CSP refusal is one)."""
    problems: list[str] = []
    page.on("console", lambda m: _note(m, problems))
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def _note(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error":
        where = message.location.get("url") or ""
        problems.append(f"{message.text} ({where})" if where else message.text)


def _artifacts(tmp_path: Path, journey: str) -> Path:
    """Where a journey's screenshots go: under TESTIMONY_TEST_ARTIFACTS when set, else the test's own folder."""
    folder = Path(os.environ.get("TESTIMONY_TEST_ARTIFACTS") or tmp_path) / "screenshots" / journey
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _scan(page: Page, scanned: list[str], shots: Path) -> None:
    """axe-core finds nothing serious; the page fits a 1280 x 720 screen's width, and at 200 % zoom
    (the same page in half the CSS pixels) still needs no sideways scrolling. A screenshot is kept."""
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    assert serious == [], (page.url, results.generate_report())
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url
    page.screenshot(path=shots / f"{len(scanned) + 1:02d}.png", full_page=True)
    page.set_viewport_size({"width": 640, "height": 360})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (page.url, "at 200 %")
    page.set_viewport_size({"width": 1280, "height": 720})
    scanned.append(page.url)


def test_a_documenter_logs_in_with_2fa_sees_my_cases_and_logs_out(
    app: FastAPI, chromium: Browser, tmp_path: Path
) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="KR-7", title="Stepanakert, 2023"))
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER], cases=(case.id,), display_name="Lusine")
    assert secret is not None
    registered = person_in(login(app, "lusine", secret), case.id)["code"]  # through the API (its step spent)
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "documenter")
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        page.goto("/cases")
        expect(page).to_have_url(re.compile(r"/login$"))
        _scan(page, scanned, shots)
        page.keyboard.press("Tab")  # the keyboard's first stop skips to the content
        expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        expect(page.get_by_label("Username")).to_be_focused()
        page.get_by_label("Username").fill("lusine")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        # The next 30-second step: the API login above spent this one.
        page.get_by_label("Code from your authenticator app").fill(code(secret, app, steps=1))
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Welcome, Lusine")).to_be_visible()
        _scan(page, scanned, shots)
        page.get_by_role("navigation").get_by_role("link", name="My cases").click()
        expect(page.get_by_role("heading", name="My cases")).to_be_visible()
        _scan(page, scanned, shots)
        page.get_by_role("link", name=re.compile("KR-7")).click()
        expect(page.locator("#people")).to_contain_text(registered)
        _scan(page, scanned, shots)
        page.get_by_label("Language").select_option("hy")
        page.get_by_role("button", name="Change language").click()
        expect(page.locator("html")).to_have_attribute("lang", "hy")
        expect(page.get_by_role("note")).to_contain_text("Չստուգված թարգմանություն")
        _scan(page, scanned, shots)
        page.get_by_role("button", name="Ելք").click()  # "Log out", in Armenian
        expect(page).to_have_url(re.compile(r"/login\?out=1$"))
        _scan(page, scanned, shots)
        page.goto("/cases")
        expect(page).to_have_url(re.compile(r"/login$"))  # the session is over
        assert "testimony_session" not in {c["name"] for c in page.context.cookies()}
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0  # nothing kept in the browser
        page.context.close()
    assert len(scanned) == 6
    assert problems == []


def test_a_first_login_enrols_a_second_factor_in_the_browser(app: FastAPI, chromium: Browser, tmp_path: Path) -> None:
    make_user(app, "narek", [Role.DOCUMENTER], with_totp=False)
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "enrolment")
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        page.goto("/login")
        page.get_by_label("Username").fill("narek")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/account/second-factor$"))
        _, codes = enrol(page, app, lambda p: _scan(p, scanned, shots))
        assert len(codes) == totp.RECOVERY_CODES
        page.get_by_role("link", name="Change password").click()
        _scan(page, scanned, shots)
        page.context.close()
    assert problems == []


def test_the_scan_can_fail(chromium: Browser) -> None:
    """A field without a label is a serious violation: the scan above would have caught one."""
    page = chromium.new_page()
    page.set_content('<!doctype html><html lang="en"><title>t</title><main><input id="x"></main></html>')
    impacts = {v.get("impact") for v in Axe().run(page).response["violations"]}
    page.close()
    assert impacts & SERIOUS
