"""End to end in a real Chromium: two admins set up the first documenter and her case. Anna makes the account
and the case and asks for the membership; Boris, his second factor proven again on the page, confirms the
account (and alone sees the second half of its one-time password) and then the membership. Every admin page
on the way is scanned by axe-core and photographed."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from app.access.roles import Role
from tests.support.actors import code, make_user, shift_clock
from tests.support.browser import log_in
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py


def _admin_nav(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Administration").get_by_role("link", name=link).click()


def test_two_admins_set_up_a_documenter_and_her_case(app: FastAPI, chromium: Browser, tmp_path: Path) -> None:
    _, anna_secret = make_user(app, "anna", [Role.ADMIN], display_name="Anna Avetisyan")
    _, boris_secret = make_user(app, "boris", [Role.ADMIN], display_name="Boris Sarkisov")
    assert anna_secret is not None
    assert boris_secret is not None
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "admin")
    with serve(app) as base_url:
        anna, anna_problems = _page(chromium, base_url)
        boris, boris_problems = _page(chromium, base_url)
        log_in(anna, app, "anna", anna_secret, "Anna Avetisyan")
        log_in(boris, app, "boris", boris_secret, "Boris Sarkisov")

        # Anna: a new account for Lusine, a documenter. The roles wait for Boris.
        _admin_nav(anna, "Accounts")
        expect(anna.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
        _scan(anna, scanned, shots)
        anna.get_by_label("Username").fill("lusine")
        anna.get_by_label("Name", exact=True).fill("Lusine Hakobyan")
        anna.get_by_label("Documenter").check()
        anna.get_by_role("button", name="Make the account").click()
        expect(anna.locator("#created")).to_contain_text("Account lusine made")
        first_half = anna.locator("#first-half").inner_text()
        assert re.fullmatch(r"[a-z0-9]{12}", first_half)
        _scan(anna, scanned, shots)
        anna.get_by_role("link", name="lusine").click()
        expect(anna.locator("#account")).to_contain_text("none")  # no role until the second admin confirms
        _scan(anna, scanned, shots)

        # Boris: his second factor is five minutes old by now, so the page asks for it again.
        shift_clock(app, timedelta(minutes=6))
        _admin_nav(boris, "Confirmations")
        expect(boris.locator("#step-up")).to_be_visible()
        request = boris.locator("#waiting li").filter(has_text="A new account")
        expect(request).to_contain_text("Lusine Hakobyan (lusine)")
        expect(request).to_contain_text("Anna Avetisyan (anna)")
        _scan(boris, scanned, shots)
        boris.get_by_label("Code from your authenticator app").fill(code(boris_secret, app))
        boris.get_by_role("button", name="Confirm", exact=True).first.click()
        expect(boris.locator("#step-up")).to_have_count(0)
        boris.locator("#waiting li").filter(has_text="A new account").get_by_role("button", name="Confirm").click()
        second_half = boris.locator("#second-half").inner_text()
        assert re.fullmatch(r"[a-z0-9]{12}", second_half)
        assert second_half != first_half
        expect(boris.locator("#none-waiting")).to_be_visible()
        _scan(boris, scanned, shots)

        # Anna: the case and its team; Lusine is a documenter now, so she can join.
        _admin_nav(anna, "Cases and teams")
        _scan(anna, scanned, shots)
        anna.get_by_label("Case code").fill("KR-7")
        anna.get_by_label("Title").fill("Stepanakert, 2023")
        anna.get_by_role("button", name="Make the case").click()
        expect(anna.locator("#done")).to_contain_text("Case made.")
        expect(anna.locator("#no-members")).to_be_visible()
        anna.get_by_label("Who").select_option(label="Lusine Hakobyan (lusine; Documenter)")
        anna.get_by_role("button", name="Ask to add to the team").click()
        expect(anna.locator("#done")).to_contain_text("another admin confirms it")
        _scan(anna, scanned, shots)

        # Boris confirms the membership, with the keyboard alone.
        _admin_nav(boris, "Confirmations")  # (reloading would post the last decision again)
        request = boris.locator("#waiting li").filter(has_text="Adding a member to a case team")
        expect(request).to_contain_text("KR-7")
        expect(request).to_contain_text("Lusine Hakobyan (lusine)")
        confirm = request.get_by_role("button", name="Confirm")
        confirm.focus()
        expect(confirm).to_be_focused()
        boris.keyboard.press("Enter")
        expect(boris.locator("#decided")).to_contain_text("confirmed")

        anna.reload()
        expect(anna.locator("#members")).to_contain_text("Lusine Hakobyan")
        _scan(anna, scanned, shots)

        # The rest of the admin pages, scanned as they first look.
        for link in ("Recipients", "Deny-list", "Keys"):
            _admin_nav(anna, link)
            expect(anna.get_by_role("heading", level=1)).to_have_text(link)
            _scan(anna, scanned, shots)
        anna.context.close()
        boris.context.close()

    # Lusine logs in with the two halves, one from each admin.
    with serve(app) as base_url:
        lusine, problems = _page(chromium, base_url)
        lusine.goto("/login")
        lusine.get_by_label("Username").fill("lusine")
        lusine.get_by_label("Password", exact=True).fill(first_half + second_half)
        lusine.get_by_role("button", name="Log in").click()
        expect(lusine).to_have_url(re.compile(r"/account/password$"))
        lusine.context.close()
    assert len(scanned) == 11
    assert anna_problems == []
    assert boris_problems == []
    assert problems == []
