"""The interview page's attachment upload posted as a browser without JavaScript posts it (multipart, the
token first) to the page's own route, which streams it to the same service as the API; a refusal is the
interview page again with the reason in the page's language, and nothing is kept. And the printable receipt
of a person's current use grants, printed again from the person's page, by the API's route with its rules
and its audit event, the reference code still shown only once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.config import AttachmentSettings, Settings
from app.core.db import unit_of_work
from app.keys.store import Keys
from app.main import create_app
from tests.support.actors import Actor
from tests.support.attachments import MAX, files, interview_for, sample, sha256
from tests.support.consent import documenter_team, record_use_consent
from tests.support.interviews import consenting_person
from tests.support.pages import submit
from tests.support.world import World
from tests.web.test_pages import assert_page_headers

EVIDENCE = {"kind": "document", "category": "evidentiary_documents"}


def _doc(world: World) -> Actor:
    doc = world.actors["doc_in"]
    doc.client.follow_redirects = False
    return doc


def _upload(doc: Actor, interview: uuid.UUID, name: str, data: bytes, media_type: str, **fields: str) -> Any:
    assert doc.csrf is not None
    form = {"csrf_token": doc.csrf, **EVIDENCE, **fields}
    return doc.client.post(f"/interviews/{interview}/attachments", data=form, files={"file": (name, data, media_type)})


def _attachments(doc: Actor, interview: uuid.UUID) -> list[dict[str, Any]]:
    listed = doc.get(f"/api/v1/interviews/{interview}/attachments")
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def _events(world: World, action: str) -> list[tuple[str, str, str | None]]:
    with unit_of_work(world.app.state.sessionmaker) as s:
        rows = s.execute(
            select(AuditEvent.actor, AuditEvent.outcome, AuditEvent.resource_id)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        )
        return [(actor, outcome, resource) for actor, outcome, resource in rows]


def _in_language(doc: Actor, language: str) -> None:
    switched = submit(doc.client, "/", "/language", {"language": language, "back": "/"})
    assert switched.status_code == 303, switched.text


def test_a_file_uploaded_from_the_page_is_stored_and_the_page_says_so(world: World) -> None:
    doc = _doc(world)
    interview, _person = interview_for(world.app, doc, world.case_id)
    data = sample("pdf", 40_000)
    before = len(_events(world, "attachment.upload"))
    stored = _upload(doc, interview, "letter.pdf", data, "application/pdf")
    assert (stored.status_code, stored.headers["location"]) == (303, f"/interviews/{interview}?stored=1#attachments")
    assert_page_headers(stored)
    (row,) = _attachments(doc, interview)
    assert (row["kind"], row["category"]) == ("document", "evidentiary_documents")
    assert doc.get(f"/api/v1/attachments/{row['id']}").json()["sha256"] == sha256(data)
    assert _events(world, "attachment.upload")[before:] == [(f"user:{doc.user_id}", "allowed", row["id"])]
    page = doc.get(f"/interviews/{interview}?stored=1")
    assert page.status_code == 200
    assert_page_headers(page)
    assert 'id="upload-stored"' in page.text
    assert 'id="attachment-rows"' in page.text
    # The form posts to this page route, its token first; the API is not the form's target any more.
    form = re.search(
        r'<form method="post" action="([^"]+)" enctype="multipart/form-data"[^>]*>\s*<input ([^>]+)>', page.text
    )
    assert form is not None
    assert form.group(1) == f"/interviews/{interview}/attachments"
    assert 'name="csrf_token"' in form.group(2)
    assert 'id="upload-stored"' not in doc.get(f"/interviews/{interview}").text


def test_a_refused_upload_is_the_interview_page_in_its_language_and_nothing_is_kept(world: World) -> None:
    doc = _doc(world)
    interview, _person = interview_for(world.app, doc, world.case_id)
    kept = (files(world.app, "blobs"), files(world.app, "tmp"))
    before = len(_events(world, "attachment.upload"))
    _in_language(doc, "ru")
    # A sound recording declared as a document: refused from its first bytes (415), in Russian, beside the form.
    wrong = _upload(doc, interview, "clip.m4a", sample("m4a", 20_000), "audio/mp4")
    assert wrong.status_code == 415, (wrong.headers.get("location"), wrong.text)
    assert wrong.headers["content-type"].startswith("text/html")
    assert_page_headers(wrong)
    assert '<html lang="ru">' in wrong.text
    refused = re.search(r'<div id="upload-refused">(.*?)</div>\s*</div>', wrong.text, re.S)
    assert refused is not None
    assert "Ничего не записано." in refused.group(1)
    assert "должно быть одного из типов" in refused.group(1)
    assert "must be one of" not in wrong.text
    assert wrong.text.count('id="form-error"') == 1  # only beside the upload form
    assert 'id="upload-form"' in wrong.text  # the form is there to try again
    _in_language(doc, "hy")
    empty = _upload(doc, interview, "empty.pdf", b"", "application/pdf")
    assert 400 <= empty.status_code < 500, empty.text[:500]
    assert '<html lang="hy">' in empty.text
    assert 'id="upload-refused"' in empty.text
    assert "Nothing was recorded" not in empty.text
    assert _attachments(doc, interview) == []
    assert (files(world.app, "blobs"), files(world.app, "tmp")) == kept
    assert [outcome for _a, outcome, _r in _events(world, "attachment.upload")[before:]] == [
        "failed"
    ] * 2  # refused by the service, as on the API


@pytest.fixture
def small(settings: Settings, keys: Keys) -> Iterator[FastAPI]:
    """An app whose attachments may be MAX bytes at most."""
    application = create_app(settings.model_copy(update={"attachments": AttachmentSettings(max_bytes=MAX)}), keys)
    yield application
    application.state.engine.dispose()


def test_a_file_past_the_size_allowed_is_refused_as_it_streams_in_the_pages_language(small: FastAPI) -> None:
    doc, case_id = documenter_team(small)
    doc.client.follow_redirects = False
    interview, _person = interview_for(small, doc, case_id)
    _in_language(doc, "ru")
    too_big = _upload(doc, interview, "big.pdf", sample("pdf", MAX + 1), "application/pdf")
    assert too_big.status_code == 413, too_big.text[:500]
    assert_page_headers(too_big)
    assert 'id="upload-refused"' in too_big.text
    assert "bytes allowed" not in too_big.text
    assert str(MAX) in too_big.text
    # The largest file allowed goes through the page's route (its body limit is the upload routes').
    assert _upload(doc, interview, "max.pdf", sample("pdf", MAX), "application/pdf").status_code == 303
    assert len(_attachments(doc, interview)) == 1


def test_a_form_without_its_token_is_refused_before_the_file_is_read(world: World) -> None:
    doc = _doc(world)
    interview, _person = interview_for(world.app, doc, world.case_id)
    data = {**EVIDENCE, "csrf_token": "0" * 64}
    refused = doc.client.post(
        f"/interviews/{interview}/attachments",
        data=data,
        files={"file": ("a.pdf", sample("pdf", 5_000), "application/pdf")},
    )
    assert refused.status_code == 403
    assert "This form has expired." in refused.text
    # A token that is not the form's first part is no token, as on the API's route.
    assert doc.csrf is not None
    late = doc.client.post(
        f"/interviews/{interview}/attachments",
        data={**EVIDENCE, "csrf_token": doc.csrf},
        files={"file": ("a.pdf", sample("pdf", 5_000), "application/pdf")},
    )
    assert late.status_code == 403
    assert _attachments(doc, interview) == []


def test_the_receipt_of_current_grants_is_printed_again_from_the_persons_page(world: World) -> None:
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    empty = doc.get(f"/people/{person}/interviews")
    assert empty.status_code == 200
    assert "No use grants are recorded for this person yet." in empty.text
    made = record_use_consent(doc, person, world.app, receipt="printed_receipt")
    code = made["reference_code"]
    page = doc.get(f"/people/{person}/interviews")
    assert_page_headers(page)
    link = f'href="/api/v1/consents/{made["id"]}/receipt.html"'
    assert link in page.text
    assert "The reference code is never printed again" in page.text
    assert code not in page.text
    before = len(_events(world, "consent.receipt"))
    printed = doc.get(f"/api/v1/consents/{made['id']}/receipt.html")
    assert printed.status_code == 200
    assert "Write your reference code here:" in printed.text  # the line to write it on by hand
    assert code not in printed.text
    assert _events(world, "consent.receipt")[before:] == [(f"user:{doc.user_id}", "allowed", made["id"])]
    # The same rules as the first print: a documenter off the case team is not shown it.
    outside = world.actors["doc_out"].get(f"/api/v1/consents/{made['id']}/receipt.html")
    assert outside.status_code == 404
    # A person who chose to take nothing home has no receipt to print: no link, and the page says why.
    other = consenting_person(doc, world.case_id, world.app)
    none = record_use_consent(doc, other, world.app, receipt="no_receipt")
    shown = doc.get(f"/people/{other}/interviews").text
    assert f"/api/v1/consents/{none['id']}/receipt.html" not in shown
    assert "there is no receipt to print" in shown


def test_the_interview_page_links_to_the_receipts(world: World) -> None:
    doc = _doc(world)
    interview, person = interview_for(world.app, doc, world.case_id)
    page = doc.get(f"/interviews/{interview}")
    assert f'href="/people/{person}/interviews#receipts"' in page.text
