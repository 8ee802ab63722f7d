"""A body over its limit, sent by a browser's form without script (nothing checked the size first), gets the
error page in the visitor's language with 413, answered before the route runs; the API, and a page path asked by
something that does not take HTML, keep the problem+json answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.core.config import UPLOAD_FRAMING_BYTES, AttachmentSettings, Settings
from app.core.db import unit_of_work
from app.keys.store import Keys
from app.main import create_app
from tests.support.attachments import MAX, files, interview_for, sample
from tests.support.consent import documenter_team
from tests.support.pages import browser, submit
from tests.web.test_pages import assert_page_headers

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
LIMIT = 1024 * 1024  # the default body limit of every path but the uploads'
WORDS = {
    "en": "Not stored: what this form sent is larger than the 1048576 bytes it accepts.",
    "hy": "Չի պահվել․ այս ձևի ուղարկածը մեծ է իր ընդունած 1048576 բայթից։",  # noqa: RUF001 - Armenian punctuation
    "ru": "Не сохранено: то, что отправила эта форма, больше допустимых для неё 1048576 байт.",  # noqa: RUF001 - Cyrillic
}


def _events(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@pytest.mark.parametrize("language", ["en", "hy", "ru"])
def test_an_oversized_form_post_gets_the_error_page_in_the_visitors_language(app: FastAPI, language: str) -> None:
    client = browser(app)
    assert submit(client, "/login", "/language", {"language": language, "back": "/login"}).status_code == 303
    before = _events(app)
    answer = client.post("/login", data={"username": "anna", "password": "x" * (LIMIT + 1)}, headers=BROWSER)
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["connection"] == "close"
    assert_page_headers(answer)
    assert f'<html lang="{language}">' in answer.text
    assert 'role="alert"' in answer.text
    assert WORDS[language] in answer.text
    assert "x" * 100 not in answer.text
    for other, words in WORDS.items():
        if other != language:
            assert words not in answer.text
    assert _events(app) == before  # the login route never ran: no attempt was recorded

    # The same body to the API, or to a page by a caller that takes no HTML: the problem, in English.
    for path, headers in (("/api/v1/auth/login", BROWSER), ("/login", {"accept": "application/json"})):
        problem = client.post(path, data={"password": "x" * (LIMIT + 1)}, headers=headers)
        assert problem.status_code == 413
        assert problem.headers["content-type"] == "application/problem+json"
        assert problem.json()["detail"] == (
            f"The request body is larger than the {LIMIT} bytes this endpoint accepts. Nothing was saved."
        )


@pytest.fixture
def small(settings: Settings, keys: Keys) -> Iterator[FastAPI]:
    """An app whose attachments may be MAX bytes at most."""
    application = create_app(settings.model_copy(update={"attachments": AttachmentSettings(max_bytes=MAX)}), keys)
    yield application
    application.state.engine.dispose()


def test_an_upload_past_the_upload_routes_limit_gets_the_page_before_the_file_is_read(small: FastAPI) -> None:
    doc, case_id = documenter_team(small)
    doc.client.follow_redirects = False
    interview, _person = interview_for(small, doc, case_id)
    assert submit(doc.client, "/", "/language", {"language": "ru", "back": "/"}).status_code == 303
    kept = (files(small, "blobs"), files(small, "tmp"))
    before = _events(small)
    limit = MAX + UPLOAD_FRAMING_BYTES
    assert doc.csrf is not None
    answer = doc.client.post(
        f"/interviews/{interview}/attachments",
        data={"csrf_token": doc.csrf, "kind": "document", "category": "evidentiary_documents"},
        files={"file": ("big.pdf", sample("pdf", limit + 1), "application/pdf")},
        headers=BROWSER,
    )
    assert answer.status_code == 413
    assert_page_headers(answer)
    assert '<html lang="ru">' in answer.text
    assert f"больше допустимых для неё {limit} байт" in answer.text
    assert _events(small) == before  # refused before the page's route (and its audit) ran
    assert (files(small, "blobs"), files(small, "tmp")) == kept
