"""Steps the browser tests share: logging in on the login page (with a code, a recovery code or the one-time
password an account starts with), logging out, and a first login's password change and second-factor enrolment."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from fastapi import FastAPI
from playwright.sync_api import FilePayload, Page, expect

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


def plan_with_checklist(page: Page, on: date, language: str = "ru") -> None:
    """On a person's interviews page: the plan (10:30 on ``on``) and a complete do-no-harm checklist, not yet sent."""
    page.get_by_label("Date", exact=True).fill(on.isoformat())
    page.get_by_label("Time", exact=True).fill("10:30")
    page.get_by_label("The interview's language").select_option(language)
    page.locator("#private_setting-yes").check()
    page.get_by_label("No one: the person is alone").check()
    page.locator("#referral_available_locally-yes").check()
    page.get_by_label("Forced displacement").check()
    page.get_by_label("Why this interview adds value").fill("Her first account; no prior statement.")


def add_incident(page: Page) -> None:
    """On the interview page: one incident (September 2023, forced displacement, two witnesses) as a row."""
    page.get_by_label("From (or on)").fill("2023-09-01")
    page.get_by_label("How precisely the person could say").select_option("month")
    page.locator("#violation-forced_displacement").check()
    page.get_by_label("How many witnesses").fill("2")
    page.get_by_role("button", name="Add the incident").click()
    expect(page.locator("#incident-rows tbody tr")).to_have_count(1)


def upload_document(page: Page, data: bytes) -> None:
    """On the interview page: a PDF uploaded as evidence, with the page's script (and its progress bar)."""
    page.get_by_label("What it is").select_option("document")
    page.get_by_label("Filed under").select_option("evidentiary_documents")
    page.get_by_label("File", exact=True).set_input_files(
        files=FilePayload(name="letter.pdf", mimeType="application/pdf", buffer=data)
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#attachment-rows li")).to_have_count(1)
    page.wait_for_load_state("load")  # the reloaded page's script runs before it listens to typing
