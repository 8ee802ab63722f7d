"""Registering a person and the participation-consent wizard, through the pages as a browser without
JavaScript posts them, checked through the API afterwards: the page records what the API reads back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.consent.vocabulary import ParticipationDecision, TeachBackQuestion
from app.web.messages import CONSENT_CHECKS
from tests.support.actors import Actor
from tests.support.consent import person_in, text_hash
from tests.support.world import World
from tests.web.test_pages import _last_event, assert_page_headers

CODE_WORD = "apricot tree"
WITNESS = "Anahit Sargsyan"


def _doc(world: World) -> Actor:
    doc = world.actors["doc_in"]
    doc.client.follow_redirects = False
    return doc


def _post(doc: Actor, path: str, fields: dict[str, str]) -> Any:
    assert doc.csrf is not None
    return doc.client.post(path, data={"csrf_token": doc.csrf, **fields})


def _fresh_person(world: World) -> str:
    return str(person_in(_doc(world), world.case_id)["id"])


def _choice(language: str = "hy", variant: str = "main") -> dict[str, str]:
    return {"form": "standard/v2", "language": language, "variant": variant}


def full_answers(world: World, language: str = "hy", **overrides: str) -> dict[str, str]:
    """Every part of the wizard answered for an adult, storage agreed, one decision declined."""
    fields = {
        **_choice(language),
        "text_sha256": text_hash(world.app, language, "main", "v2"),
        "method": "verbal_witnessed",
        "witness_name": WITNESS,
        "witness_role": "field coordinator",
        "place": "Goris",
        "age_years": "54",
        "retention": "P10Y",
        "withdrawal_code_word": CODE_WORD,
        "receipt": "code_card",
        "outcome": "record",
    }
    fields |= {f"decision_{d.value}": "yes" for d in ParticipationDecision}
    fields |= {"decision_video_recording": "no", "decision_re_contact": "no"}
    fields |= {f"teach_back_{q.value}": "pass" for q in TeachBackQuestion}
    fields["teach_back_risks"] = "re_explained"
    return fields | overrides


def _latest(doc: Actor, person: str) -> dict[str, Any]:
    history = doc.get(f"/api/v1/people/{person}/participation")
    assert history.status_code == 200, history.text
    items: list[dict[str, Any]] = history.json()["items"]
    assert items
    return items[-1]


def test_registering_a_person_shows_the_new_code_and_keeps_the_url_free_of_it(world: World) -> None:
    doc = _doc(world)
    before = {p["code"] for p in doc.get(f"/api/v1/cases/{world.case_id}/people").json()["items"]}
    case_page = doc.get(f"/cases/{world.case_id}")
    assert f'action="/cases/{world.case_id}/people"' in case_page.text
    made = _post(doc, f"/cases/{world.case_id}/people", {})
    assert made.status_code == 303
    location = made.headers["location"]
    assert re.fullmatch(r"/people/[0-9a-f-]{36}/consent\?new=1", location)
    after = {p["code"] for p in doc.get(f"/api/v1/cases/{world.case_id}/people").json()["items"]}
    (code,) = after - before
    assert code not in location
    shown = doc.get(location)
    assert shown.status_code == 200
    assert_page_headers(shown)
    assert f'<span class="code" id="person-code">{code}</span>' in shown.text
    assert "Person registered." in shown.text
    assert "not recorded yet" in shown.text


def test_the_wizard_shows_the_form_in_both_languages_and_ticks_nothing(world: World) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    page = _post(doc, f"/people/{person}/consent/form", _choice("hy"))
    assert page.status_code == 200, page.text
    assert_page_headers(page)
    html = page.text
    assert "Ովքեր ենք մենք" in html  # section 1 in Armenian...
    assert "Who we are" in html  # ...beside the English
    assert html.count('<details class="section"') >= 14
    assert "Do you agree to talk with us today?" in html
    for decision in ParticipationDecision:
        assert f'name="decision_{decision.value}"' in html
    assert not re.search(r'name="(decision|teach_back)_[a-z_]+" value="[a-z_]+" checked', html)
    assert 'name="withdrawal_code_word"' in html
    assert f'action="/people/{person}/consent"' in html  # posted to a path of ids only


def test_a_recorded_consent_is_what_the_api_reads_back(world: World) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    done = _post(doc, f"/people/{person}/consent", full_answers(world))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/people/{person}/consent?done=1"
    assert CODE_WORD.split()[0] not in done.headers["location"]
    record = _latest(doc, person)
    assert (record["status"], record["language"], record["form_version"]) == ("given", "hy", "v2")
    assert record["allows_collection"] is True
    assert record["text_sha256"] == text_hash(world.app, "hy", "main", "v2")
    details = record["details"]
    assert details["decisions"]["video_recording"] is False
    assert details["decisions"]["storage"] is True
    assert details["teach_back"]["risks"] == "re_explained"
    assert details["teach_back_set"] == "adult"
    assert details["withdrawal_code_word"] == "set"
    assert details["witness"]["name"] == WITNESS
    assert (details["retention"], details["receipt"]) == ("P10Y", "code_card")
    shown = doc.get(done.headers["location"])
    assert "Recorded." in shown.text
    assert "collection allowed" in shown.text


def test_an_incomplete_form_is_shown_again_naming_the_field_and_keeping_what_was_entered(world: World) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    answers = full_answers(world)
    del answers["decision_storage"]
    refused = _post(doc, f"/people/{person}/consent", answers)
    assert refused.status_code == 422
    assert_page_headers(refused)
    html = refused.text
    assert "Nothing was recorded." in html
    assert '<a href="#decision-storage">Keeping your information</a>' in html
    assert f'value="{WITNESS}"' in html  # kept
    assert 'name="decision_notes" value="yes" checked' in html
    assert CODE_WORD not in html  # the code word is asked again, never shown
    assert doc.get(f"/api/v1/people/{person}/participation").json()["items"] == []
    # A nested field by its path: re-contact agreed without its safety details, half filled in.
    half = full_answers(world, decision_re_contact="yes", recontact_channel="phone")
    refused = _post(doc, f"/people/{person}/consent", half)
    assert refused.status_code == 422
    assert '<a href="#recontact">Contacting the person later</a>' in refused.text
    assert 'value="phone"' in refused.text


@pytest.mark.parametrize("language", ["hy", "ru", "en"])
def test_needs_time_to_think_records_a_deferral(world: World, language: str) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    fields = {
        **_choice(language),
        "text_sha256": text_hash(world.app, language, "main", "v2"),
        "witness_name": WITNESS,
        "witness_role": "field coordinator",
        "age_years": "40",
        "decision_interview_now": "yes",
        "withdrawal_code_word": CODE_WORD,
        "outcome": "time_to_think",
    }
    done = _post(doc, f"/people/{person}/consent", fields)
    assert done.status_code == 303, done.text
    record = _latest(doc, person)
    assert (record["status"], record["allows_collection"]) == ("deferred", False)
    assert record["details"]["deferred_reason"] == "time_to_think"
    assert record["details"]["decisions"] == {"interview_now": True}
    assert record["details"]["withdrawal_code_word"] is None  # a deferral keeps no code word
    assert "needs time to think" in doc.get(f"/people/{person}/consent").text


def test_a_child_is_asked_the_child_set_and_the_guardian_is_recorded(world: World) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    page = _post(doc, f"/people/{person}/consent/form", _choice("ru", "child"))
    assert page.status_code == 200
    assert "The guardian&#39;s text" in page.text or "The guardian's text" in page.text
    assert 'name="teach_back_set" value="child"' in page.text
    answers = full_answers(world, "ru", variant="child", age_years="12")
    answers |= {
        "text_sha256": text_hash(world.app, "ru", "child", "v2"),
        "guardian_text_sha256": text_hash(world.app, "ru", "guardian", "v2"),
        "minor_assent": "yes",
        "guardian_name": "Mariam",
        "guardian_relation": "mother",
        "guardian_consent": "yes",
        "best_interests_checked_by": "Child protection officer",
    }
    done = _post(doc, f"/people/{person}/consent", answers)
    assert done.status_code == 303, done.text
    record = _latest(doc, person)
    assert record["details"]["teach_back_set"] == "child"
    assert record["details"]["minor"]["guardian"]["consent"] is True
    assert record["guardian_text_sha256"] == text_hash(world.app, "ru", "guardian", "v2")


def test_a_wizard_post_without_its_token_records_nothing(world: World) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    refused = doc.client.post(f"/people/{person}/consent", data=full_answers(world))
    assert refused.status_code == 403
    assert "This form has expired." in refused.text
    assert doc.get(f"/api/v1/people/{person}/participation").json()["items"] == []


def test_an_unknown_language_shows_the_first_step_again(world: World) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    refused = _post(doc, f"/people/{person}/consent/form", _choice("de"))
    assert refused.status_code == 422
    assert "Choose one of the form" in refused.text
    assert "Step 1: the form and the language" in refused.text


def test_the_checks_refusals_the_wizard_translates_are_the_services_words() -> None:
    """A refusal reworded in app/consent without its catalog entry would reach the page untranslated."""
    source = "".join(Path(f"app/consent/{name}.py").read_text(encoding="utf-8") for name in ("checks", "service"))
    for message in CONSENT_CHECKS:
        assert message in source, message


def test_a_refusal_is_shown_in_the_pages_language(world: World) -> None:
    doc = _doc(world)
    person = _fresh_person(world)
    doc.client.cookies.set("testimony_lang", "hy")
    answers = full_answers(world)
    del answers["witness_name"], answers["witness_role"]
    refused = _post(doc, f"/people/{person}/consent", answers)
    assert refused.status_code == 422
    assert "բանավոր համաձայնության համար վկա է պետք" in refused.text  # "verbal consent needs a witness"
    assert '<a href="#method">Ինչպես է տրվում համաձայնությունը</a>' in refused.text


def test_the_pages_record_the_events_their_api_twins_record(world: World) -> None:
    doc = _doc(world)
    made = _post(doc, f"/cases/{world.case_id}/people", {})
    person = made.headers["location"].split("/")[2]
    event = _last_event(world)
    assert (event.action, event.resource_id, event.case_id) == ("person.create", person, world.case_id)
    assert _post(doc, f"/people/{person}/consent", full_answers(world)).status_code == 303
    event = _last_event(world)
    record = _latest(doc, person)
    assert (event.action, event.resource_id, event.case_id) == ("consent.record", record["id"], world.case_id)
    assert event.outcome == "allowed"
