"""A plain HTML form uploads an attachment with the session cookie: it cannot send the X-CSRF-Token header,
so the attachment upload (and no other route) takes the token as the form's first field, ``csrf_token``,
read from the stream before the file and before the request's transaction begins."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI

from tests.interviews.test_storage import _nothing_left, _rows
from tests.support.actors import Actor, anonymous
from tests.support.attachments import MAX, download, sample, sha256
from tests.support.server import serve

BROWSER_BOUNDARY = "----WebKitFormBoundaryq3Zx9LmT0aB1cD2e"


def _browser_form(fields: list[tuple[str, str]], data: bytes, boundary: str = BROWSER_BOUNDARY) -> bytes:
    """The body Chromium sends for a plain <form enctype="multipart/form-data">: its inputs in document order."""
    body = b""
    for name, value in fields:
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
        body += b"\r\n"
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'.encode()
    body += b"Content-Type: application/pdf\r\n\r\n" + data + f"\r\n--{boundary}--\r\n".encode()
    return body


def _post_form(doc: Actor, interview_id: uuid.UUID, body: bytes, **headers: str) -> Any:
    """With the session cookie and no X-CSRF-Token header, as a plain HTML form posts."""
    content_type = f"multipart/form-data; boundary={BROWSER_BOUNDARY}"
    path = f"/api/v1/interviews/{interview_id}/attachments"
    return doc.client.post(path, content=body, headers={"content-type": content_type, **headers})


def test_a_plain_html_form_sends_the_csrf_token_as_its_first_field(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    assert doc.csrf is not None
    data = sample("pdf", 700_000)
    fields = [("csrf_token", doc.csrf), ("kind", "document"), ("category", "evidentiary_documents")]
    r = _post_form(doc, interview_id, _browser_form(fields, data))
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha256(data)
    assert download(doc, r.json()["id"]).content == data
    # As httpx (and a script's FormData) builds it; with the header as well, the header decides.
    sent = doc.client.post(
        f"/api/v1/interviews/{interview_id}/attachments",
        data={"csrf_token": doc.csrf, "kind": "photo", "category": "photos_other"},
        files={"file": ("a.jpg", sample("jpeg", 5000), "image/jpeg")},
        headers={"x-csrf-token": doc.csrf},
    )
    assert sent.status_code == 201, sent.text
    assert _rows(app) == (2, 0)


@pytest.mark.parametrize(
    "fields",
    [
        [("kind", "document"), ("category", "evidentiary_documents")],
        [("csrf_token", "0" * 64), ("kind", "document"), ("category", "evidentiary_documents")],
        [("csrf_token", "é" * 64), ("kind", "document"), ("category", "evidentiary_documents")],
        [("csrf_token", ""), ("kind", "document"), ("category", "evidentiary_documents")],
        [("kind", "document"), ("csrf_token", "RIGHT"), ("category", "evidentiary_documents")],
    ],
    ids=["missing", "wrong", "non-ascii", "empty", "late"],
)
def test_a_form_without_its_csrf_token_first_is_403_and_stores_nothing(
    app: FastAPI, team: tuple[Actor, uuid.UUID], fields: list[tuple[str, str]]
) -> None:
    doc, interview_id = team
    assert doc.csrf is not None
    fields = [(name, doc.csrf if value == "RIGHT" else value) for name, value in fields]
    r = _post_form(doc, interview_id, _browser_form(fields, sample("pdf", 300_000)))
    assert (r.status_code, r.json()["code"]) == (403, "csrf"), r.text
    _nothing_left(app)
    # A wrong header is not rescued by a right field.
    right = [("csrf_token", doc.csrf), ("kind", "document"), ("category", "evidentiary_documents")]
    r = _post_form(doc, interview_id, _browser_form(right, sample("pdf", 5000)), **{"x-csrf-token": "0" * 64})
    assert (r.status_code, r.json()["code"]) == (403, "csrf"), r.text
    _nothing_left(app)


def test_a_form_with_its_csrf_token_is_still_held_to_the_limits(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    assert doc.csrf is not None
    fields = [("csrf_token", doc.csrf), ("kind", "document"), ("category", "evidentiary_documents")]
    r = _post_form(doc, interview_id, _browser_form(fields, sample("pdf", MAX + 1)))
    assert r.status_code == 413, r.text
    _nothing_left(app)


def test_a_bearer_token_uploads_a_form_without_a_csrf_token(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    made = doc.post("/api/v1/auth/tokens", json={"name": "scanner", "scope": "write"})
    assert made.status_code == 201, made.text
    client = anonymous(app)
    r = client.post(
        f"/api/v1/interviews/{interview_id}/attachments",
        data={"kind": "photo", "category": "photos_other"},
        files={"file": ("a.jpg", sample("jpeg", 5000), "image/jpeg")},
        headers={"authorization": f"Bearer {made.json()['token']}"},
    )
    assert r.status_code == 201, r.text
    # Unaffected: a bearer token sends no CSRF token, and a form field of that name is one the upload does not take.
    r = client.post(
        f"/api/v1/interviews/{interview_id}/attachments",
        data={"csrf_token": doc.csrf or "", "kind": "photo", "category": "photos_other"},
        files={"file": ("a.jpg", sample("jpeg", 5000), "image/jpeg")},
        headers={"authorization": f"Bearer {made.json()['token']}"},
    )
    assert (r.status_code, r.json()["fields"]) == (422, ["body"]), r.text
    assert _rows(app) == (1, 0)


def test_a_form_whose_first_part_is_slow_to_arrive_holds_no_transaction(
    app: FastAPI, team: tuple[Actor, uuid.UUID]
) -> None:
    """The token is read before the request's transaction begins: while it trickles in, other writes go on
    (on SQLite a transaction would hold the database's write lock, and they would wait and fail)."""
    doc, interview_id = team
    assert doc.csrf is not None
    fields = [("csrf_token", doc.csrf), ("kind", "document"), ("category", "evidentiary_documents")]
    body = _browser_form(fields, sample("pdf", 5000))
    gate = threading.Event()

    def trickle() -> Iterator[bytes]:
        yield body[:90]  # the first part's headers and part of the token
        gate.wait(30)
        yield body[90:]

    content_type = f"multipart/form-data; boundary={BROWSER_BOUNDARY}"
    cookies = dict(doc.client.cookies)
    with (
        serve(app) as url,
        httpx.Client(base_url=url, cookies=cookies, timeout=30) as form,
        httpx.Client(base_url=url, cookies=cookies, headers={"x-csrf-token": doc.csrf}, timeout=30) as other,
        ThreadPoolExecutor(1) as pool,
    ):
        path = f"/api/v1/interviews/{interview_id}/attachments"
        pending = pool.submit(form.post, path, content=trickle(), headers={"content-type": content_type})
        time.sleep(0.5)
        try:
            saved = other.put(f"/api/v1/interviews/{interview_id}/draft", json={"text": "Saved meanwhile."})
        finally:
            gate.set()
        answer = pending.result(timeout=30)
    assert saved.status_code == 200, saved.text
    assert answer.status_code == 201, answer.text
