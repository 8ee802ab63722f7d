"""Changing a planned interview's plan on its page, as a browser without JavaScript posts it: the same service
as PATCH /api/v1/interviews/{id} with ``interviewers``, or with ``scheduled_at``, ``language`` and ``place``.
Only active documenters on the case team are offered and accepted as interviewers, each change is audited,
and once the interview has started the forms are gone and a change posted anyway is refused with nothing
changed."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from tests.support.actors import Actor
from tests.support.interviews import consenting_person
from tests.support.world import World
from tests.web.test_interview_pages import plan_fields
from tests.web.test_pages import assert_page_headers


def _doc(world: World) -> Actor:
    doc = world.actors["doc_in"]
    doc.client.follow_redirects = False
    return doc


def _post(doc: Actor, path: str, fields: dict[str, Any]) -> Any:
    assert doc.csrf is not None
    return doc.client.post(path, data={"csrf_token": doc.csrf, **fields})


def _read(doc: Actor, interview: str) -> dict[str, Any]:
    read = doc.get(f"/api/v1/interviews/{interview}")
    assert read.status_code == 200, read.text
    result: dict[str, Any] = read.json()
    return result


def _planned(world: World) -> tuple[Actor, str]:
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    made = _post(doc, f"/people/{person}/interviews", plan_fields())
    assert made.status_code == 303, made.text
    return doc, made.headers["location"].rsplit("/", 1)[1]


def _updates(world: World, interview: str) -> list[tuple[str, str]]:
    with unit_of_work(world.app.state.sessionmaker) as s:
        rows = s.execute(
            select(AuditEvent.actor, AuditEvent.outcome)
            .where(AuditEvent.action == "interview.update", AuditEvent.resource_id == interview)
            .order_by(AuditEvent.seq)
        )
        return [(actor, outcome) for actor, outcome in rows]


def _names(html: str) -> str:
    """Who the page says the interviewers are."""
    line = re.search(r'<p id="interviewers">Interviewers: (.*?)</p>', html, re.S)
    assert line is not None
    return line.group(1).strip()


def _plan_form(html: str) -> dict[str, str]:
    """The plan form's fields as the page fills them: inputs' values and the selects' chosen options."""
    form = re.search(r'<form [^>]*action="/interviews/[^"]+/plan".*?</form>', html, re.S)
    assert form is not None, "no plan form"
    found = dict(re.findall(r'<input (?:type="\w+" )?id="plan-\w+" name="(\w+)"[^>]* value="([^"]*)"', form.group(0)))
    for name, options in re.findall(r'<select id="plan-\w+" name="(\w+)">(.*?)</select>', form.group(0), re.S):
        chosen = re.search(r'<option value="([^"]+)"[^>]* selected>', options)
        assert chosen is not None, name
        found[name] = chosen.group(1)
    return found


def _ticked(html: str) -> set[str]:
    form = re.search(r'<form [^>]*action="/interviews/[^"]+/interviewers".*?</form>', html, re.S)
    assert form is not None, "no interviewers form"
    return set(re.findall(r'name="interviewers" value="([^"]+)" checked', form.group(0)))


def test_the_interviewers_of_a_planned_interview_are_changed_on_its_page(world: World) -> None:
    doc, interview = _planned(world)
    other = str(world.actors["doc_pw"].user_id)  # a documenter on the team (a password change pending)
    page = doc.get(f"/interviews/{interview}")
    assert page.status_code == 200
    assert_page_headers(page)
    # The team's documenters are offered, the current interviewers ticked; no one off the team is offered.
    assert _ticked(page.text) == {str(doc.user_id)}
    assert f'id="interviewer-{other}"' in page.text
    assert f'id="interviewer-{world.actors["doc_out"].user_id}"' not in page.text
    assert f'id="interviewer-{world.actors["legal_in"].user_id}"' not in page.text
    assert _names(page.text) == "doc-in"

    changed = _post(doc, f"/interviews/{interview}/interviewers", {"revision": "1", "interviewers": [other]})
    assert (changed.status_code, changed.headers["location"]) == (303, f"/interviews/{interview}#plan")
    assert_page_headers(changed)
    read = _read(doc, interview)
    assert (read["interviewers"], read["revision"], read["state"]) == ([other], 2, "planned")
    shown = doc.get(f"/interviews/{interview}").text
    assert _names(shown) == "doc-pw"
    assert _ticked(shown) == {other}
    # The documenter who changed it still reads and runs it: reading goes by the case team.
    two = {"revision": "2", "interviewers": [str(doc.user_id), other]}
    both = _post(doc, f"/interviews/{interview}/interviewers", two)
    assert both.status_code == 303, both.text
    assert sorted(_read(doc, interview)["interviewers"]) == sorted([str(doc.user_id), other])
    assert _names(doc.get(f"/interviews/{interview}").text) == "doc-in, doc-pw"
    assert _updates(world, interview) == [(f"user:{doc.user_id}", "allowed")] * 2


def test_a_refused_change_is_shown_again_and_changes_nothing(world: World) -> None:
    doc, interview = _planned(world)
    outsider = str(world.actors["doc_out"].user_id)
    before = _read(doc, interview)
    # Someone off the team: named by the service, the ticks as posted kept on the page.
    off_team = _post(doc, f"/interviews/{interview}/interviewers", {"revision": "1", "interviewers": [outsider]})
    assert off_team.status_code == 422, off_team.text
    assert_page_headers(off_team)
    assert "every interviewer must be an active documenter on the case team" in off_team.text
    assert 'href="#plan"' in off_team.text
    # No one ticked: the service refuses an interview without interviewers; the form shows none ticked.
    nobody = _post(doc, f"/interviews/{interview}/interviewers", {"revision": "1", "interviewers_shown": "yes"})
    assert nobody.status_code == 422, nobody.text
    assert 'role="alert"' in nobody.text
    assert _ticked(nobody.text) == set()
    # Read before someone else changed it: stale.
    stale = _post(doc, f"/interviews/{interview}/interviewers", {"revision": "7", "interviewers": [str(doc.user_id)]})
    assert stale.status_code == 409, stale.text
    assert "the interview changed since it was read" in stale.text
    assert _read(doc, interview) == before
    assert [outcome for _, outcome in _updates(world, interview)] == ["failed"] * 3


def test_once_started_the_interviewers_are_part_of_the_record(world: World) -> None:
    doc, interview = _planned(world)
    other = str(world.actors["doc_pw"].user_id)
    started = _post(doc, f"/interviews/{interview}/state", {"revision": "1", "move": "start"})
    assert started.status_code == 303, started.text
    page = doc.get(f"/interviews/{interview}").text
    assert f'action="/interviews/{interview}/interviewers"' not in page
    assert _names(page) == "doc-in"
    refused = _post(doc, f"/interviews/{interview}/interviewers", {"revision": "2", "interviewers": [other]})
    assert refused.status_code == 409, refused.text
    assert "once the interview has started its plan is part of the record and does not change" in refused.text
    assert _read(doc, interview)["interviewers"] == [str(doc.user_id)]


def test_a_documenter_off_the_team_cannot_change_them(world: World) -> None:
    _, interview = _planned(world)
    outsider = world.actors["doc_out"]
    outsider.client.follow_redirects = False
    refused = _post(outsider, f"/interviews/{interview}/interviewers", {"revision": "1", "interviewers": []})
    assert refused.status_code == 404
    assert _read(_doc(world), interview)["interviewers"] == [str(world.actors["doc_in"].user_id)]


def test_a_planned_interview_is_rescheduled_on_its_page(world: World) -> None:
    doc, interview = _planned(world)
    before = _read(doc, interview)
    page = doc.get(f"/interviews/{interview}").text
    shown = _plan_form(page)
    # The plan as it stands, in UTC: sent back unchanged, it changes nothing but the revision.
    assert shown == {
        "date": before["scheduled_at"][:10],
        "time": before["scheduled_at"][11:16],
        "utc_offset": "+00:00",
        "language": "hy",
        "place": "Goris, community centre",
    }
    same = _post(doc, f"/interviews/{interview}/plan", {"revision": "1", **shown})
    assert (same.status_code, same.headers["location"]) == (303, f"/interviews/{interview}#plan")
    kept = _read(doc, interview)
    assert (kept["scheduled_at"], kept["language"], kept["place"], kept["revision"]) == (
        before["scheduled_at"],
        "hy",
        "Goris, community centre",
        2,
    )
    # A day later, at 15:00 in Yerevan, in Russian, the place left empty (cleared).
    later = (date.fromisoformat(shown["date"]) + timedelta(days=1)).isoformat()
    moved = {"revision": "2", "date": later, "time": "15:00", "utc_offset": "+04:00", "language": "ru", "place": " "}
    assert _post(doc, f"/interviews/{interview}/plan", moved).status_code == 303
    read = _read(doc, interview)
    assert read["scheduled_at"].startswith(f"{later}T11:00:00")
    assert (read["language"], read["place"], read["interviewers"]) == ("ru", None, [str(doc.user_id)])
    assert _plan_form(doc.get(f"/interviews/{interview}").text)["time"] == "11:00"
    assert [outcome for _, outcome in _updates(world, interview)] == ["allowed"] * 2


def test_a_refused_plan_is_shown_again_and_changes_nothing(world: World) -> None:
    doc, interview = _planned(world)
    before = _read(doc, interview)
    no_date = {"revision": "1", "date": "", "time": "09:00", "utc_offset": "+04:00", "language": "en", "place": "Kapan"}
    refused = _post(doc, f"/interviews/{interview}/plan", {**no_date, "plan_shown": "yes"})
    assert refused.status_code == 422, refused.text
    assert_page_headers(refused)
    assert 'href="#plan"' in refused.text
    assert _plan_form(refused.text) | {"date": ""} == {k: v for k, v in no_date.items() if k != "revision"}
    too_far = {**no_date, "date": (date.today() + timedelta(days=800)).isoformat()}
    assert _post(doc, f"/interviews/{interview}/plan", too_far).status_code == 422
    assert _post(doc, f"/interviews/{interview}/plan", {**too_far, "date": "2026-02-30"}).status_code == 422
    assert _read(doc, interview) == before
    started = _post(doc, f"/interviews/{interview}/state", {"revision": "1", "move": "start"})
    assert started.status_code == 303, started.text
    page = doc.get(f"/interviews/{interview}").text
    assert f'action="/interviews/{interview}/plan"' not in page
    moved = {**no_date, "revision": "2", "date": (date.today() + timedelta(days=5)).isoformat()}
    late = _post(doc, f"/interviews/{interview}/plan", moved)
    assert late.status_code == 409, late.text
    assert "once the interview has started its plan is part of the record and does not change" in late.text
    after = _read(doc, interview)
    assert (after["scheduled_at"], after["language"], after["place"]) == (
        before["scheduled_at"],
        before["language"],
        before["place"],
    )
