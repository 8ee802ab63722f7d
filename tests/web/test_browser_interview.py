"""End to end in a real Chromium: a documenter plans an interview with the do-no-harm checklist, starts
it, marks a question declined, saves the draft, takes a break and resumes, has the statement read back
and confirmed, records the reconfirmation of use grants and completes the interview. Every page is
scanned by axe-core and photographed; nothing is kept in the browser's storage. On the way: an incident,
a referral and a document uploaded by the page's plain form."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.support.actors import login, make_user
from tests.support.attachments import sample
from tests.support.browser import add_incident, log_in, plan_with_checklist, upload_document
from tests.support.consent import record_use_consent
from tests.support.interviews import consenting_person
from tests.support.server import serve
from tests.web.test_browser import _artifacts, _page, _scan, chromium, pytestmark

__all__ = ["chromium", "pytestmark"]  # the browser fixture and the marks, shared with test_browser.py

DOCUMENT = sample("pdf", 20_000)
NOTES = "Asked for water after the second question."
ANSWER = "Ночью мы ушли пешком."  # "We left on foot at night", in the interview's language


def test_a_documenter_runs_an_interview_from_the_checklist_to_completion(
    app: FastAPI, chromium: Browser, tmp_path: Path
) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="KR-11", title="Goris, 2023"))
    _, secret = make_user(app, "nare", [Role.DOCUMENTER], cases=(case.id,), display_name="Nare")
    assert secret is not None
    api = login(app, "nare", secret)  # its 30-second step is spent: the browser uses the next one
    person = consenting_person(api, case.id, app)
    record_use_consent(api, person, app)
    scanned: list[str] = []
    shots = _artifacts(tmp_path, "interview")
    with serve(app) as base_url:
        page, problems = _page(chromium, base_url)
        log_in(page, app, "nare", secret, "Nare", steps=1)  # the API login above spent this step
        page.get_by_role("navigation").get_by_role("link", name="My cases").click()
        page.get_by_role("link", name=re.compile("KR-11")).click()
        page.get_by_role("link", name=re.compile("Interviews of ")).click()
        expect(page.get_by_role("heading", name=re.compile("Interviews"))).to_be_visible()

        # The plan and the do-no-harm checklist.
        plan_with_checklist(page, date.today() + timedelta(days=2))
        _scan(page, scanned, shots)
        page.get_by_role("button", name="Plan the interview").click()

        expect(page.locator("#content-warning")).to_be_visible()
        expect(page.locator("#checklist-done")).to_be_visible()
        _scan(page, scanned, shots)
        page.get_by_role("button", name="Start the interview").click()
        expect(page.locator("#interview-state")).to_contain_text("in progress")
        stop = page.get_by_role("button", name="The interviewee wants to stop")
        expect(stop).to_be_visible()

        # A declined question, an answer, and the draft saved to the server.
        page.locator("#state_background-declined").check()
        page.locator("#state_events-answered").check()
        page.locator("#answer_events").fill(ANSWER)
        page.get_by_role("button", name="Save", exact=True).click()  # sent after any autosave on its way
        expect(page).to_have_url(re.compile(r"\?saved=1#draft$"))
        page.wait_for_load_state("load")
        expect(page.locator("#saved-at")).to_contain_text("Saved.")
        expect(page.locator("#state_background-declined")).to_be_checked()
        _scan(page, scanned, shots)

        # A break, with its reason, and back.
        page.get_by_label("Why the break").fill("She needed a rest")
        page.get_by_role("button", name="Pause").click()
        expect(page.locator("#interview-state")).to_contain_text("paused")
        _scan(page, scanned, shots)
        page.get_by_role("button", name="Resume").click()
        expect(page.locator("#interview-state")).to_contain_text("in progress")

        # An incident as a structured row, a referral, and a document uploaded by the plain form.
        add_incident(page)
        page.get_by_label("Need").select_option("psychosocial")
        page.get_by_label("The service referred to and how to reach it").fill("Goris centre, by phone")
        page.get_by_role("button", name="Add the referral").click()
        expect(page.locator("#referral-rows")).to_contain_text("Psychosocial support: Goris centre, by phone")
        upload_document(page, DOCUMENT)

        # The script saves the draft when a changed field is left; the read-back follows it.
        before = page.locator("#saved-at").inner_text()
        page.get_by_label("Working notes (free text)").fill(NOTES)
        page.keyboard.press("Tab")
        expect(page.locator("#saved-at")).not_to_have_text(before)
        expect(page.locator("#readback-text")).to_contain_text(NOTES)

        # Read back and confirmed; then the reconfirmation; then complete.
        expect(page.locator("#readback-text")).to_contain_text(ANSWER)
        expect(page.locator("#readback-text")).to_contain_text("Declined to answer")
        page.get_by_label("The draft above was read back to the interviewee and they confirmed it").check()
        page.get_by_role("button", name="Record the confirmed statement").click()
        expect(page.locator("#statements")).to_contain_text("Version 1 confirmed")
        page.get_by_role("button", name="The interviewee confirms their use grants as recorded").click()
        expect(page.locator("#reconfirmed")).to_be_visible()
        _scan(page, scanned, shots)
        page.get_by_role("button", name="Complete the interview").click()
        expect(page.locator("#interview-state")).to_contain_text("completed")
        _scan(page, scanned, shots)
        assert re.search(r"/interviews/[0-9a-f-]{36}#state$", page.url)  # ids only
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        page.context.close()
    assert problems == []
    assert len(scanned) == 6

    (interview,) = api.get(f"/api/v1/people/{person}/interviews").json()["items"]
    read = api.get(f"/api/v1/interviews/{interview['id']}").json()
    assert (read["state"], read["language"]) == ("completed", "ru")
    assert [b["reason"] for b in read["breaks"]] == ["She needed a rest"]
    assert [(r["need"], r["contact"]) for r in read["referrals"]] == [("psychosocial", "Goris centre, by phone")]
    (attachment,) = api.get(f"/api/v1/interviews/{interview['id']}/attachments").json()["items"]
    assert (attachment["kind"], attachment["category"]) == ("document", "evidentiary_documents")
    facts = api.get(f"/api/v1/attachments/{attachment['id']}").json()
    assert facts["sha256"] == hashlib.sha256(DOCUMENT).hexdigest()
    (incident,) = api.get(f"/api/v1/interviews/{interview['id']}/incidents").json()["items"]
    assert incident["witnesses"] == 2
    (statement,) = api.get(f"/api/v1/interviews/{interview['id']}/statements").json()["items"]
    content = api.get(f"/api/v1/statements/{statement['id']}").json()
    assert content["text"] == NOTES  # saved by the script, then read back and confirmed
    assert [(a["question"], a["state"]) for a in content["answers"]] == [
        ("background", "declined"),
        ("events", "answered"),
    ]
    assert content["read_back_in"] == "ru"
