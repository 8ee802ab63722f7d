"""Storing attachments through a real ASGI app: raw bodies and HTML forms, the limits, what a failure
leaves (nothing), resumable uploads cut and resumed, and downloads of tampered blobs."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.access.roles import Role
from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from app.core.errors import NotFound
from app.core.uploads import NAME_REFUSED
from app.interviews import blobs, storage
from app.interviews.filetypes import Kind
from app.interviews.models import Attachment, AttachmentUpload, Interview
from app.interviews.sweep import sweep
from tests.support.actors import Actor, actor, login, shift_clock
from tests.support.attachments import (
    MAX,
    download,
    files,
    raw_upload,
    sample,
    sha256,
)
from tests.support.database import ProvisionedDatabase
from tests.support.server import at_once, serve


def _rows(app: FastAPI) -> tuple[int, int]:
    with unit_of_work(app.state.sessionmaker) as s:
        return (
            s.scalar(select(func.count()).select_from(Attachment)) or 0,
            s.scalar(select(func.count()).select_from(AttachmentUpload)) or 0,
        )


def _nothing_left(app: FastAPI) -> None:
    assert _rows(app) == (0, 0)
    assert files(app, "tmp") == []
    assert files(app, "blobs") == []


# One request ------------------------------------------------------------------------------------------------


def test_a_raw_upload_round_trips_and_only_the_padded_size_shows(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("jpeg", 2 * 1024 * 1024 + 12345)
    r = raw_upload(doc, interview_id, data, name="Ճանապարհ Горис.jpg")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["size"], body["sha256"], body["media_type"]) == (len(data), sha256(data), "image/jpeg")
    [blob] = files(app, "blobs")
    assert blob.name == uuid.UUID(body["id"]).hex
    assert blob.stat().st_size == blobs.stored_size(len(data)) != len(data)
    assert oct(blob.stat().st_mode & 0o777) == "0o600"
    assert files(app, "tmp") == []
    got = download(doc, body["id"])
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/jpeg"
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(Attachment, uuid.UUID(body["id"]))
        assert row is not None
        assert row.stored_size == blob.stat().st_size
        assert "Горис".encode() not in row.content
        assert sha256(data).encode() not in row.content


def test_an_html_form_uploads(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("pdf", 700_000)
    r = doc.post(
        f"/api/v1/interviews/{interview_id}/attachments",
        data={"kind": "document", "category": "evidentiary_documents"},
        files={"file": ("statement scan.pdf", data, "application/pdf")},
    )
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha256(data)
    assert download(doc, r.json()["id"]).content == data


def test_a_form_must_give_its_fields_before_the_file(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    boundary = "b0undary"
    data = sample("pdf", 1000)
    part = '--{}\r\nContent-Disposition: form-data; name="{}"{}\r\n\r\n'
    body = (
        part.format(boundary, "file", '; filename="a.pdf"').encode()
        + data
        + b"\r\n"
        + part.format(boundary, "kind", "").encode()
        + f"document\r\n--{boundary}--\r\n".encode()
    )
    r = doc.post(
        f"/api/v1/interviews/{interview_id}/attachments",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 422
    assert r.json()["fields"] == ["kind"]
    _nothing_left(app)


def test_over_the_maximum_is_413_and_leaves_nothing(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    r = raw_upload(doc, interview_id, sample("jpeg", MAX + 1))
    assert r.status_code == 413
    assert r.json()["fields"] == ["file"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield sample("jpeg", 1024 * 1024)
        for _ in range(3):
            yield os.urandom(1024 * 1024)

    r = raw_upload(doc, interview_id, chunked())
    assert r.status_code == 413
    r = doc.post(
        f"/api/v1/interviews/{interview_id}/attachments",
        data={"kind": "photo", "category": "photos_other"},
        files={"file": ("big.jpg", sample("jpeg", MAX + 1), "image/jpeg")},
    )
    assert r.status_code == 413
    _nothing_left(app)


def test_types_are_sniffed_and_allowed_by_kind(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    for kind, head in [("photo", "pdf"), ("audio", "png"), ("video", "m4a")]:
        r = raw_upload(doc, interview_id, sample(head, 100_000), kind=kind)
        assert r.status_code == 415, (kind, head)
        assert r.json()["fields"] == ["file"]
    assert raw_upload(doc, interview_id, b"MZ" + os.urandom(5000), kind="document").status_code == 415
    assert raw_upload(doc, interview_id, b"%PDF", kind="document").status_code == 415  # shorter than any real file
    _nothing_left(app)
    for kind, head in [("document", "pdf"), ("document", "jpeg"), ("audio", "m4a")]:
        r = raw_upload(doc, interview_id, sample(head, 100_000), kind=kind)
        assert r.status_code == 201, (kind, head)


TRICKS = ["../evidence.jpg", "..\\evidence.jpg", "a/b.jpg", "C:evidence.jpg", ".", "..", "photo\u202egpj.exe",
          "CON.jpg", "evidence.jpg.", "%2e%2e%2fetc", "line\nbreak.jpg", "nul\x00.jpg", " ", "x" * 256]  # fmt: skip


def test_file_names_with_path_tricks_are_422(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    for name in TRICKS:
        r = raw_upload(doc, interview_id, sample("jpeg", 5000), name=name)
        assert r.status_code == 422, name
        assert r.json()["fields"] == ["file_name"]
        assert r.json()["detail"] == NAME_REFUSED  # never the name itself
        r = doc.post(
            f"/api/v1/interviews/{interview_id}/attachments",
            data={"kind": "photo"},
            files={"file": (name, sample("jpeg", 5000), "image/jpeg")},
        )
        assert r.status_code == 422, name
        assert r.json()["fields"] == ["file_name"]
    _nothing_left(app)


def test_the_uploader_of_another_case_sees_nothing(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    stored = raw_upload(doc, interview_id, sample("jpeg", 5000)).json()
    outsider = actor(app, "other", [Role.DOCUMENTER])
    assert raw_upload(outsider, interview_id, sample("jpeg", 5000)).status_code == 404
    assert download(outsider, stored["id"]).status_code == 404
    assert len(files(app, "blobs")) == 1
    assert files(app, "tmp") == []


# Through a real server: cut connections and changes during an upload --------------------------------------


def _login_headers(doc: Actor) -> str:
    cookies = "; ".join(f"{k}={v}" for k, v in doc.client.cookies.items())
    return f"cookie: {cookies}\r\nx-csrf-token: {doc.csrf}\r\n"


def _send_part(
    url: str, doc: Actor, path: str, head: bytes, total: int, *, method: str = "POST", extra: str = ""
) -> socket.socket:
    """Open a request declaring ``total`` bytes and send only ``head`` of them."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        (
            f"{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {total}\r\n"
            f"content-type: application/octet-stream\r\nattachment-kind: photo\r\n"
            f"attachment-category: photos_other\r\n{extra}{_login_headers(doc)}\r\n"
        ).encode()
        + head
    )
    return sock


def _wait_for(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _events(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_an_upload_cut_off_midway_leaves_nothing(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("jpeg", 3 * 1024 * 1024)
    with serve(app) as url:
        before = _events(app)
        sock = _send_part(
            url, doc, f"/api/v1/interviews/{interview_id}/attachments", data[: 2 * 1024 * 1024 + 7], len(data)
        )
        _wait_for(lambda: len(files(app, "tmp")) == 1)  # it is being sealed
        sock.close()
        _wait_for(lambda: _events(app) == before + 1)  # the failed request is recorded
    _nothing_left(app)


def test_the_decision_is_taken_again_when_the_upload_commits(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("jpeg", 3 * 1024 * 1024)
    with serve(app) as url:
        sock = _send_part(
            url, doc, f"/api/v1/interviews/{interview_id}/attachments", data[: 1024 * 1024 + 5], len(data)
        )
        _wait_for(lambda: len(files(app, "tmp")) == 1)
        with unit_of_work(app.state.sessionmaker) as s:  # the interview ends while the file is on its way
            s.execute(update(Interview).where(Interview.id == interview_id).values(state="completed"))
        sock.sendall(data[1024 * 1024 + 5 :])
        answer = sock.recv(65536).decode()
        sock.close()
    assert answer.startswith("HTTP/1.1 409"), answer[:200]
    _nothing_left(app)


# Resumable uploads ------------------------------------------------------------------------------------------


def _open(doc: Actor, interview_id: uuid.UUID, data: bytes, name: str = "recording.m4a") -> dict[str, Any]:
    r = doc.post(
        f"/api/v1/interviews/{interview_id}/uploads",
        json={"kind": "audio", "category": "audio_recording", "length": len(data), "file_name": name},
    )
    assert r.status_code == 201, r.text
    assert r.headers["upload-offset"] == "0"
    result: dict[str, Any] = r.json()
    return result


def _patch(doc: Actor, upload_id: str, offset: int, data: bytes) -> Any:
    return doc.request("PATCH", f"/api/v1/uploads/{upload_id}", content=data, headers={"upload-offset": str(offset)})


@pytest.mark.parametrize("seed", range(3))
def test_a_cut_at_a_random_segment_resumes_to_the_same_digest(
    app: FastAPI, team: tuple[Actor, uuid.UUID], seed: int
) -> None:
    doc, interview_id = team
    rng = random.Random(seed)
    segment = blobs.SEGMENT
    data = sample("m4a", rng.randint(3 * segment, MAX))
    upload = _open(doc, interview_id, data)
    cut = rng.randint(1, len(data) - 1)
    with serve(app) as url:
        sock = _send_part(
            url,
            doc,
            f"/api/v1/uploads/{upload['id']}",
            data[:cut],
            len(data),
            method="PATCH",
            extra="upload-offset: 0\r\n",
        )
        sealed = 32 + cut // segment * (segment + 16)  # the salt and every whole segment sent
        _wait_for(lambda: (app.state.runtime.blobs.temp_size(uuid.UUID(upload["id"]).hex) or 0) >= sealed)
        sock.close()
    state = doc.get(f"/api/v1/uploads/{upload['id']}")
    assert state.status_code == 200, state.text
    offset = int(state.headers["upload-offset"])
    assert offset == cut // segment * segment  # every whole segment that arrived, no partial one
    r = _patch(doc, upload["id"], offset + 1, data[offset + 1 :])
    assert r.status_code == 409
    assert r.headers["upload-offset"] == str(offset)
    for _ in range(100):  # the cut transfer may still hold the upload for a moment: 409 busy, try again
        r = _patch(doc, upload["id"], offset, data[offset:])
        if r.status_code != 409:
            break
        time.sleep(0.1)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha256(data)
    assert r.json()["id"] == upload["id"]
    assert _rows(app) == (1, 0)
    assert files(app, "tmp") == []
    assert hashlib.sha256(download(doc, upload["id"]).content).hexdigest() == sha256(data)


def test_a_resumable_upload_in_pieces(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("m4a", 2 * blobs.SEGMENT + 777)
    upload = _open(doc, interview_id, data)
    r = _patch(doc, upload["id"], 0, data[: blobs.SEGMENT + 10])
    assert r.status_code == 200
    assert r.headers["upload-offset"] == str(blobs.SEGMENT)  # the 10 bytes past the segment were not kept
    r = _patch(doc, upload["id"], blobs.SEGMENT, data[blobs.SEGMENT : 2 * blobs.SEGMENT])
    assert r.headers["upload-offset"] == str(2 * blobs.SEGMENT)
    assert _patch(doc, upload["id"], 2 * blobs.SEGMENT, data[2 * blobs.SEGMENT :] + b"x").status_code == 422
    r = _patch(doc, upload["id"], 2 * blobs.SEGMENT, data[2 * blobs.SEGMENT :])
    assert r.status_code == 201
    assert download(doc, r.json()["id"]).content == data


def test_the_first_bytes_decide_the_type_of_a_resumable_upload(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("pdf", 100_000)
    upload = _open(doc, interview_id, data)
    assert _patch(doc, upload["id"], 0, data).status_code == 415


def test_an_abandoned_upload_leaves_nothing_after_expiry(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("m4a", 3 * blobs.SEGMENT)
    upload = _open(doc, interview_id, data)
    assert _patch(doc, upload["id"], 0, data[: 2 * blobs.SEGMENT]).status_code == 200
    assert _rows(app) == (0, 1)
    assert len(files(app, "tmp")) == 1
    runtime = app.state.runtime
    assert sweep(app.state.sessionmaker, runtime.blobs, runtime.settings.attachments).expired_uploads == 0
    shift_clock(app, timedelta(hours=24, minutes=1))
    doc = login(app, doc.username, doc.totp_secret)  # the browser session has ended meanwhile too
    assert _patch(doc, upload["id"], 2 * blobs.SEGMENT, data[2 * blobs.SEGMENT :]).status_code == 404
    # Expired is gone, before the sweeper has removed it as after: no state to resume from, nothing to abandon.
    assert doc.get(f"/api/v1/uploads/{upload['id']}").status_code == 404
    assert doc.request("DELETE", f"/api/v1/uploads/{upload['id']}").status_code == 404
    assert _rows(app) == (0, 1)
    report = sweep(app.state.sessionmaker, runtime.blobs, runtime.settings.attachments)
    assert (report.expired_uploads, report.removed_temps) == (1, 1)
    _nothing_left(app)


@pytest.mark.parametrize("length", [True, "12", 12.0, "0x10"])
def test_a_length_that_is_not_a_json_integer_is_422(
    app: FastAPI, team: tuple[Actor, uuid.UUID], length: object
) -> None:
    doc, interview_id = team
    body = {"kind": "audio", "category": "audio_recording", "length": length}
    r = doc.post(f"/api/v1/interviews/{interview_id}/uploads", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == ["length"]
    assert _rows(app) == (0, 0)


def test_an_empty_file_names_the_file_or_the_length(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    r = raw_upload(doc, interview_id, b"")
    assert (r.status_code, r.json()["fields"]) == (422, ["file"])
    body = {"kind": "audio", "category": "audio_recording", "length": 0}
    r = doc.post(f"/api/v1/interviews/{interview_id}/uploads", json=body)
    assert (r.status_code, r.json()["fields"]) == (422, ["length"])
    _nothing_left(app)


def test_abandoning_an_upload_removes_it_now(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("m4a", 3 * blobs.SEGMENT)
    upload = _open(doc, interview_id, data)
    assert _patch(doc, upload["id"], 0, data[: blobs.SEGMENT]).status_code == 200
    assert doc.request("DELETE", f"/api/v1/uploads/{upload['id']}").status_code == 204
    _nothing_left(app)


def test_one_transfer_of_an_upload_at_a_time(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("m4a", 3 * blobs.SEGMENT)
    upload = _open(doc, interview_id, data)
    held = app.state.runtime.blobs.create_temp(uuid.UUID(upload["id"]).hex)  # as a transfer still running would
    r = _patch(doc, upload["id"], 0, data)
    assert r.status_code == 409
    assert r.headers["retry-after"] == "5"
    held.close()


# Downloads --------------------------------------------------------------------------------------------------


def test_a_tampered_blob_fails_the_download_before_any_byte(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("jpeg", 2 * blobs.SEGMENT + 99)
    stored = raw_upload(doc, interview_id, data).json()
    [path] = files(app, "blobs")
    blob = bytearray(path.read_bytes())
    blob[blobs.SEGMENT + 100] ^= 0x80
    path.write_bytes(bytes(blob))
    r = download(doc, stored["id"])
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Integrity check failed"
    assert data[:64] not in r.content


def test_two_transfers_of_one_upload_at_once_store_it_once(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("m4a", 2 * blobs.SEGMENT + 5)
    upload = _open(doc, interview_id, data)
    with serve(app) as url:
        clients = [
            httpx.Client(base_url=url, cookies=dict(doc.client.cookies), headers={"x-csrf-token": doc.csrf or ""})
            for _ in range(3)
        ]
        answers = at_once(
            [
                lambda c=c: c.patch(f"/api/v1/uploads/{upload['id']}", content=data, headers={"upload-offset": "0"})  # type: ignore[misc]
                for c in clients
            ]
        )
        for c in clients:
            c.close()
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(201) == 1, [r.text for r in answers]
    assert set(statuses) <= {201, 404, 409}  # the others found it busy, or already complete
    assert _rows(app) == (1, 0)
    assert files(app, "tmp") == []
    assert download(doc, upload["id"]).content == data


def _tabs(url: str, doc: Actor, n: int) -> list[httpx.Client]:
    """n connections presenting the documenter's session, as n tabs or a retrying client would."""
    headers = {"x-csrf-token": doc.csrf or ""}
    return [httpx.Client(base_url=url, cookies=dict(doc.client.cookies), headers=headers, timeout=60) for _ in range(n)]


def test_a_transfer_that_lost_the_race_to_complete_leaves_nothing(
    app: FastAPI, team: tuple[Actor, uuid.UUID], database: ProvisionedDatabase
) -> None:
    """A transfer decided while the upload was open, which takes the blob once another transfer has
    completed it, finds no temp blob: it must not begin one under the attachment's id (the sweeper
    would meet it beside the final blob)."""
    if not database.is_postgres:
        pytest.skip("on SQLite the waiting transfer's transaction holds the database against the completing one")
    doc, interview_id = team
    data = sample("m4a", blobs.SEGMENT + 5)
    upload = _open(doc, interview_id, data)
    assert _patch(doc, upload["id"], 0, data[: blobs.SEGMENT]).status_code == 200
    upload_id = uuid.UUID(upload["id"])
    completed: list[httpx.Response] = []
    with serve(app) as url:
        [other] = _tabs(url, doc, 1)

        def load(session: Session) -> tuple[AttachmentUpload, storage.UploadTarget]:
            row = session.get(AttachmentUpload, upload_id)
            if row is None:
                raise NotFound
            target = storage.UploadTarget(
                row.interview_id, row.person_id, row.case_id, row.owner_id, Kind(row.kind), row.category
            )
            if not completed:  # decided; before this transfer holds the blob, another completes the upload
                completed.append(_patch_last(other, upload["id"], data))
            return row, target

        async def last_bytes() -> AsyncIterator[bytes]:
            yield data[blobs.SEGMENT :]

        with pytest.raises(NotFound), unit_of_work(app.state.sessionmaker) as session:
            anyio.run(storage.continue_upload, session, app.state.runtime, load, blobs.SEGMENT, last_bytes())
        other.close()
    assert [r.status_code for r in completed] == [201], [r.text for r in completed]
    assert _rows(app) == (1, 0)
    assert files(app, "tmp") == []
    runtime = app.state.runtime
    assert sweep(app.state.sessionmaker, runtime.blobs, runtime.settings.attachments).failed == []
    assert download(doc, upload["id"]).content == data


def _patch_last(client: httpx.Client, upload_id: str, data: bytes) -> httpx.Response:
    """Send the bytes after the first segment: the transfer that completes the upload."""
    headers = {"upload-offset": str(blobs.SEGMENT)}
    return client.patch(f"/api/v1/uploads/{upload_id}", content=data[blobs.SEGMENT :], headers=headers)


def test_completing_transfers_sent_again_and_again_leave_one_attachment_and_no_temp_blob(
    app: FastAPI, team: tuple[Actor, uuid.UUID], database: ProvisionedDatabase
) -> None:
    """A flaky client resending the last bytes from several connections at once, round after round."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    doc, interview_id = team
    runtime = app.state.runtime
    with serve(app) as url:
        tabs = _tabs(url, doc, 6)
        for _ in range(5):
            data = sample("m4a", blobs.SEGMENT + 5)
            upload = _open(doc, interview_id, data)
            assert _patch(doc, upload["id"], 0, data[: blobs.SEGMENT]).status_code == 200
            answers = at_once([partial(_patch_last, tab, upload["id"], data) for tab in tabs])
            statuses = [r.status_code for r in answers]
            assert statuses.count(201) == 1, [r.text for r in answers]
            assert set(statuses) <= {201, 404, 409}, [r.text for r in answers]
            assert download(doc, upload["id"]).content == data
        for tab in tabs:
            tab.close()
    assert _rows(app) == (5, 0)
    assert files(app, "tmp") == []
    assert sweep(app.state.sessionmaker, runtime.blobs, runtime.settings.attachments).failed == []
