"""The pages in English, Armenian and Russian: every catalog holds every message, the switcher
changes the language, and the unreviewed translations say so on every page."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.web import catalogs, i18n
from tests.support.pages import browser, submit


def test_the_extraction_finds_the_messages() -> None:
    found = catalogs.extract()
    assert "Log in" in found  # a template's
    assert "The username, password or code is not right." in found  # a service's, marked in messages.py
    assert "This form has expired. Go back, reload the page and try again." in found  # the code's
    assert len(found) > 50


@pytest.mark.parametrize("language", sorted(i18n.LANGUAGES))
def test_every_catalog_holds_every_message(language: str) -> None:
    gaps = catalogs.gaps(language)
    assert gaps == {"missing": set(), "untranslated": set(), "unused": set()}


def test_a_catalog_lacking_a_message_is_caught() -> None:
    wanted = catalogs.extract()
    catalog = catalogs.read("ru")
    del catalog["Log in"]
    catalog["Log out"].string = ""
    catalog.add("A message nothing uses", "Сообщение")
    assert catalogs.gaps_of(catalog, wanted) == {
        "missing": {"Log in"},
        "untranslated": {"Log out"},
        "unused": {"A message nothing uses"},
    }


def test_armenian_and_russian_are_marked_unreviewed() -> None:
    assert i18n.review_status() == {"en": "reviewed", "hy": "unreviewed", "ru": "unreviewed"}


@pytest.mark.parametrize(
    ("language", "heading", "unreviewed"),
    [("en", "Log in", False), ("hy", "Մուտք", True), ("ru", "Войти", True)],
)
def test_the_switcher_changes_the_language(app: FastAPI, language: str, heading: str, unreviewed: bool) -> None:
    client = browser(app)
    switched = submit(client, "/login", "/language", {"language": language, "back": "/login"})
    assert (switched.status_code, switched.headers["location"]) == (303, "/login")
    page = client.get("/login")
    assert f'<html lang="{language}">' in page.text
    assert f"<h1>{heading}</h1>" in page.text
    assert ('class="notice unreviewed"' in page.text) is unreviewed


def test_the_switcher_never_sends_to_another_site(app: FastAPI) -> None:
    for back in ("https://elsewhere.invalid/", "//elsewhere.invalid/", "/\\elsewhere.invalid"):
        answer = submit(browser(app), "/login", "/language", {"language": "ru", "back": back})
        assert answer.headers["location"] == "/"


def test_an_unknown_language_falls_back_to_english(app: FastAPI) -> None:
    client = browser(app)
    submit(client, "/login", "/language", {"language": "xx", "back": "/login"})
    assert '<html lang="en">' in client.get("/login").text
