"""The interview pages, posted as a browser without JavaScript posts them and checked through the API
afterwards: planning with the do-no-harm checklist, start, a break with its reason, resume, the draft
with a declined question, the read-back and confirmation, the reconfirmation and completion; the
interviewee stopping; and refusals shown in the page with nothing recorded."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from tests.support.actors import Actor
from tests.support.consent import record_use_consent
from tests.support.interviews import consenting_person, new_interview
from tests.support.world import World
from tests.web.test_pages import assert_page_headers

ANSWER = "We left Stepanakert on foot, at night."
NOTES = "She asked for a glass of water after the second question."


def _doc(world: World) -> Actor:
    doc = world.actors["doc_in"]
    doc.client.follow_redirects = False
    return doc


def _post(doc: Actor, path: str, fields: dict[str, Any]) -> Any:
    assert doc.csrf is not None
    return doc.client.post(path, data={"csrf_token": doc.csrf, **fields})


def plan_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "date": (date.today() + timedelta(days=3)).isoformat(),
        "time": "10:30",
        "utc_offset": "+04:00",
        "language": "hy",
        "place": "Goris, community centre",
        "private_setting": "yes",
        "accompanied_by": ["alone"],
        "referral_available_locally": "yes",
        "incident_types": ["arbitrary_detention", "forced_displacement"],
        "justification": "First account of the detention; no prior recorded statement.",
    }
    return fields | overrides


def _interview(doc: Actor, interview: str) -> dict[str, Any]:
    read = doc.get(f"/api/v1/interviews/{interview}")
    assert read.status_code == 200, read.text
    result: dict[str, Any] = read.json()
    return result


def _planned(world: World) -> tuple[Actor, str, str]:
    """A consenting person and an interview planned for them through the page."""
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    made = _post(doc, f"/people/{person}/interviews", plan_fields())
    assert made.status_code == 303, made.text
    assert re.fullmatch(r"/interviews/[0-9a-f-]{36}", made.headers["location"])
    return doc, person, made.headers["location"].rsplit("/", 1)[1]


def _move(doc: Actor, interview: str, move: str, **extra: str) -> Any:
    revision = str(_interview(doc, interview)["revision"])
    return _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": move, **extra})


def test_planning_records_the_interview_and_its_checklist(world: World) -> None:
    doc, person, interview = _planned(world)
    listed = doc.get(f"/people/{person}/interviews")
    assert listed.status_code == 200
    assert_page_headers(listed)
    assert f'href="/interviews/{interview}"' in listed.text
    read = _interview(doc, interview)
    assert (read["state"], read["language"], read["interviewers"]) == ("planned", "hy", [str(doc.user_id)])
    assert read["scheduled_at"].endswith(("06:30:00Z", "06:30:00+00:00"))  # 10:30 in Yerevan, in UTC
    checklist = read["checklist"]
    assert (checklist["private_setting"], checklist["accompanied_by"]) == (True, ["alone"])
    assert checklist["incident_types"] == ["arbitrary_detention", "forced_displacement"]
    page = doc.get(f"/interviews/{interview}")
    assert page.status_code == 200
    assert_page_headers(page)
    assert 'id="content-warning"' in page.text
    assert "Do-no-harm checklist completed" in page.text
    assert 'value="start"' in page.text


def test_an_incomplete_checklist_is_shown_again_naming_it_and_nothing_is_planned(world: World) -> None:
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    fields = plan_fields(incident_types=["sexual_or_gender_based_violence"])
    del fields["private_setting"]
    refused = _post(doc, f"/people/{person}/interviews", fields)
    assert refused.status_code == 422
    assert_page_headers(refused)
    assert 'role="alert"' in refused.text
    assert 'href="#checklist"' in refused.text
    assert "First account of the detention" in refused.text  # what was entered is kept
    assert 'id="incident-type-sexual_or_gender_based_violence" name="incident_types" value' in refused.text
    assert doc.get(f"/api/v1/people/{person}/interviews").json()["items"] == []


def test_the_walk_from_start_to_completion(world: World) -> None:
    doc, person, interview = _planned(world)
    assert _move(doc, interview, "start").headers["location"] == f"/interviews/{interview}#state"
    page = doc.get(f"/interviews/{interview}")
    assert "The interviewee wants to stop" in page.text
    assert 'name="state_background"' in page.text
    assert not re.search(r'name="state_[a-z_]+" value="(answered|declined)" checked', page.text)

    saved = _post(
        doc,
        f"/interviews/{interview}/draft",
        {"state_background": "declined", "state_events": "answered", "answer_events": ANSWER, "text": NOTES},
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/interviews/{interview}?saved=1#draft"
    draft = doc.get(f"/api/v1/interviews/{interview}/draft").json()
    assert draft["guide"] == {"id": "standard", "version": "v1"}
    assert [(a["question"], a["state"], a["text"]) for a in draft["answers"]] == [
        ("background", "declined", None),
        ("events", "answered", ANSWER),
    ]
    assert draft["text"] == NOTES
    shown = doc.get(saved.headers["location"])
    assert "Saved." in shown.text
    assert f"(revision {draft['revision']})" in shown.text
    assert re.search(r'id="state_background-declined" name="state_background" value="declined" checked', shown.text)

    assert _move(doc, interview, "pause", break_reason="She needed a rest").status_code == 303
    assert _interview(doc, interview)["state"] == "paused"
    assert _move(doc, interview, "resume").status_code == 303
    read = _interview(doc, interview)
    assert read["state"] == "in_progress"
    assert [b["reason"] for b in read["breaks"]] == ["She needed a rest"]
    assert read["breaks"][0]["ended_at"] is not None

    confirmed = _post(
        doc,
        f"/interviews/{interview}/statements",
        {"version": "1", "draft_revision": str(draft["revision"]), "read_back_in": "hy", "confirmed": "yes"},
    )
    assert confirmed.status_code == 303, confirmed.text
    (version,) = doc.get(f"/api/v1/interviews/{interview}/statements").json()["items"]
    assert (version["version"], version["draft_revision"]) == (1, draft["revision"])
    assert "Version 1 confirmed" in doc.get(f"/interviews/{interview}").text

    # Completing needs the reconfirmation first: refused in the page, then recorded.
    refused = _move(doc, interview, "complete")
    assert refused.status_code == 409
    assert 'href="#state"' in refused.text
    assert _interview(doc, interview)["state"] == "in_progress"
    record_use_consent(doc, person, world.app)
    assert _post(doc, f"/interviews/{interview}/reconfirm", {"outcome": "confirmed"}).status_code == 303
    assert _move(doc, interview, "complete").status_code == 303
    read = _interview(doc, interview)
    assert read["state"] == "completed"
    assert read["reconfirmation"]["outcome"] == "confirmed"
    done = doc.get(f"/interviews/{interview}")
    assert "Reconfirmed at" in done.text
    assert 'name="move"' not in done.text  # nothing left to move


def test_the_interviewee_stops_the_interview(world: World) -> None:
    doc, _person, interview = _planned(world)
    assert _move(doc, interview, "start").status_code == 303
    stopped = _move(doc, interview, "stop")
    assert stopped.status_code == 303
    assert _interview(doc, interview)["state"] == "stopped_by_interviewee"
    page = doc.get(f"/interviews/{interview}")
    assert "stopped by the interviewee" in page.text
    assert 'action="/interviews/' + interview + '/draft"' not in page.text


def test_a_statement_not_confirmed_by_the_interviewee_is_refused_and_nothing_is_recorded(world: World) -> None:
    doc, _person, interview = _planned(world)
    assert _move(doc, interview, "start").status_code == 303
    assert _post(doc, f"/interviews/{interview}/draft", {"text": NOTES}).status_code == 303
    refused = _post(
        doc, f"/interviews/{interview}/statements", {"version": "1", "draft_revision": "1", "read_back_in": "hy"}
    )
    assert refused.status_code == 422
    assert 'href="#read-back"' in refused.text
    assert doc.get(f"/api/v1/interviews/{interview}/statements").json()["items"] == []
    # A button pressed on a page read before another change: refused in the page, nothing moved.
    stale = _post(doc, f"/interviews/{interview}/state", {"revision": "1", "move": "pause", "break_reason": "Tea"})
    assert stale.status_code == 409, stale.text
    assert 'href="#state"' in stale.text
    assert _interview(doc, interview)["state"] == "in_progress"


def test_first_use_grants_at_the_end_show_the_reference_code_once_and_link_the_receipt(world: World) -> None:
    doc, person, interview = _planned(world)
    assert _move(doc, interview, "start").status_code == 303
    page = doc.get(f"/interviews/{interview}")
    assert 'id="grant1_purpose"' in page.text
    assert not re.search(r'name="grant\d_categories" value="[a-z_]+" checked', page.text)  # nothing ticked
    fields: dict[str, Any] = {
        "outcome": "first",
        "grant1_purpose": "un_fact_finding",
        "grant1_recipient_class": "un_investigative_bodies",
        "grant1_categories": ["narrative_general", "alleged_perpetrators"],
        "grant1_disclosure_level": "pseudonymous",
        "witness_name": "Witness One",
        "witness_role": "field coordinator",
        "receipt": "code_card",
    }
    incomplete = _post(doc, f"/interviews/{interview}/reconfirm", {**fields, "grant1_disclosure_level": ""})
    assert incomplete.status_code == 422
    assert 'href="#first-grants"' in incomplete.text
    assert re.search(r'value="alleged_perpetrators" checked', incomplete.text)  # what was entered is kept
    assert doc.get(f"/api/v1/people/{person}/consents").json()["items"] == []

    made = _post(doc, f"/interviews/{interview}/reconfirm", fields)
    assert made.status_code == 200, made.text
    assert_page_headers(made)
    shown = re.search(r'<p class="code" id="reference-code">([^<]+)</p>', made.text)
    assert shown is not None
    (record,) = doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    assert f'href="/api/v1/consents/{record["id"]}/receipt.html"' in made.text
    assert [(g["purpose"], g["disclosure_level"]) for g in record["grants"]] == [("un_fact_finding", "pseudonymous")]
    assert record["receipt"] == "code_card"
    # The code is not shown again, and the printable receipt prints it only when sent with it.
    assert shown.group(1) not in doc.get(f"/interviews/{interview}").text
    printed = doc.get(f"/api/v1/consents/{record['id']}/receipt.html")
    assert printed.status_code == 200
    assert shown.group(1) not in printed.text
    with_code = doc.get(f"/api/v1/consents/{record['id']}/receipt.html", headers={"Reference-Code": shown.group(1)})
    assert shown.group(1) in with_code.text
    assert _move(doc, interview, "complete").status_code == 303
    assert _interview(doc, interview)["reconfirmation"]["outcome"] == "first"


def test_incidents_referrals_and_the_upload_form(world: World) -> None:
    doc, _person, interview = _planned(world)
    assert _move(doc, interview, "start").status_code == 303
    incident = {
        "incident_from": "2023-09-01",
        "incident_to": "2023-10-01",
        "precision": "month",
        "incident_place": "The road to the airport",
        "violation_types": ["arbitrary_detention", "forced_displacement"],
        "perpetrators": "Men in uniform at a checkpoint\n\nA commander they called by rank",
        "other_victims_count": "3",
        "other_victims_description": "Her neighbours",
        "witnesses_count": "1",
    }
    no_type = _post(doc, f"/interviews/{interview}/incidents", {**incident, "violation_types": []})
    assert no_type.status_code == 422
    assert 'href="#incidents"' in no_type.text
    assert 'value="The road to the airport"' in no_type.text
    added = _post(doc, f"/interviews/{interview}/incidents", incident)
    assert added.status_code == 303, added.text
    (row,) = doc.get(f"/api/v1/interviews/{interview}/incidents").json()["items"]
    read = doc.get(f"/api/v1/incidents/{row['id']}").json()
    assert read["date"] == {"start": "2023-09-01", "end": "2023-10-01", "precision": "month"}
    assert read["violation_types"] == ["arbitrary_detention", "forced_displacement"]
    assert read["perpetrators"] == ["Men in uniform at a checkpoint", "A commander they called by rank"]
    assert (read["other_victims"], read["other_victims_description"], read["witnesses"]) == (3, "Her neighbours", 1)

    revision = str(_interview(doc, interview)["revision"])
    referred = _post(
        doc, f"/interviews/{interview}/referrals", {"revision": revision, "need": "psychosocial", "contact": "Centre"}
    )
    assert referred.status_code == 303, referred.text
    assert [(r["need"], r["contact"]) for r in _interview(doc, interview)["referrals"]] == [("psychosocial", "Centre")]
    page = doc.get(f"/interviews/{interview}")
    assert "Psychosocial support: Centre" in page.text
    assert 'id="incident-rows"' in page.text
    # The upload form posts to the page's own upload route, its CSRF token first (the route reads it there).
    form = re.search(
        r'<form method="post" action="([^"]+)" enctype="multipart/form-data"[^>]*>\s*<input ([^>]+)>', page.text
    )
    assert form is not None
    assert form.group(1) == f"/interviews/{interview}/attachments"
    assert 'name="csrf_token"' in form.group(2)


def test_an_interview_planned_without_its_checklist_gets_it_on_its_page_before_it_starts(world: World) -> None:
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    interview = new_interview(doc, person)["id"]
    page = doc.get(f"/interviews/{interview}")
    assert "The do-no-harm checklist is not completed" in page.text
    assert f'action="/interviews/{interview}/checklist"' in page.text
    refused = _move(doc, interview, "start")
    assert refused.status_code == 409, refused.text
    assert 'href="#checklist"' in refused.text
    assert _interview(doc, interview)["state"] == "planned"
    fields = {k: v for k, v in plan_fields().items() if k not in {"date", "time", "utc_offset", "language", "place"}}
    recorded = _post(doc, f"/interviews/{interview}/checklist", {"revision": "1", **fields})
    assert recorded.status_code == 303, recorded.text
    assert _interview(doc, interview)["checklist"]["private_setting"] is True
    assert _move(doc, interview, "start").status_code == 303
    assert _interview(doc, interview)["state"] == "in_progress"
