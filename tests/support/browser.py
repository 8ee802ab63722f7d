"""Steps the browser tests share: logging in on the login page (with a code, a recovery code or the one-time
password an account starts with), logging out, and a first login's password change and second-factor enrolment."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from playwright.sync_api import Page, expect

from app.access import totp
from tests.support.actors import PASSWORD, code

Seen = Callable[[Page], None]
"""What a test does with each page a shared step passes through (scan and photograph it, say)."""


def _nothing(page: Page) -> None:
    return None


def log_in(
    page: Page,
    app: FastAPI,
    username: str,
    secret: str | None,
    name: str,
    *,
    steps: int = 0,
    recovery: str | None = None,
) -> None:
    """The login page with the password and a code of the 30-second step ``steps`` from the database's now
    (a step another login spent is refused), or a recovery code; lands on the welcome page."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if recovery is not None:
        page.get_by_label("Recovery code").fill(recovery)
    elif secret is not None:
        page.get_by_label("Code from your authenticator app").fill(code(secret, app, steps))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=f"Welcome, {name}")).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login\?out=1$"))


def first_login(page: Page, app: FastAPI, username: str, one_time: str, seen: Seen = _nothing) -> tuple[str, list[str]]:
    """A new account's first login with the one-time password its two admins gave out in halves: the forced
    change to PASSWORD, then the second factor set up. ``seen`` is shown each page on the way; ends on the
    recovery codes. The TOTP secret and the recovery codes."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(one_time)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account/password$"))
    seen(page)
    page.get_by_label("One-time password (first half, then second half)").fill(one_time)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page).to_have_url(re.compile(r"/account/second-factor$"))
    return enrol(page, app, seen)


def enrol(page: Page, app: FastAPI, seen: Seen = _nothing) -> tuple[str, list[str]]:
    """From the second-factor page: set up the authenticator app, prove it with a code, and read the recovery
    codes shown once. The TOTP secret and the codes."""
    seen(page)
    page.get_by_role("button", name="Set up the authenticator app").click()
    expect(page.locator("svg.segno")).to_be_visible()
    seen(page)
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill(code(secret, app))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(totp.RECOVERY_CODES)
    seen(page)
    return secret, page.locator("#recovery-codes li").all_inner_texts()
