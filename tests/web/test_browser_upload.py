"""In a real Chromium, on a Russian page, with the page's script: an attachment refused as it is uploaded
says why in Russian beside the form (the progress bar put away); a file then stored shows the page's
notice. Both new states are scanned by axe-core. (Without scripts the page route's answers are checked
through httpx in test_interview_upload_pages.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, FilePayload, Page, expect

from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.support.actors import Actor, login, make_user
from tests.support.attachments import recording_interview, sample
from tests.support.browser import log_in
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _scan, _watch, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py

REFUSED_RU = "должно быть одного из типов"
REFUSED_EN = "must be one of"


def _documenter(app: FastAPI, code: str) -> tuple[Actor, str]:
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code=code, title="Goris, 2023"))
    _, secret = make_user(app, "nare", [Role.DOCUMENTER], cases=(case.id,), display_name="Nare")
    assert secret is not None
    api = login(app, "nare", secret)  # its 30-second step is spent: the browser uses the next one
    return api, secret


def _in_russian(page: Page) -> None:
    page.get_by_label("Language", exact=True).select_option("ru")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")


def _choose(page: Page, name: str, data: bytes, media_type: str) -> None:
    page.locator("#kind").select_option("document")
    page.locator("#category").select_option("evidentiary_documents")
    page.locator("#file").set_input_files(files=FilePayload(name=name, mimeType=media_type, buffer=data))


def test_a_refused_upload_says_why_in_the_pages_language_with_the_script(
    app: FastAPI, chromium: Browser, tmp_path: Path
) -> None:
    api, secret = _documenter(app, "KR-21")
    interview = recording_interview(app, api, api_case(api))
    shots = _artifacts(tmp_path, "upload-script")
    scanned: list[str] = []
    with serve(app) as base_url:
        context = chromium.new_context(base_url=base_url, viewport={"width": 1280, "height": 720})
        page = context.new_page()
        problems = _watch(page)
        log_in(page, app, "nare", secret, "Nare", steps=1)
        page.goto(f"/interviews/{interview['id']}")
        _in_russian(page)
        url = page.url
        _choose(page, "clip.m4a", sample("m4a", 30_000), "audio/mp4")
        page.locator("#upload-form button[type=submit]").click()
        status = page.locator("#upload-status")
        expect(status).to_contain_text(REFUSED_RU)
        expect(status).to_contain_text("Ничего не записано.")
        assert REFUSED_EN not in status.inner_text()
        expect(page.locator("#upload-progress")).to_be_hidden()
        assert page.url == url  # the script kept the page: the refusal is shown in it
        _scan(page, scanned, shots)

        _choose(page, "letter.pdf", sample("pdf", 200_000), "application/pdf")
        page.locator("#upload-form button[type=submit]").click()
        expect(page.locator("#upload-stored")).to_be_visible()
        expect(page.locator("#attachment-rows li")).to_have_count(1)
        assert re.search(r"/interviews/[0-9a-f-]{36}\?stored=1#attachments$", page.url)
        _scan(page, scanned, shots)
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        context.close()
    assert _unexpected(problems) == []
    (row,) = api.get(f"/api/v1/interviews/{interview['id']}/attachments").json()["items"]
    assert row["kind"] == "document"


def _unexpected(problems: list[str]) -> list[str]:
    """What the console reported besides the refused upload's answer (Chromium notes every 4xx it loads)."""
    refused = [p for p in problems if "status of 415" in p and p.endswith("/attachments)")]
    assert len(refused) <= 1
    return [p for p in problems if p not in refused]


def api_case(api: Actor) -> str:
    """The documenter's one case."""
    (case,) = api.get("/api/v1/cases").json()["items"]
    return str(case["id"])
