"""The interview page's end-of-interview choices beyond "confirmed as recorded": a narrowed
reconfirmation (some grants kept, some lowered, some taken back), refused in the page when it would widen;
and the interviewers chosen from the case team when the interview is planned. Posted as a browser without
JavaScript posts them, and checked through the API afterwards."""

from __future__ import annotations

import re
from typing import Any

from tests.support.actors import Actor
from tests.support.consent import grant, record_use_consent
from tests.support.interviews import consenting_person
from tests.support.world import World
from tests.web.test_interview_pages import _doc, _post, plan_fields
from tests.web.test_pages import assert_page_headers


def _started(world: World, doc: Actor) -> tuple[str, str]:
    person = consenting_person(doc, world.case_id, world.app)
    made = _post(doc, f"/people/{person}/interviews", plan_fields())
    assert made.status_code == 303, made.text
    interview = made.headers["location"].rsplit("/", 1)[1]
    revision = str(doc.get(f"/api/v1/interviews/{interview}").json()["revision"])
    assert _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": "start"}).status_code == 303
    return person, interview


UN = grant()
ICC = grant(purpose="criminal_investigation", recipient_class="intl_criminal_investigators")
RESEARCH = grant(purpose="research", recipient_class="researchers", categories=["narrative_general"])
REFUSAL = {"purpose": "media", "categories": ["narrative_general"], "recipient_class": "journalists"}


def _versions(doc: Actor, person: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    return items


def test_the_interviewee_keeps_one_use_lowers_another_and_takes_a_third_back(world: World) -> None:
    doc = _doc(world)
    person, interview = _started(world, doc)
    record = record_use_consent(
        doc,
        person,
        world.app,
        grants=[UN, ICC, RESEARCH],
        refusals=[REFUSAL],
        restrictions=["AZ"],
        retention={"narrative_general": "P20Y"},
    )
    un, icc, research = (g["id"] for g in record["grants"])
    page = doc.get(f"/interviews/{interview}")
    assert page.status_code == 200
    assert_page_headers(page)
    assert f'name="consent_id" value="{record["id"]}"' in page.text
    # What the record holds is shown as it stands: every category ticked, the level as recorded, and only
    # the levels a narrowing may keep or lower to.
    prefix = f"n{icc.replace('-', '')}_"
    assert re.search(rf'name="{prefix}categories" value="alleged_perpetrators" checked', page.text)
    levels = re.search(rf'<select id="{prefix}level" name="{prefix}level">(.*?)</select>', page.text, re.S)
    assert levels is not None
    assert re.findall(r'value="([a-z_]+)"', levels.group(1)) == ["pseudonymous", "deidentified", "aggregate_only"]
    assert 'value="pseudonymous" selected' in levels.group(1)
    assert "Its refusals, restrictions and retention periods stay as they are." in page.text

    def fields(**icc_level: str) -> dict[str, Any]:
        u, i, r = (f"n{g.replace('-', '')}_" for g in (un, icc, research))
        return {
            "outcome": "narrowed",
            "consent_id": record["id"],
            f"{u}categories": ["narrative_general", "alleged_perpetrators"],
            f"{u}level": "pseudonymous",
            f"{i}categories": ["narrative_general"],
            f"{i}level": icc_level.get("level", "deidentified"),
            f"{r}categories": ["narrative_general"],
            f"{r}level": "deidentified",
            f"{r}remove": "yes",
            "notes": "She no longer wants researchers to have it.",
        }

    # A level the page does not offer, posted anyway: the service refuses it, the page says where, and what
    # was entered is shown again. Nothing is recorded.
    widened = _post(doc, f"/interviews/{interview}/reconfirm", fields(level="named_public"))
    assert widened.status_code == 422, widened.text
    assert_page_headers(widened)
    assert 'href="#narrow-grants"' in widened.text
    assert re.search(rf'id="{prefix}remove"', widened.text)
    assert not re.search(rf'name="{prefix}categories" value="alleged_perpetrators" checked', widened.text)
    assert len(_versions(doc, person)) == 1
    assert doc.get(f"/api/v1/interviews/{interview}").json()["reconfirmation"] is None

    done = _post(doc, f"/interviews/{interview}/reconfirm", fields())
    assert (done.status_code, done.headers["location"]) == (303, f"/interviews/{interview}?reconfirmed=1#reconfirm")
    first, second = _versions(doc, person)
    assert (first["state"], second["state"], second["amends"]) == ("superseded", "current", record["id"])
    kept = {g["purpose"]: g for g in second["grants"]}
    assert set(kept) == {"un_fact_finding", "criminal_investigation"}  # research taken back
    assert kept["un_fact_finding"]["id"] == un  # kept as it was: the same grant
    lowered = kept["criminal_investigation"]
    assert lowered["id"] != icc
    assert (lowered["categories"], lowered["disclosure_level"]) == (["narrative_general"], "deidentified")
    assert second["refusals"] == first["refusals"]
    assert second["restrictions"] == first["restrictions"] == {"recipient_ids": [], "jurisdictions": ["AZ"]}
    assert second["retention"] == {"narrative_general": "P20Y"}
    assert second["interview_id"] == interview

    # The narrowed version is the one offered now; the interview completes on it.
    shown = doc.get(f"/interviews/{interview}?reconfirmed=1")
    assert f'name="consent_id" value="{second["id"]}"' in shown.text
    assert f'name="consent_id" value="{record["id"]}"' not in shown.text
    revision = str(doc.get(f"/api/v1/interviews/{interview}").json()["revision"])
    assert _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": "complete"}).status_code == 303
    reconfirmation = doc.get(f"/api/v1/interviews/{interview}").json()["reconfirmation"]
    assert (reconfirmation["outcome"], reconfirmation["consent_ids"]) == ("narrowed", [second["id"]])


def test_a_narrowing_of_a_version_already_superseded_is_refused_in_the_page(world: World) -> None:
    doc = _doc(world)
    person, interview = _started(world, doc)
    record = record_use_consent(doc, person, world.app)
    (only,) = record["grants"]
    p = f"n{only['id'].replace('-', '')}_"
    body = {"outcome": "narrowed", "consent_id": record["id"], f"{p}categories": ["narrative_general"]}
    assert _post(doc, f"/interviews/{interview}/reconfirm", {**body, f"{p}level": "pseudonymous"}).status_code == 303
    # The same form again, from a page read before: that version is no longer the record's latest.
    stale = _post(doc, f"/interviews/{interview}/reconfirm", {**body, f"{p}level": "deidentified"})
    assert stale.status_code == 409, stale.text
    assert 'href="#narrow-grants"' in stale.text
    assert len(_versions(doc, person)) == 2
    # Unticking every category is not taking the use back: the service names what is missing.
    (latest,) = [v for v in _versions(doc, person) if v["state"] == "current"]
    (kept,) = latest["grants"]
    q = f"n{kept['id'].replace('-', '')}_"
    empty = {"outcome": "narrowed", "consent_id": latest["id"], f"{q}level": "pseudonymous"}
    refused = _post(doc, f"/interviews/{interview}/reconfirm", empty)
    assert refused.status_code == 422, refused.text
    assert 'href="#narrow-grants"' in refused.text
    assert len(_versions(doc, person)) == 2


def test_the_interviewers_are_chosen_from_the_case_team(world: World) -> None:
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    page = doc.get(f"/people/{person}/interviews")
    assert page.status_code == 200
    offered = r'name="interviewers" value="([0-9a-f-]{36})"[^>]*>\s*<label[^>]*>([^<]+)</label>'
    team = dict(re.findall(offered, page.text))
    # Active documenters on the team, by name; the one planning is ticked; no one outside the team.
    assert team[str(doc.user_id)] == doc.username
    colleague = world.actors["doc_pw"]
    assert team[str(colleague.user_id)] == colleague.username
    assert str(world.actors["doc_out"].user_id) not in team
    assert str(world.actors["legal_in"].user_id) not in team
    assert re.search(rf'value="{doc.user_id}" checked', page.text)
    assert not re.search(rf'value="{colleague.user_id}" checked', page.text)

    # No one ticked: the service refuses, the page names the plan, nothing is planned.
    nobody = _post(doc, f"/people/{person}/interviews", plan_fields(interviewers_shown="yes"))
    assert nobody.status_code == 422, nobody.text
    assert 'href="#plan"' in nobody.text
    outsider = str(world.actors["doc_out"].user_id)
    outside = _post(doc, f"/people/{person}/interviews", plan_fields(interviewers_shown="yes", interviewers=[outsider]))
    assert outside.status_code == 422, outside.text
    assert re.search(rf'value="{outsider}"', outside.text) is None  # never offered, not shown back
    assert doc.get(f"/api/v1/people/{person}/interviews").json()["items"] == []

    chosen = [str(colleague.user_id), str(doc.user_id)]
    made = _post(doc, f"/people/{person}/interviews", plan_fields(interviewers_shown="yes", interviewers=chosen))
    assert made.status_code == 303, made.text
    interview = made.headers["location"].rsplit("/", 1)[1]
    read = doc.get(f"/api/v1/interviews/{interview}").json()
    assert sorted(read["interviewers"]) == sorted(chosen)
    shown = doc.get(f"/interviews/{interview}")
    named = re.search(r'<p id="interviewers">(.*?)</p>', shown.text, re.S)
    assert named is not None
    assert doc.username in named.group(1)
    assert colleague.username in named.group(1)
