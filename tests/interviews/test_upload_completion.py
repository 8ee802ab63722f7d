"""The transfer that completes a resumable upload stores it only if the upload is still there and unexpired
when its row is deleted, by a conditional DELETE whose row count decides: an upload its owner abandoned,
or one that expired, between the committing transaction's load and that DELETE, stores nothing."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.consent.vocabulary import ParticipationDecision
from app.core.db import CLOCK_OFFSET, unit_of_work
from app.core.errors import NotFound
from app.interviews import blobs, storage
from app.interviews.filetypes import Kind
from app.interviews.models import Attachment, AttachmentUpload
from app.interviews.sweep import sweep
from tests.support.actors import Actor
from tests.support.attachments import download, files, sample
from tests.support.database import ProvisionedDatabase
from tests.support.server import at_once, serve


def _rows(app: FastAPI) -> tuple[int, int]:
    with unit_of_work(app.state.sessionmaker) as s:
        return (
            s.scalar(select(func.count()).select_from(Attachment)) or 0,
            s.scalar(select(func.count()).select_from(AttachmentUpload)) or 0,
        )


def _half_sent(doc: Actor, interview_id: uuid.UUID, data: bytes) -> uuid.UUID:
    """An upload whose first segment is in; the rest completes it."""
    opened = doc.post(
        f"/api/v1/interviews/{interview_id}/uploads",
        json={"kind": "audio", "category": "audio_recording", "length": len(data)},
    )
    assert opened.status_code == 201, opened.text
    upload_id = opened.json()["id"]
    sent = doc.request(
        "PATCH", f"/api/v1/uploads/{upload_id}", content=data[: blobs.SEGMENT], headers={"upload-offset": "0"}
    )
    assert sent.status_code == 200, sent.text
    return uuid.UUID(upload_id)


def _complete(app: FastAPI, upload_id: uuid.UUID, data: bytes, meanwhile: Any, *, upto: int | None = None) -> None:
    """The completing transfer (or, with ``upto``, one that sends less), through storage.continue_upload with a
    load that decides as the attachment service does and runs ``meanwhile(session)`` in the committing
    transaction, once the row is loaded."""
    calls: list[int] = []

    def load(session: Session) -> tuple[AttachmentUpload, storage.UploadTarget]:
        row = session.get(AttachmentUpload, upload_id)
        if row is None:
            raise NotFound
        target = storage.UploadTarget(
            row.interview_id,
            row.person_id,
            row.case_id,
            row.owner_id,
            Kind(row.kind),
            row.category,
            frozenset(ParticipationDecision),  # the person agreed to every recording (the team fixture)
        )
        calls.append(1)
        if len(calls) == 2:  # the second decision: in the transaction that would store the attachment (or touch)
            meanwhile(session)
        return row, target

    async def last_bytes() -> AsyncIterator[bytes]:
        yield data[blobs.SEGMENT : upto]

    with pytest.raises(NotFound), unit_of_work(app.state.sessionmaker) as session:
        anyio.run(storage.continue_upload, session, app.state.runtime, load, blobs.SEGMENT, last_bytes())
    assert len(calls) == 2


def _sweep_after_grace(app: FastAPI) -> None:
    runtime = app.state.runtime
    then = time.time() - (runtime.settings.attachments.temp_grace_minutes + 1) * 60
    for path in files(app, "tmp"):
        os.utime(Path(path), (then, then))
    assert sweep(app.state.sessionmaker, runtime.blobs, runtime.settings.attachments).failed == []


def test_an_upload_abandoned_while_its_completion_commits_stores_nothing(
    app: FastAPI, team: tuple[Actor, uuid.UUID], database: ProvisionedDatabase
) -> None:
    """A real DELETE /api/v1/uploads/{id} from another connection commits after the completing transfer
    has loaded the upload and before it deletes the row: the completion is 404 and stores nothing."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE: the abandon cannot commit in between")
    doc, interview_id = team
    data = sample("m4a", blobs.SEGMENT + 5)
    upload_id = _half_sent(doc, interview_id, data)
    abandoned: list[int] = []
    with serve(app) as url:
        headers = {"x-csrf-token": doc.csrf or ""}
        with httpx.Client(base_url=url, cookies=dict(doc.client.cookies), headers=headers, timeout=30) as other:

            def abandon(_session: Session) -> None:
                abandoned.append(other.request("DELETE", f"/api/v1/uploads/{upload_id}").status_code)

            _complete(app, upload_id, data, abandon)
    assert abandoned == [204]
    assert _rows(app) == (0, 0)
    assert download(doc, str(upload_id)).status_code == 404
    assert len(files(app, "tmp")) == 1  # the abandon found the blob held: it is the sweeper's now
    _sweep_after_grace(app)
    assert files(app, "tmp") == files(app, "blobs") == []


def test_an_upload_that_expires_while_its_completion_commits_stores_nothing(
    app: FastAPI, team: tuple[Actor, uuid.UUID]
) -> None:
    """The database clock passes the upload's expiry after the completing transfer loaded it: 404, no
    attachment, and the upload stays for the sweeper to remove with its temp blob."""
    doc, interview_id = team
    data = sample("m4a", blobs.SEGMENT + 5)
    upload_id = _half_sent(doc, interview_id, data)
    hours = app.state.runtime.settings.attachments.upload_expiry_hours

    def expire(session: Session) -> None:
        session.info[CLOCK_OFFSET] = timedelta(hours=hours, minutes=1)

    _complete(app, upload_id, data, expire)
    assert _rows(app) == (0, 1)
    assert download(doc, str(upload_id)).status_code == 404
    maker = app.state.sessionmaker
    maker.configure(info={CLOCK_OFFSET: timedelta(hours=hours, minutes=1)})
    _sweep_after_grace(app)
    assert _rows(app) == (0, 0)
    assert files(app, "tmp") == files(app, "blobs") == []


def test_an_upload_abandoned_while_a_transfer_that_does_not_complete_it_commits_is_404(
    app: FastAPI, team: tuple[Actor, uuid.UUID], database: ProvisionedDatabase
) -> None:
    """The same race for a transfer that leaves the upload incomplete: it renews the upload's expiry with a
    conditional UPDATE, which finds the row gone: 404 (never a 500, never an upload brought back)."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE: the abandon cannot commit in between")
    doc, interview_id = team
    data = sample("m4a", 3 * blobs.SEGMENT)
    upload_id = _half_sent(doc, interview_id, data)
    abandoned: list[int] = []
    with serve(app) as url:
        headers = {"x-csrf-token": doc.csrf or ""}
        with httpx.Client(base_url=url, cookies=dict(doc.client.cookies), headers=headers, timeout=30) as other:

            def abandon(_session: Session) -> None:
                abandoned.append(other.request("DELETE", f"/api/v1/uploads/{upload_id}").status_code)

            _complete(app, upload_id, data, abandon, upto=2 * blobs.SEGMENT)
    assert abandoned == [204]
    assert _rows(app) == (0, 0)
    _sweep_after_grace(app)
    assert files(app, "tmp") == files(app, "blobs") == []


def test_an_upload_that_expires_while_a_transfer_that_does_not_complete_it_commits_is_404(
    app: FastAPI, team: tuple[Actor, uuid.UUID]
) -> None:
    """An expired upload is not renewed by a transfer that was under way when it expired."""
    doc, interview_id = team
    data = sample("m4a", 3 * blobs.SEGMENT)
    upload_id = _half_sent(doc, interview_id, data)
    hours = app.state.runtime.settings.attachments.upload_expiry_hours

    def expire(session: Session) -> None:
        session.info[CLOCK_OFFSET] = timedelta(hours=hours, minutes=1)

    _complete(app, upload_id, data, expire, upto=2 * blobs.SEGMENT)
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(AttachmentUpload, upload_id)
        assert row is not None
        assert row.expires_at < row.created_at + timedelta(hours=hours, minutes=1)  # not renewed


def test_abandoning_an_upload_from_several_connections_at_once_abandons_it_once(
    app: FastAPI, team: tuple[Actor, uuid.UUID], database: ProvisionedDatabase
) -> None:
    """Each abandon deletes the row it loaded only if it is still there: one 204, the rest 404."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    doc, interview_id = team
    headers = {"x-csrf-token": doc.csrf or ""}
    with serve(app) as url:
        tabs = [
            httpx.Client(base_url=url, cookies=dict(doc.client.cookies), headers=headers, timeout=30) for _ in range(4)
        ]
        for _ in range(4):
            upload_id = _half_sent(doc, interview_id, sample("m4a", blobs.SEGMENT + 5))
            answers = at_once([partial(tab.request, "DELETE", f"/api/v1/uploads/{upload_id}") for tab in tabs])
            assert sorted(r.status_code for r in answers) == [204, 404, 404, 404], [r.text for r in answers]
        for tab in tabs:
            tab.close()
    assert _rows(app) == (0, 0)
    assert files(app, "tmp") == []
