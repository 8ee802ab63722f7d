"""End to end in a real Chromium: a survivor calls to withdraw. The custodian finds the record by the reference
code on the survivor's card and their code word, is reminded to call back on the safe channel, records the
withdrawal, and sees the recall notice it raised for the export already downloaded; then opens the survivor's
data report, in the survivor's language and as it prints. Every custodian page is scanned by axe-core and
photographed."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from app.access.roles import Role
from tests.support.actors import make_user
from tests.support.browser import log_in
from tests.support.consent import CODE_WORD, grant, record_use_consent
from tests.support.exports import desk
from tests.support.interviews import consenting_person
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py


def _nav(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Custodian").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(link)


def test_a_custodian_records_a_withdrawal_by_reference_code_and_prints_the_data_report(
    app: FastAPI, chromium: Browser, tmp_path: Path
) -> None:
    d = desk(app)
    person = consenting_person(d.doc, d.case_id, app)
    record = record_use_consent(d.doc, person, app, grants=[grant()])
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    _, secret = make_user(
        app, "mariam", [Role.CUSTODIAN], cases=(uuid.UUID(d.case_id),), display_name="Mariam Petrosyan"
    )
    assert secret is not None
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "custodian")
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        log_in(page, app, "mariam", secret, "Mariam Petrosyan")

        # The survivor reads the code off the card, in groups, and gives the code word.
        _nav(page, "Withdrawals")
        _scan(page, scanned, shots)
        page.get_by_label("Reference code").fill(record["reference_code"].lower().replace("-", " "))
        page.get_by_label("Code word").fill(CODE_WORD)
        page.get_by_role("button", name="Find the record").click()
        expect(page.locator("#reminder")).to_contain_text("call the person back on the safe channel")
        assert "/withdrawals/lookup" in page.url  # posted: neither code is in the address
        assert record["reference_code"] not in page.url
        card = page.locator("#found li").filter(has_text=record["id"])
        expect(card).to_contain_text("in force")
        _scan(page, scanned, shots)

        # After calling back on the safe channel: every use, stopped from now on.
        card.get_by_label("Every use this record allows").check()
        card.get_by_label("Stop every future use", exact=True).check()
        card.get_by_label("How the withdrawal reached us").select_option(label="By phone")
        card.get_by_role("button", name="Record the withdrawal").click()
        expect(page.locator("#withdrawn")).to_contain_text("The withdrawal is recorded")
        expect(page.locator("#limits")).to_contain_text("cannot call back what was shared before it")
        expect(page.locator("#recall-count")).to_have_text("Notices raised: 1. Exports they concern: 1.")
        notices = d.custodians[0].get("/api/v1/recalls").json()["items"]
        assert [n["export_id"] for n in notices] == [export]
        expect(page.locator("#recalls tbody tr")).to_have_count(1)
        expect(page.locator("#recalls tbody")).to_contain_text(notices[0]["id"])
        _scan(page, scanned, shots)

        # The survivor's data report, in the language they consented in, and as it prints.
        page.get_by_role("link", name="The person's data report: what we keep and where it went").click()
        report = page.locator("#report")
        expect(report).to_have_attribute("lang", "en")
        expect(report).to_contain_text("Where your information went")
        expect(report).to_contain_text("We are asking them to return or destroy it.")
        _scan(page, scanned, shots)
        page.get_by_label("Language of the report").select_option("hy")
        page.get_by_role("button", name="Show in this language").click()
        expect(report).to_have_attribute("lang", "hy")
        expect(report).to_contain_text("Ձեր տեղեկությունները")
        _scan(page, scanned, shots)
        page.emulate_media(media="print")
        expect(page.locator("header.top")).to_be_hidden()
        expect(page.get_by_role("button", name="Show in this language")).to_be_hidden()
        expect(report).to_be_visible()
        page.screenshot(path=shots / "report-printed.png", full_page=True)
        page.pdf(path=shots / "report-printed.pdf")
        page.emulate_media(media="screen")

        # The other custodian pages, scanned as they first look.
        for link in ("Erasure and legal holds", "Possible duplicates", "Retention", "Asking again at 18"):
            _nav(page, link)
            _scan(page, scanned, shots)
        page.context.close()
    assert len(scanned) == 9
    assert (shots / "report-printed.pdf").stat().st_size > 0
    assert problems == []
