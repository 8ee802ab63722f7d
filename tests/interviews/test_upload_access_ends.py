"""An upload whose uploader loses access while the file is on its way is refused when it would commit.

The transfer runs outside any transaction (storage.release_work), and the decision is taken again in the
transaction that commits: that decision must be the one a new request would get at that moment. Leaving the
case team, a disabled account and an ended session each end access; the upload then stores nothing, as a
new request would be refused. Run on both backends, through a real server.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from app.access.models import BrowserSession, CaseMember, User
from app.core.db import unit_of_work
from app.interviews.models import Attachment, AttachmentUpload, Interview
from tests.support.actors import Actor
from tests.support.attachments import files, sample
from tests.support.server import serve


def _send_part(url: str, doc: Actor, path: str, head: bytes, total: int) -> socket.socket:
    """Open an upload declaring ``total`` bytes and send only ``head`` of them."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    cookies = "; ".join(f"{k}={v}" for k, v in doc.client.cookies.items())
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {total}\r\n"
            "content-type: application/octet-stream\r\nattachment-kind: photo\r\n"
            f"attachment-category: photos_other\r\ncookie: {cookies}\r\nx-csrf-token: {doc.csrf}\r\n\r\n"
        ).encode()
        + head
    )
    return sock


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _case_of(app: FastAPI, interview_id: uuid.UUID) -> uuid.UUID:
    with unit_of_work(app.state.sessionmaker) as s:
        return s.scalars(select(Interview.case_id).where(Interview.id == interview_id)).one()


def _leave_team(app: FastAPI, doc: Actor, case_id: uuid.UUID) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        s.execute(delete(CaseMember).where(CaseMember.case_id == case_id, CaseMember.user_id == doc.user_id))


def _disable(app: FastAPI, doc: Actor, _case_id: uuid.UUID) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        s.execute(update(User).where(User.id == doc.user_id).values(active=False))


def _end_sessions(app: FastAPI, doc: Actor, _case_id: uuid.UUID) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        s.execute(delete(BrowserSession).where(BrowserSession.user_id == doc.user_id))


@pytest.mark.parametrize("lose_access", [_leave_team, _disable, _end_sessions], ids=["team", "disabled", "session"])
def test_access_lost_during_an_upload_stores_nothing(
    app: FastAPI, team: tuple[Actor, uuid.UUID], lose_access: Callable[[FastAPI, Actor, uuid.UUID], Any]
) -> None:
    doc, interview_id = team
    path = f"/api/v1/interviews/{interview_id}/attachments"
    data = sample("jpeg", 3 * 1024 * 1024)
    with serve(app) as url:
        sock = _send_part(url, doc, path, data[: 1024 * 1024 + 5], len(data))
        _wait_for(lambda: len(files(app, "tmp")) == 1)  # accepted, and being sealed
        lose_access(app, doc, _case_of(app, interview_id))
        sock.sendall(data[1024 * 1024 + 5 :])
        answer = sock.recv(65536).decode()
        sock.close()
    status = int(answer.split(" ", 2)[1])
    assert status in (401, 404), answer[:300]
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0
        assert s.scalar(select(func.count()).select_from(AttachmentUpload)) == 0
    assert files(app, "tmp") == []
    assert files(app, "blobs") == []


def test_a_resumable_upload_completed_after_leaving_the_team_makes_no_attachment(
    app: FastAPI, team: tuple[Actor, uuid.UUID]
) -> None:
    doc, interview_id = team
    data = sample("m4a", 3 * 1024 * 1024)
    opened = doc.post(
        f"/api/v1/interviews/{interview_id}/uploads",
        json={"kind": "audio", "category": "audio_recording", "length": len(data), "file_name": "a.m4a"},
    )
    assert opened.status_code == 201, opened.text
    upload_id = opened.json()["id"]
    with serve(app) as url:
        host, port = url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)))
        cookies = "; ".join(f"{k}={v}" for k, v in doc.client.cookies.items())
        sock.sendall(
            (
                f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {len(data)}\r\n"
                "content-type: application/octet-stream\r\nupload-offset: 0\r\n"
                f"cookie: {cookies}\r\nx-csrf-token: {doc.csrf}\r\n\r\n"
            ).encode()
            + data[: 1024 * 1024 + 5]
        )
        _wait_for(lambda: (app.state.runtime.blobs.temp_size(uuid.UUID(upload_id).hex) or 0) > 0)
        _leave_team(app, doc, _case_of(app, interview_id))
        sock.sendall(data[1024 * 1024 + 5 :])
        answer = sock.recv(65536).decode()
        sock.close()
    assert int(answer.split(" ", 2)[1]) == 404, answer[:300]
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0
    assert files(app, "blobs") == []
