"""In a real Chromium: an admin rotates the key encryption key from the Keys page. The page asks for her second
factor again once it is five minutes old, queues the rotation, and after the worker ran, a plain reload shows
the new primary KEK and how it ended. She rotates the signing key too, and a tab opened before is refused. Every
state of the page is scanned by axe-core and photographed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from app.access.roles import Role
from app.exports.worker import Worker
from app.keys.store import FileKeyStore, Keys
from app.runtime import Runtime
from tests.support.actors import code, make_user, shift_clock
from tests.support.browser import log_in
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py


def test_an_admin_rotates_the_keys_from_the_page(
    app: FastAPI, chromium: Browser, tmp_path: Path, key_store: FileKeyStore
) -> None:
    _, secret = make_user(app, "anna", [Role.ADMIN], display_name="Anna Avetisyan")
    assert secret is not None
    first = key_store.load().kek_primary
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "keys")
    with serve(app) as base_url:
        anna, problems = _page(chromium, base_url)
        log_in(anna, app, "anna", secret, "Anna Avetisyan")
        shift_clock(app, timedelta(minutes=6))
        anna.goto("/admin/keys")
        expect(anna.locator("#step-up")).to_be_visible()
        _scan(anna, scanned, shots)
        anna.get_by_label("Code from your authenticator app").fill(code(secret, app))
        anna.get_by_role("button", name="Confirm", exact=True).click()
        expect(anna.locator("#step-up")).to_have_count(0)
        _scan(anna, scanned, shots)

        anna.get_by_role("button", name="Rotate the key encryption key").click()
        expect(anna.locator("#done")).to_contain_text("The rotation is queued")
        expect(anna.locator("#key-job-state")).to_have_text("waiting for a worker")
        _scan(anna, scanned, shots)

        worker = Worker(app.state.sessionmaker, Runtime(app.state.settings, Keys(key_store, key_store.load())))
        assert worker.run_once()
        anna.goto("/admin/keys")  # a plain reload, no script
        expect(anna.locator("#key-job-state")).to_have_text("finished")
        expect(anna.locator("#key-job-primary")).to_have_text(str(first + 1))
        expect(anna.locator("#key-job-outcome")).to_contain_text("Back up the key file now")
        _scan(anna, scanned, shots)
        anna.context.close()
    assert key_store.load().kek_primary == first + 1
    assert len(scanned) == 4
    assert problems == []


def test_an_admin_rotates_the_signing_key_from_the_page(
    app: FastAPI, chromium: Browser, tmp_path: Path, key_store: FileKeyStore
) -> None:
    _, secret = make_user(app, "anna", [Role.ADMIN], display_name="Anna Avetisyan")
    assert secret is not None
    first = key_store.load().signer.key_id
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "signing")
    with serve(app) as base_url:
        anna, problems = _page(chromium, base_url)
        log_in(anna, app, "anna", secret, "Anna Avetisyan")
        anna.goto("/admin/keys")
        expect(anna.locator("#signing-key-now")).to_have_text(first)
        _scan(anna, scanned, shots)
        stale = anna.context.new_page()  # a second tab, opened before the rotation
        stale.goto("/admin/keys")

        anna.get_by_role("button", name="Rotate the signing key").click()
        expect(anna.locator("#done")).to_contain_text("A new signing key signs from now on")
        new = key_store.load().signer.key_id
        assert new != first
        expect(anna.locator("#signing-key-now")).to_have_text(new)
        expect(anna.locator("#signing-keys tbody tr")).to_have_count(2)
        _scan(anna, scanned, shots)

        # The second tab still shows the old key: its click is refused in words, and nothing more is made.
        expect(stale.locator("#signing-key-now")).to_have_text(first)
        stale.get_by_role("button", name="Rotate the signing key").click()
        expect(stale.get_by_role("alert")).to_contain_text("the signing key changed since this page was shown")
        _scan(stale, scanned, shots)
        anna.context.close()
    assert [k.key_id for k in key_store.load().signing_keys] == [first, new]
    assert len(scanned) == 3
    assert problems == []
