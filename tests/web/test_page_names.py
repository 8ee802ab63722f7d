"""What the pages call things: recipient classes by their names in the page's language (never the codes),
and legal holds by the person's pseudonym code (never an id, never a name)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.access.roles import Role
from app.consent.vocabulary import RecipientClass
from app.web.messages import RECIPIENT_CLASSES
from tests.support.actors import make_user
from tests.support.exports import Desk, desk
from tests.support.pages import page_login, submit
from tests.web.test_pages import assert_page_headers


def _admin(app: FastAPI, username: str) -> TestClient:
    _, secret = make_user(app, username, [Role.ADMIN], display_name=username.title())
    client, answer = page_login(app, username, secret)
    assert answer.headers["location"] == "/"
    return client


def _post(client: TestClient, page: str, action: str, fields: dict[str, str]) -> Any:
    answer = submit(client, page, action, fields)
    assert_page_headers(answer)
    return answer


def test_every_recipient_class_has_a_name() -> None:
    assert set(RECIPIENT_CLASSES) == {c.value for c in RecipientClass}


def test_recipient_classes_are_named_in_the_pages_language(app: FastAPI) -> None:
    anna, boris = _admin(app, "anna"), _admin(app, "boris")
    fields = {
        "recipient_class": "un_investigative_bodies",
        "jurisdiction": "international",
        "names": "Commission of Inquiry",
        "recall_contact": "Registry, by the secure channel.",
        "active": "yes",
    }
    form = anna.get("/admin/recipients").text
    assert '<option value="un_investigative_bodies">UN investigative bodies</option>' in form
    assert _post(anna, "/admin/recipients", "/admin/recipients", fields).status_code == 303
    asked = boris.get("/admin/confirmations").text
    assert "Class</dt><dd>UN investigative bodies<" in asked
    decision = re.search(r'action="(/admin/confirmations/[0-9a-f-]{36})"', asked)
    assert decision is not None
    assert _post(boris, "/admin/confirmations", decision.group(1), {"decision": "confirm"}).status_code == 200
    listed = anna.get("/admin/recipients").text
    assert "<td>UN investigative bodies</td>" in listed
    found = re.search(r'href="(/admin/recipients/[0-9a-f-]{36})"', listed)
    assert found is not None
    page = found.group(1)
    assert '<option value="un_investigative_bodies" selected>UN investigative bodies</option>' in anna.get(page).text
    _, secret = make_user(app, "lawyer", [Role.LEGAL])
    lawyer, _ = page_login(app, "lawyer", secret)
    assert "<dd>UN investigative bodies</dd>" in lawyer.get(page).text  # read only: no form
    moved = _post(anna, page, page, {**fields, "recipient_class": "researchers"})
    assert moved.headers["location"] == f"{page}?done=asked"
    assert "Class</dt><dd>UN investigative bodies → Researchers<" in boris.get("/admin/confirmations").text
    # In Russian, the same pages name the class in Russian.
    assert _post(anna, "/admin/recipients", "/language", {"language": "ru", "back": "/admin/recipients"})
    russian = anna.get("/admin/recipients").text
    assert "<td>Следственные органы ООН</td>" in russian  # noqa: RUF001 - Cyrillic, as the page writes it
    assert ">un_investigative_bodies<" not in russian
    assert ">un_investigative_bodies<" not in anna.get(page).text


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def test_the_legal_holds_name_the_person_by_pseudonym_code(app: FastAPI, d: Desk) -> None:
    person = d.person()
    code = d.doc.get(f"/api/v1/people/{person}").json()["code"]
    first, second = (page_login(app, c.username, c.totp_secret, steps=1)[0] for c in d.custodians)
    hold = {"reason": "The Commission asked that these be kept.", "proceedings_reference": "CoI-2026/3"}
    assert _post(first, "/erasures", f"/people/{person}/legal-hold", hold).status_code == 303
    for keeper in (first, second):
        page = keeper.get("/erasures").text
        card = re.search(r'<ul class="cards" id="holds".*?</ul>', page, re.S)
        assert card is not None
        assert f"Hold on person {code}" in card.group(0)
        shown = re.sub(r"<[^>]+>", " ", card.group(0))  # the words on the page, not the forms' addresses
        assert person not in shown
