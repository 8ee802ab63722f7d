"""The whole journey, in one real Chromium with a profile on disk, as one shared field-office laptop would see it:
two admins make the accounts, the case and the recipient and confirm each other's requests; each new user logs
in with the two halves of a one-time password, chooses a password and sets up a second factor; a documenter
registers a person, records their participation consent in Armenian with teach-back and a declined decision,
runs the interview (checklist, a declined question, a break, an attachment, an incident, the confirmed
statement) and records the first use grants at its end, with the printed receipt; a lawyer previews and asks for
an export, which a custodian who did not ask approves after a step-up with a recovery code; the lawyer
downloads it and the test decrypts and verifies it offline; another custodian records the survivor's withdrawal
by reference code and code word, and the lawyer sees the recall notice; the auditor finds every step in the log,
checks an inclusion proof offline with the command the page prints, and sees the log verify.

Every page is scanned by axe-core and photographed. Afterwards, with the browser closed, no file of the
profile holds the witness's name, the testimony, the code word or the consent details typed on the way."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Page, expect, sync_playwright

from app.access import totp
from app.access.roles import Role
from app.exports.worker import Worker
from tests.support.actors import make_user, shift_clock
from tests.support.attachments import sample
from tests.support.browser import add_incident, first_login, log_in, log_out, plan_with_checklist, upload_document
from tests.support.built import age_identity, unpack
from tests.support.server import serve
from tests.web.test_audit_pages import _offline_folder, _sign
from tests.web.test_browser import CHROMIUM, _artifacts, _scan, _watch, pytestmark
from tests.web.test_browser_admin import _admin_nav
from tests.web.test_browser_audit import _audit_nav, _check_download
from tests.web.test_browser_custodian import _nav as _custodian_nav
from tests.web.test_browser_exports import _exports_nav

__all__ = ["pytestmark"]  # the marks, shared with test_browser.py

NAME = "Canary Person Qx7"
"""The witness's name, typed twice (participation and use grants): no page asks for the interviewee's own."""
DETAIL = "Canary detail Qx7, cousin of the village head"
"""The witness's role: the consent details typed."""
CODE_WORD = "նուռ-Qx7"  # "pomegranate", said by the person and typed by the documenter
ANSWER = "Canary testimony Qx7: ночью мы ушли пешком через мост."
NOTES = "Canary notes Qx7: she asked for water after the second question."
CANARIES = (NAME, DETAIL, CODE_WORD, ANSWER, NOTES, "Qx7")
DOCUMENT = sample("pdf", 20_000)
STEP = timedelta(seconds=totp.STEP_SECONDS)
USERS = {  # username: (name, role's box on the accounts page)
    "lusine": ("Lusine Test", "Documenter"),
    "gayane": ("Gayane Test", "Legal"),
    "tigran": ("Tigran Test", "Custodian"),
    "mariam": ("Mariam Test", "Custodian"),
    "siranush": ("Siranush Test", "Auditor"),
}
CASE = "KJ-16"
RECIPIENT = "Commission of Inquiry (test)"
STEPS = {  # each user's steps, as the event log names them
    "anna": {"auth.login", "user.create", "recipient.create", "confirmation.decide", "auth.logout"},
    "boris": {"auth.login", "confirmation.decide", "case.create", "case.member_add", "auth.logout"},
    "lusine": {
        "me.password_change", "me.totp_enrol", "me.totp_confirm", "auth.login", "person.create",
        "consent.record", "interview.create", "interview.update", "draft.save", "incident.create",
        "attachment.upload", "statement.confirm", "consent.reconfirm", "consent.receipt", "auth.logout",
    },
    "gayane": {"export.preview", "export.request", "export.download", "recall.list"},
    "tigran": {"auth.step_up", "export.review", "export.approve"},
    "mariam": {"consent.lookup", "consent.withdraw"},
    "siranush": {"me.totp_confirm", "auth.login"},
}  # fmt: skip
DOCS = (
    "login",
    "cases",
    "consent-card",
    "interview",
    "export-preview",
    "custodian-review",
    "withdrawal",
    "audit",
    "audit-proof",
)
"""The screenshots kept for the README (docs/screenshots/), one 1280 x 720 view each."""


class Journey:
    """The one browser page, what it scanned and photographed, and each account's second factor."""

    def __init__(self, app: FastAPI, page: Page, shots: Path) -> None:
        self.app = app
        self.page = page
        self.shots = shots
        self.scanned: list[str] = []
        self.secrets: dict[str, str] = {}
        self.recovery: dict[str, list[str]] = {}

    def scan(self, keep: str | None = None, at: str | None = None) -> None:
        """Scan and photograph the page; ``keep`` also saves the screen's view (scrolled to ``at``) for the README."""
        _scan(self.page, self.scanned, self.shots)
        if keep:
            if at:
                self.page.locator(at).scroll_into_view_if_needed()
            self.page.screenshot(path=self.shots / "docs" / f"{keep}.png")

    def as_user(self, username: str, name: str) -> None:
        """Log in with a code of a step no earlier login of anyone has spent: the clock moves on a step first."""
        shift_clock(self.app, STEP)
        log_in(self.page, self.app, username, self.secrets[username], name)
        self.scan()


def test_the_whole_journey_in_one_browser_leaves_nothing_in_its_profile(app: FastAPI, tmp_path: Path) -> None:
    admins: dict[str, str] = {}
    for admin, name in (("anna", "Anna Test"), ("boris", "Boris Test")):
        _, secret = make_user(app, admin, [Role.ADMIN], display_name=name)
        assert secret is not None
        admins[admin] = secret
    key_file, age_key = age_identity(tmp_path)
    profile = tmp_path / "profile"
    shots = _artifacts(tmp_path, "journey")
    (shots / "docs").mkdir(exist_ok=True)
    with serve(app) as base_url, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), base_url=base_url, viewport={"width": 1280, "height": 720}
        )
        page = context.pages[0] if context.pages else context.new_page()
        problems = _watch(page)
        j = Journey(app, page, shots)
        j.secrets |= admins
        halves = _admins_set_up(j, age_key)
        for username, (name, _) in USERS.items():
            one_time = halves[username][0] + halves[username][1]
            j.secrets[username], j.recovery[username] = first_login(page, app, username, one_time, lambda _: j.scan())
            page.get_by_role("link", name="I have written them down. Continue.").click()
            expect(page.get_by_role("heading", name=f"Welcome, {name}")).to_be_visible()
            j.scan()
            log_out(page)
        _membership_confirmed(j)
        _, reference = _documenter(j)
        record_id = _export(j, tmp_path, key_file)
        _withdrawal(j, reference, record_id)
        _auditor(j, tmp_path)
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        context.close()
    assert problems == []
    assert len(j.scanned) > 40
    assert {p.stem for p in (shots / "docs").iterdir()} == set(DOCS)
    assert (shots / "receipt.pdf").stat().st_size > 0

    # The profile, closed: no file holds a canary, in UTF-8 or UTF-16.
    files = {str(f.relative_to(profile)): f.read_bytes() for f in profile.rglob("*") if f.is_file()}
    # The search can find what is there: the history keeps the addresses visited, and the form history the
    # username typed on the login page (a form without autocomplete="off").
    assert any(b"/withdrawals/lookup" in data for data in files.values())
    assert any(b"siranush" in data for data in files.values())
    found = [
        (name, canary)
        for name, data in files.items()
        for canary in CANARIES
        if canary.encode() in data or canary.encode("utf-16-le") in data
    ]
    assert found == []


def _admins_set_up(j: Journey, age_key: str) -> dict[str, tuple[str, str]]:
    """Anna asks for the five accounts and the recipient; Boris confirms them, makes the case and asks for its
    team. Each account's one-time password, in its two halves."""
    page = j.page
    page.goto("/login")
    j.scan(keep="login")
    j.as_user("anna", "Anna Test")
    _admin_nav(page, "Accounts")
    j.scan()
    first: dict[str, str] = {}
    for username, (name, role) in USERS.items():
        page.get_by_label("Username").fill(username)
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label(role, exact=True).check()
        page.get_by_role("button", name="Make the account").click()
        expect(page.locator("#created")).to_contain_text(f"Account {username} made")
        first[username] = page.locator("#first-half").inner_text()
        j.scan()
    _admin_nav(page, "Recipients")
    j.scan()
    page.get_by_label("Class").select_option("un_investigative_bodies")
    page.get_by_label("Jurisdiction").fill("international")
    page.get_by_label("Names, one a line").fill(RECIPIENT)
    page.get_by_label("Whom to tell, and how").fill("The Commission's registry, by the agreed secure channel.")
    page.get_by_label("Its age public key").fill(age_key)
    page.get_by_label("Active: exports may name it").check()
    page.get_by_role("button", name="Ask to register it").click()
    expect(page.locator("#done")).to_contain_text("another admin confirms it")
    j.scan()
    log_out(page)
    j.scan()  # the login page after logging out, with its notice

    j.as_user("boris", "Boris Test")
    _admin_nav(page, "Confirmations")
    j.scan()
    second: dict[str, str] = {}
    for username, (name, _) in USERS.items():
        request = page.locator("#waiting li").filter(has_text="A new account").filter(has_text=f"({username})")
        expect(request).to_contain_text(f"{name} ({username})")
        expect(request).to_contain_text("Anna Test (anna)")
        request.get_by_role("button", name="Confirm").click()
        second[username] = page.locator("#second-half").inner_text()
        j.scan()
    request = page.locator("#waiting li").filter(has_text=RECIPIENT)
    request.get_by_role("button", name="Confirm").click()
    expect(page.locator("#decided")).to_contain_text("confirmed")
    expect(page.locator("#none-waiting")).to_be_visible()
    j.scan()
    _admin_nav(page, "Cases and teams")
    j.scan()
    page.get_by_label("Case code").fill(CASE)
    page.get_by_label("Title").fill("Journey test, 2026")
    page.get_by_role("button", name="Make the case").click()
    expect(page.locator("#done")).to_contain_text("Case made.")
    for username in ("lusine", "gayane"):
        name, role = USERS[username]
        page.get_by_label("Who").select_option(label=f"{name} ({username}; {role})")
        page.get_by_role("button", name="Ask to add to the team").click()
        expect(page.locator("#done")).to_contain_text("another admin confirms it")
        j.scan()
    log_out(page)
    return {u: (first[u], second[u]) for u in USERS}


def _membership_confirmed(j: Journey) -> None:
    page = j.page
    j.as_user("anna", "Anna Test")
    _admin_nav(page, "Confirmations")
    j.scan()
    for username in ("lusine", "gayane"):
        request = page.locator("#waiting li").filter(has_text="Adding a member to a case team")
        request = request.filter(has_text=f"({username})")
        expect(request).to_contain_text(CASE)
        request.get_by_role("button", name="Confirm").click()
        expect(page.locator("#decided")).to_contain_text("confirmed")
        j.scan()
    _admin_nav(page, "Recipients")
    expect(page.locator("#recipients")).to_contain_text(RECIPIENT)
    j.scan()
    log_out(page)


def _documenter(j: Journey) -> tuple[str, str]:
    """Lusine registers a person, records consent and runs the interview; the person's code and the reference
    code of the use grants."""
    page = j.page
    j.as_user("lusine", "Lusine Test")
    page.get_by_role("navigation").get_by_role("link", name="My cases").click()
    expect(page.get_by_role("heading", name="My cases")).to_be_visible()
    j.scan(keep="cases")
    page.get_by_role("link", name=re.compile(CASE)).click()
    j.scan()
    page.get_by_role("button", name="Register a person").click()
    person_code = page.locator("#person-code").inner_text()
    j.scan()

    # Participation consent, read in Armenian, with one decision declined and one point explained again.
    page.get_by_label("The interviewee's language").select_option("hy")
    page.get_by_label("An adult (18 or older): the main text").check()
    page.get_by_role("button", name="Open the consent form").click()
    expect(page.get_by_role("heading", name="1. Read the form aloud, section by section")).to_be_visible()
    page.locator("details.section").nth(1).locator("summary").click()
    j.scan()
    page.get_by_label("Witness's name").fill(NAME)
    page.get_by_label("Witness's role").fill(DETAIL)
    page.get_by_label("Or age in years").fill("47")
    for decision in ("interview_now", "notes", "audio_recording", "photos", "storage", "referral"):
        page.locator(f"#decision_{decision}-yes").check()
    page.locator("#decision_video_recording-no").check()  # declined
    page.locator("#decision_re_contact-no").check()
    page.locator("#retention-P10Y").check()
    for question in ("voluntariness", "recording", "courts_and_defence", "withdrawal_limits", "re_contact"):
        page.locator(f"#teach-back-{question}-pass").check()
    page.locator("#teach-back-risks-again").check()
    page.get_by_label("The code word the person chooses").fill(CODE_WORD)
    page.locator("#receipt-code_card").check()
    j.scan(keep="consent-card", at="#decision_video_recording-no")
    page.get_by_role("button", name="Record the consent").click()
    expect(page.locator("#consent-status")).to_contain_text("consent given")
    j.scan()

    # The interview: the checklist, a declined question, a break, an incident, a document, the statement.
    page.get_by_role("navigation").get_by_role("link", name="My cases").click()
    page.get_by_role("link", name=re.compile(CASE)).click()
    page.get_by_role("link", name=f"Interviews of {person_code}").click()
    plan_with_checklist(page, date.today() + timedelta(days=1))
    j.scan()
    page.get_by_role("button", name="Plan the interview").click()
    expect(page.locator("#checklist-done")).to_be_visible()
    j.scan()
    page.get_by_role("button", name="Start the interview").click()
    expect(page.locator("#interview-state")).to_contain_text("in progress")
    j.scan()
    page.locator("#state_background-declined").check()
    page.locator("#state_events-answered").check()
    page.locator("#answer_events").fill(ANSWER)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?saved=1#draft$"))
    page.wait_for_load_state("load")
    expect(page.locator("#saved-at")).to_contain_text("Saved.")
    j.scan(keep="interview", at="#content-warning")
    page.get_by_label("Why the break").fill("A rest")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#interview-state")).to_contain_text("paused")
    j.scan()
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#interview-state")).to_contain_text("in progress")
    j.scan()
    add_incident(page)
    j.scan()
    upload_document(page, DOCUMENT)
    j.scan()
    before = page.locator("#saved-at").inner_text()
    page.get_by_label("Working notes (free text)").fill(NOTES)
    page.keyboard.press("Tab")  # the page's script saves the draft when a changed field is left
    expect(page.locator("#saved-at")).not_to_have_text(before)
    expect(page.locator("#readback-text")).to_contain_text(NOTES)
    expect(page.locator("#readback-text")).to_contain_text("Declined to answer")
    page.get_by_label("The draft above was read back to the interviewee and they confirmed it").check()
    page.get_by_role("button", name="Record the confirmed statement").click()
    expect(page.locator("#statements")).to_contain_text("Version 1 confirmed")
    j.scan()

    # The reconfirmation at the end: the person's first use grants, then the printable receipt.
    page.locator("#grant1_purpose").select_option("un_fact_finding")
    page.locator("#grant1_recipient_class").select_option("un_investigative_bodies")
    page.locator("#grant1_cat-narrative_general").check()
    page.locator("#grant1_cat-narrative_sexual_violence").check()  # what a statement's free text is filed under
    page.locator("#grant1_disclosure_level").select_option("pseudonymous")
    page.get_by_label("Witness's name").fill(NAME)
    page.get_by_label("Witness's role").fill(DETAIL)
    page.locator("#receipt-printed_receipt").check()
    page.get_by_role("button", name="Record the first use grants").click()
    reference = page.locator("#reference-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z-]{20,}", reference), reference
    j.scan()
    interview_url = re.sub(r"(/interviews/[0-9a-f-]{36}).*", r"\1", page.url)
    page.get_by_role("link", name="Open the printable receipt").click()
    expect(page.locator("main > ul > li")).to_have_count(1)  # the one use granted
    page.pdf(path=j.shots / "receipt.pdf")  # as it prints
    expect(page.locator("main")).not_to_contain_text(reference)  # printed only when sent with it: written by hand
    j.scan()
    page.goto(interview_url)
    page.get_by_role("button", name="Complete the interview").click()
    expect(page.locator("#interview-state")).to_contain_text("completed")
    j.scan()
    log_out(page)
    return person_code, reference


def _export(j: Journey, tmp_path: Path, key_file: Path) -> str:
    """Gayane asks, Tigran approves after a step-up, the worker builds, Gayane downloads and the test verifies
    the bundle offline. The record's id in the bundle."""
    page, app = j.page, j.app
    j.as_user("gayane", "Gayane Test")
    _exports_nav(page, "Ask for an export")
    j.scan()
    page.get_by_label(CASE).check()
    page.get_by_label("Recipient").select_option(label=RECIPIENT)
    page.get_by_label("Purpose").select_option(label="UN fact-finding")
    page.get_by_label("Narrative", exact=True).check()
    page.get_by_label("Narrative of sexual violence").check()
    page.get_by_label("Most revealing level allowed").select_option(label="Under a code, not a name")
    page.get_by_label("Justification").fill("The Commission asked for accounts of the crossing.")
    page.get_by_role("button", name="Preview the counts").click()
    level = page.locator("#preview").get_by_role("row", name="Under a code, not a name")
    expect(level).to_contain_text("fewer than 5, not shown")  # one person: a count this small is not shown
    j.scan(keep="export-preview")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#status")).to_have_text("waiting for a custodian")
    export_url = page.url.split("?")[0]
    j.scan()
    log_out(page)

    j.as_user("tigran", "Tigran Test")
    _exports_nav(page, "Export requests")
    j.scan()
    shift_clock(app, timedelta(minutes=6))  # his second factor is old by now: the review asks for it again
    page.get_by_role("link", name="Review and decide").click()
    expect(page.locator("#step-up")).to_be_visible()
    # Exact for the custodian who decides: the one person, where the lawyer's preview showed no count.
    expect(page.locator("#counts").get_by_role("row", name="Under a code, not a name").locator("td")).to_have_text("1")
    expect(page.locator("#basis code")).to_have_count(1)  # the one grant relied on, by id
    j.scan(keep="custodian-review", at="#counts")
    page.get_by_label("Or a recovery code").fill(j.recovery["tigran"][0])  # this step's code is spent
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.locator("#step-up")).to_have_count(0)
    j.scan()
    page.get_by_label("Reason for your decision").fill("Within the stated purpose and the grants.")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#status")).to_have_text("approved, being prepared")
    j.scan()
    log_out(page)
    assert Worker(app.state.sessionmaker, app.state.runtime).run_once() is True

    j.as_user("gayane", "Gayane Test")
    page.goto(export_url)
    expect(page.locator("#status")).to_have_text("ready to download")
    j.scan()
    with page.expect_download() as arriving:
        page.get_by_role("button", name="Download the sealed file").click()
    saved = tmp_path / "download.bin"
    arriving.value.save_as(saved)
    # Away from the app: decrypted with age and the recipient's key, then the standalone verifier, sha256sum -c.
    bundle = unpack(app, export_url.rsplit("/", 1)[1], tmp_path / "bundle", key_file, saved.read_bytes())
    (record,) = [json.loads(line) for line in bundle.files["records.jsonl"].decode().splitlines()]
    assert record["level"] == "pseudonymous"
    (interview,) = record["interviews"]
    assert interview["statement"]["text"] == NOTES
    assert [a["state"] for a in interview["statement"]["answers"]] == ["declined", "answered"]
    assert ANSWER in json.dumps(interview["statement"]["answers"], ensure_ascii=False)
    page.reload()
    expect(page.locator("#download")).to_contain_text("Downloaded 1 of 3 times")
    j.scan()
    log_out(page)
    record_id: str = record["record"]
    return record_id


def _withdrawal(j: Journey, reference: str, record_id: str) -> None:
    """Mariam records the withdrawal the survivor asked for on the phone; Gayane sees the recall notice."""
    page = j.page
    j.as_user("mariam", "Mariam Test")
    _custodian_nav(page, "Withdrawals")
    j.scan()
    page.get_by_label("Reference code").fill(reference.lower().replace("-", " "))
    page.get_by_label("Code word").fill(CODE_WORD)
    page.get_by_role("button", name="Find the record").click()
    expect(page.locator("#reminder")).to_contain_text("call the person back on the safe channel")
    card = page.locator("#found li").filter(has_text="in force")
    j.scan(keep="withdrawal", at="#reminder")
    card.get_by_label("Every use this record allows").check()
    card.get_by_label("Stop every future use", exact=True).check()
    card.get_by_label("How the withdrawal reached us").select_option(label="By phone")
    card.get_by_role("button", name="Record the withdrawal").click()
    expect(page.locator("#recall-count")).to_have_text("Notices raised: 1. Exports they concern: 1.")
    j.scan()
    log_out(page)

    j.as_user("gayane", "Gayane Test")
    _exports_nav(page, "Recall notices")
    notice = page.locator("#recalls tbody tr")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text(RECIPIENT)
    expect(notice).to_contain_text(record_id)
    j.scan()
    log_out(page)


def _auditor(j: Journey, tmp_path: Path) -> None:
    """Siranush finds each user's steps in the log, checks the withdrawal's inclusion proof offline, and sees the
    log verify."""
    page, app = j.page, j.app
    j.as_user("siranush", "Siranush Test")
    _audit_nav(page, "Event log")
    j.scan()
    for username, actions in STEPS.items():
        page.get_by_label("Actor").fill(username)
        page.get_by_role("button", name="Show events").click()
        expect(page.locator("#events tbody tr").first).to_contain_text(username)  # the actor, by username
        shown = set(page.locator("#events tbody td:nth-child(4)").all_inner_texts())
        j.scan()
        while page.locator("#next-page").count():
            page.locator("#next-page").click()
            shown |= set(page.locator("#events tbody td:nth-child(4)").all_inner_texts())
            j.scan()
        assert actions <= shown, (username, actions - shown)
    page.get_by_label("Actor").fill("")
    page.get_by_label("Action").select_option("export.build")
    page.get_by_role("button", name="Show events").click()
    expect(page.locator("#events tbody tr")).to_have_count(1)  # the worker's build
    j.scan()
    size = _sign(app)
    _audit_nav(page, "Log verification")
    expect(page.locator("#verified")).to_contain_text(f"Log verified up to event {size - 1} at ")
    j.scan(keep="audit")
    _audit_nav(page, "Event log")
    page.get_by_label("Actor").fill("mariam")
    page.get_by_label("Action").select_option("consent.withdraw")
    page.get_by_role("button", name="Show events").click()
    expect(page.locator("#events tbody tr")).to_have_count(1)
    j.scan()
    seq = page.locator("#events tbody tr").first.locator("td").first.inner_text()
    page.get_by_role("link", name=f"Inclusion proof of event {seq}").click()
    page.get_by_label("Checkpoint (its number of entries)", exact=True).fill(str(size))
    page.get_by_role("button", name="Prepare the inclusion proof").click()
    expect(page.locator("#inclusion-ready")).to_be_visible()
    j.scan(keep="audit-proof", at="#inclusion-ready")
    out = _check_download(page, "inclusion-download", "inclusion-command", _offline_folder(tmp_path))
    assert f"OK: event {seq} is in the tree of {size} entries signed by the pinned key" in out
    log_out(page)
