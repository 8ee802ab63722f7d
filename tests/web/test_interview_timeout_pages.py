"""A page that times out mid-interview loses nothing that was autosaved: the draft saved by the page (as
its script saves it, by posting the draft form) is on the server; the session then ends for idleness;
the next request leads to the login page with the ended-session notice, a save sent after the end is
refused without touching the draft, and after logging in again the interview page shows the draft whole."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

from fastapi import FastAPI

from app.access.roles import Role
from tests.support.actors import PASSWORD, actor, code, login, make_user, runtime, shift_clock
from tests.support.consent import record_use_consent
from tests.support.interviews import checklist, consenting_person, new_interview
from tests.support.pages import browser, submit, token_in

NOTES = "She asked to stop for water; we went on after ten minutes."
ANSWER = "We left on foot, at night, with my mother and two neighbours."


def test_a_page_that_times_out_mid_interview_loses_nothing_that_was_autosaved(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KB-7", "title": "Goris interviews"}).json()
    _, secret = make_user(app, "lusine", [Role.DOCUMENTER], cases=(uuid.UUID(case["id"]),))
    assert secret is not None
    api = login(app, "lusine", secret)  # its step is spent: the pages use the next ones
    person = consenting_person(api, case["id"], app)
    record_use_consent(api, person, app)
    interview = new_interview(api, person, checklist=checklist())["id"]
    revision = api.get(f"/api/v1/interviews/{interview}").json()["revision"]
    body = {"revision": revision, "state": "in_progress"}
    assert api.request("PATCH", f"/api/v1/interviews/{interview}", json=body).status_code == 200

    page = browser(app)
    fields = {"username": "lusine", "password": PASSWORD}
    assert submit(page, "/login", "/login", {**fields, "totp": code(secret, app, steps=1)}).status_code == 303
    shown = page.get(f"/interviews/{interview}")
    assert shown.status_code == 200
    token = token_in(shown.text)
    # The autosave: the draft form posted as it stands, the answer it redirects to read for "saved at".
    saved = page.post(
        f"/interviews/{interview}/draft",
        data={
            "csrf_token": token,
            "state_background": "declined",
            "state_events": "answered",
            "answer_events": ANSWER,
            "text": NOTES,
        },
    )
    assert (saved.status_code, saved.headers["location"]) == (303, f"/interviews/{interview}?saved=1#draft")
    status = re.search(r'<p id="saved-at" role="status">(.*?)</p>', page.get(saved.headers["location"]).text, re.S)
    assert status is not None
    assert "Saved." in status.group(1)
    revision_saved = re.search(r"\(revision (\d+)\)", status.group(1))
    assert revision_saved is not None

    # Idle past the limit: the session is over on the server, and the next page says so.
    cookie = page.cookies["testimony_session"]
    shift_clock(app, timedelta(minutes=runtime(app).settings.session.idle_minutes + 1))
    ended = page.get(f"/interviews/{interview}")
    assert (ended.status_code, ended.headers["location"]) == (303, "/login?ended=1")
    assert "testimony_session" not in page.cookies
    notice = page.get(ended.headers["location"])
    assert notice.status_code == 200
    assert "Your session has ended." in notice.text
    # An autosave from another tab still holding the ended session changes nothing.
    other_tab = browser(app)
    other_tab.cookies.set("testimony_session", cookie)
    late = other_tab.post(f"/interviews/{interview}/draft", data={"csrf_token": token, "text": "typed after the end"})
    assert (late.status_code, late.headers["location"]) == (303, "/login?ended=1")

    # Logged in again, the same browser finds the draft as it was autosaved: nothing lost, nothing added.
    again = submit(page, "/login?ended=1", "/login", {**fields, "totp": code(secret, app)})
    assert again.status_code == 303, again.text
    back = page.get(f"/interviews/{interview}")
    assert back.status_code == 200
    text = unescape(back.text)
    assert f">{NOTES}</textarea>" in text
    assert f">{ANSWER}</textarea>" in text
    assert re.search(r'id="state_background-declined" name="state_background" value="declined" checked', back.text)
    assert f"(revision {revision_saved.group(1)})" in back.text
    assert "typed after the end" not in text
