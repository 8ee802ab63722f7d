"""End to end in a real Chromium: a lawyer previews and asks for an export of her case; a custodian who did not
ask, his second factor proven again on the page, reviews it and approves it; the real worker builds it; the
lawyer downloads the sealed file, whose SHA-256 is the one her page shows and whose bytes are the ones sealed.
Every export page on the way is scanned by axe-core and photographed."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from app.core.db import unit_of_work
from app.recipients.models import Recipient
from tests.support.actors import Actor, code, shift_clock
from tests.support.browser import log_in
from tests.support.consent import grant
from tests.support.exports import desk, stored_bundle
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py


def _log_in(page: Page, app: FastAPI, who: Actor) -> None:
    """The login page, with a code of the next step (the API login of the desk spent this one)."""
    log_in(page, app, who.username, who.totp_secret, who.username, steps=1)


def _exports_nav(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Exports").get_by_role("link", name=link).click()


def test_a_lawyer_asks_a_custodian_approves_and_the_lawyer_downloads(
    app: FastAPI, chromium: Browser, tmp_path: Path
) -> None:
    d = desk(app)
    for _ in range(5):
        d.person(grant())
    with unit_of_work(app.state.sessionmaker) as s:
        recipient = s.get(Recipient, uuid.UUID(d.recipient_id))
        assert recipient is not None
        recipient_name = recipient.names[0]
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "exports")
    with serve(app) as base_url:
        lawyer, lawyer_problems = _page(chromium, base_url)
        keeper, keeper_problems = _page(chromium, base_url)
        _log_in(lawyer, app, d.legal)
        _log_in(keeper, app, d.custodians[0])

        # The lawyer fills in the request, previews what it would send, then sends it.
        _exports_nav(lawyer, "Ask for an export")
        expect(lawyer.get_by_role("heading", name="Ask for an export")).to_be_visible()
        _scan(lawyer, scanned, shots)
        lawyer.get_by_label("KX-1").check()
        lawyer.get_by_label("Recipient").select_option(label=recipient_name)
        lawyer.get_by_label("Purpose").select_option(label="UN fact-finding")
        lawyer.get_by_label("Narrative", exact=True).check()
        lawyer.get_by_label("Most revealing level allowed").select_option(label="Under a code, not a name")
        lawyer.get_by_label("Justification").fill("The Commission asked for accounts of the October crossing.")
        lawyer.get_by_role("button", name="Preview the counts").click()
        preview = lawyer.locator("#preview")
        expect(preview).to_be_visible()
        expect(preview.get_by_role("row", name="Under a code, not a name")).to_contain_text("5")
        _scan(lawyer, scanned, shots)
        lawyer.get_by_role("button", name="Send the request").click()
        expect(lawyer.locator("#done")).to_contain_text("a custodian who did not ask reviews and decides it")
        expect(lawyer.locator("#status")).to_have_text("waiting for a custodian")
        export_url = lawyer.url.split("?")[0]
        _scan(lawyer, scanned, shots)
        _exports_nav(lawyer, "Export requests")
        expect(lawyer.locator("#exports")).to_contain_text(recipient_name)
        _scan(lawyer, scanned, shots)

        # The custodian: his second factor is six minutes old by now, so the review page asks for it again.
        shift_clock(app, timedelta(minutes=6))
        _exports_nav(keeper, "Export requests")
        _scan(keeper, scanned, shots)
        keeper.get_by_role("link", name="Review and decide").click()
        expect(keeper.get_by_role("heading", name="Review an export")).to_be_visible()
        expect(keeper.locator("#step-up")).to_be_visible()
        expect(keeper.locator("#counts").get_by_role("row", name="Under a code, not a name")).to_contain_text("5")
        expect(keeper.locator("#basis code")).to_have_count(5)  # the five grants relied on, by id
        _scan(keeper, scanned, shots)
        keeper.get_by_label("Code from your authenticator app").fill(code(d.custodians[0].totp_secret or "", app))
        keeper.get_by_role("button", name="Confirm", exact=True).click()
        expect(keeper.locator("#step-up")).to_have_count(0)
        keeper.get_by_label("Reason for your decision").fill("Within the stated purpose and the grants.")
        keeper.get_by_role("button", name="Approve").click()
        expect(keeper.locator("#done")).to_contain_text("Approved")
        expect(keeper.locator("#status")).to_have_text("approved, being prepared")
        _scan(keeper, scanned, shots)

        # The worker prepares it, as a worker process would.
        assert d.worker().run_once() is True

        # The lawyer downloads the sealed file; its hash is the one her page shows.
        lawyer.goto(export_url)
        expect(lawyer.locator("#status")).to_have_text("ready to download")
        shown_hash = lawyer.locator("#sha256").inner_text()
        _scan(lawyer, scanned, shots)
        with lawyer.expect_download() as arriving:
            lawyer.get_by_role("button", name="Download the sealed file").click()
        saved = tmp_path / "bundle.bin"
        arriving.value.save_as(saved)
        assert re.fullmatch(r"export-[0-9a-f]{32}\.bin", arriving.value.suggested_filename)
        body = saved.read_bytes()
        assert hashlib.sha256(body).hexdigest() == shown_hash
        assert body == stored_bundle(app, export_url.rsplit("/", 1)[1])
        lawyer.reload()
        expect(lawyer.locator("#download")).to_contain_text("Downloaded 1 of 3 times")

        # The recall notices, as each of them first sees them: none yet.
        for page in (lawyer, keeper):
            _exports_nav(page, "Recall notices")
            expect(page.locator("#no-recalls")).to_be_visible()
            _scan(page, scanned, shots)
        # The documenter who recorded them: the survivors to tell of the approval (none agreed to be contacted
        # again, so each task is closed as such, and there is nothing to press).
        documenter, documenter_problems = _page(chromium, base_url)
        _log_in(documenter, app, d.doc)
        _exports_nav(documenter, "Survivors to tell")
        expect(documenter.locator("#tasks tbody tr")).to_have_count(5)
        expect(documenter.locator("#tasks")).to_contain_text("not to be contacted")
        _scan(documenter, scanned, shots)
        lawyer.context.close()
        keeper.context.close()
        documenter.context.close()
    assert len(scanned) == 11
    assert lawyer_problems == []
    assert keeper_problems == []
    assert documenter_problems == []
