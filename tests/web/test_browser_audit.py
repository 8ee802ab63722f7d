"""End to end in a real Chromium: an auditor logs in with her second factor, follows one documenter through
the event log, sees the log verify, downloads an inclusion proof and a consistency proof and checks each,
away from the app, with the command the page prints; then reads the values to pin and the disclosure ledger.
Every auditor page on the way is scanned by axe-core and photographed, in English and in Armenian, and none
shows the testimony planted in the log's world."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from app.access.roles import Role
from tests.support.actors import make_user
from tests.support.browser import log_in
from tests.support.server import serve
from tests.support.world import World
from tests.web.test_audit_pages import CANARY, _offline_folder, _run, _sign
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py


def _audit_nav(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Audit").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(link)


def _check_download(page: Page, link_id: str, command_id: str, folder: Path) -> str:
    """Download the file the page offers and run the command it prints beside it; the verifier's output."""
    with page.expect_download() as started:
        page.locator(f"#{link_id}").click()
    download = started.value
    download.save_as(folder / download.suggested_filename)
    command = page.locator(f"#{command_id}").inner_text().strip()
    assert download.suggested_filename in command
    done = _run(command, folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_auditor_follows_a_documenter_and_checks_the_proofs_offline(
    world: World, chromium: Browser, tmp_path: Path
) -> None:
    app = world.app
    doc = world.actors["doc_in"]
    saved = doc.request("PUT", f"/api/v1/interviews/{world.interview_id}/draft", json={"text": CANARY, "answers": []})
    assert saved.status_code == 200, saved.text
    first = _sign(world.app)
    _, secret = make_user(app, "siranush", [Role.AUDITOR], display_name="Siranush Petrosyan")
    assert secret is not None
    folder = _offline_folder(tmp_path)
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "audit")
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        log_in(page, app, "siranush", secret, "Siranush Petrosyan")
        _scan(page, scanned, shots)
        second = _sign(world.app)

        # The documenter's events, by her username; the actor column names her.
        _audit_nav(page, "Event log")
        _scan(page, scanned, shots)
        page.get_by_label("Actor").fill(doc.username)
        page.get_by_label("Action").select_option("draft.save")
        page.get_by_role("button", name="Show events").click()
        rows = page.locator("#events tbody tr")
        expect(rows.first).to_contain_text(doc.username)
        expect(rows.first).to_contain_text("draft.save")
        _scan(page, scanned, shots)
        seq = rows.last.locator("td").first.inner_text()

        # The log verifies, up to the last checkpoint, with the key that signs now.
        _audit_nav(page, "Log verification")
        expect(page.locator("#verified")).to_contain_text(f"Log verified up to event {second - 1} at ")
        _scan(page, scanned, shots)

        # That draft's event is in the latest signed tree, which extends the earlier one: checked offline.
        _audit_nav(page, "Event log")
        page.get_by_label("Actor").fill(doc.username)
        page.get_by_label("Action").select_option("draft.save")
        page.get_by_role("button", name="Show events").click()
        page.get_by_role("link", name=f"Inclusion proof of event {seq}").click()
        page.get_by_label("Checkpoint (its number of entries)", exact=True).fill(str(second))
        page.get_by_role("button", name="Prepare the inclusion proof").click()
        expect(page.locator("#inclusion-ready")).to_be_visible()
        _scan(page, scanned, shots)
        out = _check_download(page, "inclusion-download", "inclusion-command", folder)
        assert f"OK: event {seq} is in the tree of {second} entries signed by the pinned key" in out
        page.get_by_label("Earlier checkpoint (its number of entries)").fill(str(first))
        page.get_by_label("Later checkpoint (its number of entries)").fill(str(second))
        page.get_by_role("button", name="Prepare the consistency proof").click()
        expect(page.locator("#consistency-ready")).to_be_visible()
        _scan(page, scanned, shots)
        out = _check_download(page, "consistency-download", "consistency-command", folder)
        assert f"OK: the signed tree of {second} entries extends the signed tree of {first}" in out

        _audit_nav(page, "Values to pin")
        [key] = world.actors["auditor"].get("/api/v1/audit/public-key").json()["items"]
        expect(page.locator("#signing-keys")).to_contain_text(key["vkey"])
        _scan(page, scanned, shots)
        _audit_nav(page, "Disclosure ledger")
        expect(page.locator("#ledger")).to_contain_text(world.ledger_id)
        _scan(page, scanned, shots)
        contents = [page.content()]

        # The same pages in Armenian.
        page.get_by_label("Language").select_option("hy")
        page.get_by_role("button", name="Change language").click()
        for link in ("/audit/events", "/audit/status", "/audit/proofs", "/audit/pin", "/audit/disclosures"):
            page.goto(link)
            expect(page.locator("html")).to_have_attribute("lang", "hy")
            _scan(page, scanned, shots)
            contents.append(page.content())
        page.context.close()
    assert len(scanned) == 13
    assert problems == []
    for content in contents:
        assert "CANARY" not in content
