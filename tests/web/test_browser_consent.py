"""End to end in a real Chromium: a documenter logs in with the second factor, registers a person and
records their participation consent in Armenian, with teach-back and a declined decision; a form sent
incomplete comes back naming the part to check. Every page is scanned by axe-core and photographed."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.support.actors import login, make_user
from tests.support.browser import log_in
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py

CODE_WORD = "ծիրան"  # "apricot", said by the person and typed by the documenter


def test_a_documenter_registers_a_person_and_records_consent_in_armenian(
    app: FastAPI, chromium: Browser, tmp_path: Path
) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="KR-9", title="Goris, 2023"))
    _, secret = make_user(app, "ani", [Role.DOCUMENTER], cases=(case.id,), display_name="Ani")
    assert secret is not None
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "consent")
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        log_in(page, app, "ani", secret, "Ani")
        page.get_by_role("navigation").get_by_role("link", name="My cases").click()
        page.get_by_role("link", name=re.compile("KR-9")).click()
        _scan(page, scanned, shots)  # the case, with the register button

        page.get_by_role("button", name="Register a person").click()
        expect(page.locator("#registered")).to_be_visible()
        person_code = page.locator("#person-code").inner_text()
        assert re.fullmatch(r"[2-9A-Z]{3}-[2-9A-Z]{4}", person_code)
        assert person_code not in page.url
        _scan(page, scanned, shots)  # the new code and the first step

        page.get_by_label("The interviewee's language").select_option("hy")
        page.get_by_label("An adult (18 or older): the main text").check()
        page.get_by_role("button", name="Open the consent form").click()
        expect(page.get_by_role("heading", name="1. Read the form aloud, section by section")).to_be_visible()
        first = page.locator("details.section").nth(1)  # after the introduction: "Who we are"
        expect(first.locator('summary [lang="hy"]')).to_have_text("1. Ովքեր ենք մենք")
        first.locator("summary").click()  # open it, as one reads on
        expect(first.locator('.theirs[lang="hy"]')).to_contain_text("Մենք «Ղարաբաղյան վկայություններ» նախագիծն ենք")
        expect(first.locator('.ours[lang="en"]')).to_be_visible()
        _scan(page, scanned, shots)  # the wizard, nothing answered

        page.get_by_label("Witness's name").fill("Anahit Sargsyan")
        page.get_by_label("Witness's role").fill("field coordinator")
        page.get_by_label("Or age in years").fill("47")
        for decision in ("interview_now", "notes", "audio_recording", "photos", "referral"):
            page.locator(f"#decision_{decision}-yes").check()
        page.locator("#decision_video_recording-no").check()  # declined: "no" is an answer
        page.locator("#decision_re_contact-no").check()
        for question in ("voluntariness", "recording", "courts_and_defence", "withdrawal_limits", "re_contact"):
            page.locator(f"#teach-back-{question}-pass").check()
        page.locator("#teach-back-risks-again").check()  # explained again, then understood
        page.get_by_label("The code word the person chooses").fill(CODE_WORD)
        page.locator("#receipt-code_card").check()
        page.get_by_role("button", name="Record the consent").click()

        # The storage decision was left open: nothing recorded, the part named, the rest kept.
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Nothing was recorded.")
        expect(alert.get_by_role("link", name="Keeping your information")).to_be_visible()
        expect(page.get_by_label("Witness's name")).to_have_value("Anahit Sargsyan")
        expect(page.locator("#decision_video_recording-no")).to_be_checked()
        expect(page.get_by_label("The code word the person chooses")).to_have_value("")
        _scan(page, scanned, shots)

        page.locator("#decision_storage-yes").check()
        page.locator("#retention-P10Y").check()
        page.get_by_label("The code word the person chooses").fill(CODE_WORD)
        page.get_by_role("button", name="Record the consent").click()
        expect(page.locator("#recorded")).to_be_visible()
        expect(page.locator("#consent-status")).to_contain_text("consent given")
        assert page.url.endswith("/consent?done=1")  # ids only: no answer, language or code word
        _scan(page, scanned, shots)
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        page.context.close()
    # The one answer the browser notes is the form sent incomplete, on purpose: 422.
    assert [p for p in problems if "422" not in p] == []
    assert len([p for p in problems if "422" in p]) == 1
    assert len(scanned) == 5

    # What the API reads back: Armenian, the video declined, the teach-back as answered.
    api = login(app, "ani", secret, steps=1)
    people = api.get(f"/api/v1/cases/{case.id}/people").json()["items"]
    (person,) = [p for p in people if p["code"] == person_code]
    (record,) = api.get(f"/api/v1/people/{person['id']}/participation").json()["items"]
    assert (record["status"], record["language"], record["allows_collection"]) == ("given", "hy", True)
    assert record["details"]["decisions"]["video_recording"] is False
    assert record["details"]["teach_back"]["risks"] == "re_explained"
    assert record["details"]["withdrawal_code_word"] == "set"
