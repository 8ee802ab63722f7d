"""The survivor's receipt: its fields (ISO/IEC TS 27560 and Kantara Consent Receipt v1.1), and the printable
page in their language: their choices in plain words or a card with the code alone, neutrally worded, under
a strict Content-Security-Policy, and nothing at all for someone who chose no receipt."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI

from app.consent.receipt_page import CONTENT_SECURITY_POLICY
from app.consent.receipt_texts import TEXTS
from tests.support.actors import Actor
from tests.support.consent import documenter_team, grant, record_use_consent, text_hash, use_consent
from tests.support.interviews import consenting_person

# What a receipt found by the wrong person must never say: what the paper is about, who made it, where.
FORBIDDEN = [
    "testimon", "karabakh", "artsakh", "azerbaij", "conflict", "war ",
    "свидетел", "показани", "карабах", "арцах", "азербайдж", "войн", "конфликт",
    "վկայ", "ղարաբաղ", "արցախ", "ադրբեջան", "պատերազմ", "հակամարտ",
]  # fmt: skip


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str, str]:
    doc, case_id = documenter_team(app)
    return doc, case_id, consenting_person(doc, case_id, app)


def _text(html: str) -> str:
    """What a printed page shows: the text between the tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _strict(r: Any) -> None:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert "style-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text
    assert "<style" not in r.text
    assert "style=" not in r.text
    lowered = r.text.casefold()
    for word in FORBIDDEN:
        assert word not in lowered, word


def test_the_receipt_holds_the_standard_fields_and_the_choice_made(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(
        doc, person, app
    )  # no choice given: the one made with participation consent (a code card)
    assert made["receipt"] == "code_card"
    r = doc.get(f"/api/v1/consents/{made['id']}/receipt")
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert (receipt["receipt_id"], receipt["consent_receipt_id"]) == (made["id"], made["id"])
    assert receipt["schema_version"].startswith("ISO/IEC TS 27560")
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["pii_principal_id"] == doc.get(f"/api/v1/people/{person}").json()["code"]
    assert receipt["receipt_option"] == "code_card"
    assert [s["grant_id"] for s in receipt["services"]] == [g["id"] for g in made["grants"]]
    assert receipt["sensitive"] is True
    assert [c["term"] for c in receipt["spi_cat"]] == ["alleged_perpetrators", "narrative_general"]
    assert [p["id"] for p in receipt["pii_controllers"]] == ["controller"]
    assert receipt["privacy_notice"]["text_sha256"] == made["text_sha256"]
    # An amendment keeps the choice unless the person makes another.
    amended = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app)).json()
    assert amended["receipt"] == "code_card"
    again = doc.post(f"/api/v1/consents/{amended['id']}/amend", json=use_consent(app, receipt="printed_receipt"))
    assert again.json()["receipt"] == "printed_receipt"


def test_the_printed_receipt_shows_the_choices_in_plain_words(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(
        doc,
        person,
        app,
        receipt="printed_receipt",
        grants=[grant(), grant(purpose="research", recipient_class="researchers", disclosure_level="deidentified")],
        refusals=[{"purpose": "media", "recipient_class": "journalists", "categories": ["health"]}],
    )
    research = made["grants"][1]["id"]
    withdrawn = doc.post(
        f"/api/v1/consents/{made['id']}/withdraw",
        json={"scope": [research], "mode": "stop_future_use", "received_via": "phone"},
    )
    assert withdrawn.status_code == 201, withdrawn.text
    r = doc.get(f"/api/v1/consents/{made['id']}/receipt.html")
    _strict(r)
    page = _text(r.text)
    en = TEXTS["en"]
    assert '<html lang="en">' in r.text
    assert en["title"] in page
    assert "Confidential United Nations investigations" in page
    assert "United Nations investigators" in page
    assert "What happened to you; People you say did harm" not in page  # categories are sorted, as granted
    assert "People you say did harm; What happened to you" in page
    assert "With a code instead of your name" in page
    assert f"{en['until']}: {en['until_changed']}" in page
    # The research grant was taken back; media was refused.
    taken_back = page.split(en["taken_back"], 1)[1]
    assert "Research to understand what happened" in taken_back
    assert "Research to understand what happened" not in page.split(en["taken_back"], 1)[0]
    assert "Journalists: we only ask you again first" in page.split(en["refused"], 1)[1]
    assert en["change"] in page
    # The code is not stored: without it a line is left to write it by hand.
    code = made["reference_code"]
    assert code not in r.text
    assert en["code_blank"] in page
    sent = doc.get(f"/api/v1/consents/{made['id']}/receipt.html", headers={"Reference-Code": code.lower()})
    _strict(sent)
    assert code in sent.text
    assert en["code_blank"] not in _text(sent.text)
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    refused = doc.get(f"/api/v1/consents/{made['id']}/receipt.html", headers={"Reference-Code": wrong})
    assert (refused.status_code, refused.json()["fields"]) == (422, ["Reference-Code"])
    assert wrong not in refused.text


@pytest.mark.parametrize("language", ["hy", "ru"])
def test_the_printed_receipt_is_in_the_persons_language(
    app: FastAPI, team: tuple[Actor, str, str], language: str
) -> None:
    doc, _case, person = team
    made = record_use_consent(
        doc, person, app, receipt="printed_receipt", language=language, text_sha256=text_hash(app, language)
    )
    r = doc.get(f"/api/v1/consents/{made['id']}/receipt.html", headers={"Reference-Code": made["reference_code"]})
    _strict(r)
    page = _text(r.text)
    assert f'<html lang="{language}">' in r.text
    assert TEXTS[language]["title"] in page
    assert TEXTS[language]["change"] in page
    assert TEXTS["en"]["title"] not in page
    assert made["reference_code"] in page
    form = app.state.runtime.forms.get("standard", "v1")
    assert form.purposes["un_fact_finding"].label[language] in page


def test_a_code_card_shows_the_code_and_nothing_else(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app, receipt="code_card")
    code = made["reference_code"]
    r = doc.get(f"/api/v1/consents/{made['id']}/receipt.html", headers={"Reference-Code": code})
    _strict(r)
    # The card holds the code alone; the page's title never does (it reaches tab lists, history, print headers).
    assert _text(r.text) == f"— {code}"
    blank = doc.get(f"/api/v1/consents/{made['id']}/receipt.html")
    _strict(blank)
    assert re.fullmatch(r"— _+", _text(blank.text))


def test_no_receipt_means_none(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app, receipt="no_receipt")
    assert made["reference_code"]  # told aloud, from this answer
    r = doc.get(f"/api/v1/consents/{made['id']}/receipt.html", headers={"Reference-Code": made["reference_code"]})
    assert (r.status_code, r.json()["code"], r.json()["fields"]) == (409, "no_receipt", ["receipt"])
    assert made["reference_code"] not in r.text
    # The fields stay readable for the team's tools; they say what the person chose.
    assert doc.get(f"/api/v1/consents/{made['id']}/receipt").json()["receipt_option"] == "no_receipt"
