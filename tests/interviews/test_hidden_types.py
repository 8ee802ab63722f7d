"""What a file is, read from the whole file, not only its first bytes: pictures and movies hidden behind an
ID3 tag, a video stream multiplexed into an Ogg file, a video track in an M4A, and all of these sent in
pieces through a resumable upload. Through the real app, for a person who agreed to sound only."""

from __future__ import annotations

import os
import socket
import uuid
from functools import partial
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.interviews import blobs
from app.interviews.models import Attachment, AttachmentUpload
from tests.support import media
from tests.support.actors import Actor
from tests.support.attachments import download, files, raw_upload, recording_interview
from tests.support.consent import documenter_team
from tests.support.database import ProvisionedDatabase
from tests.support.server import at_once, serve

SEGMENT = blobs.SEGMENT


@pytest.fixture
def documenter(app: FastAPI) -> tuple[Actor, str]:
    return documenter_team(app)


@pytest.fixture
def sound_only(app: FastAPI, documenter: tuple[Actor, str]) -> tuple[Actor, uuid.UUID]:
    """A documenter and an interview whose person agreed to audio recording, not to video or photos."""
    doc, case_id = documenter
    interview = recording_interview(app, doc, case_id, photos=False, video_recording=False)
    return doc, uuid.UUID(interview["id"])


@pytest.fixture
def everything(app: FastAPI, documenter: tuple[Actor, str]) -> tuple[Actor, uuid.UUID]:
    """The same documenter and an interview whose person agreed to every recording."""
    doc, case_id = documenter
    return doc, uuid.UUID(recording_interview(app, doc, case_id)["id"])


def _rows(app: FastAPI) -> tuple[int, int]:
    with unit_of_work(app.state.sessionmaker) as s:
        return (
            s.scalar(select(func.count()).select_from(Attachment)) or 0,
            s.scalar(select(func.count()).select_from(AttachmentUpload)) or 0,
        )


def _refused(r: Any, status: int, decision: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["fields"] == ["file"], body
    if decision is not None:
        assert (body["code"], body["decision"]) == ("consent_required", decision), body


def _stored(r: Any, media_type: str) -> dict[str, Any]:
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["media_type"] == media_type
    return body


# MP3 and AAC behind ID3 tags ------------------------------------------------------------------------------

NO_AUDIO_AFTER_THE_TAG = {
    "a bare ID3 header, then a JPEG": b"ID3\x04\x00\x00\x00\x00\x00\x00" + media.JPEG + os.urandom(5000),
    "a tag, then a JPEG": media.id3() + media.JPEG + os.urandom(5000),
    "a tag, then an M4A": media.id3() + media.m4a(),
    "a tag with a footer, then a JPEG": media.id3(footer=True) + media.JPEG + os.urandom(5000),
    "a tag whose size runs past the file": b"ID3\x04\x00\x00\x00\x00\x7f\x7f" + media.mp3_frames(3),
    "a tag, then zeros": media.id3() + bytes(5000),
    "a tag and nothing else": media.id3(),
    "frames, then a JPEG": media.mp3(20) + media.JPEG + os.urandom(5000),
    "frames without a tag, then an M4A": media.mp3(20, tag=False) + media.m4a(),
    "ADTS frames, then a JPEG": media.adts_frames(20) + media.JPEG,
    "a WAV, then a JPEG": media.wav() + media.JPEG,
    "a tag, then a frame cut short": media.id3() + media.mp3_frames(3)[:-100],
    "an ID3v1 tag, then more": media.mp3(5) + b"TAG" + bytes(125) + media.JPEG,
}


@pytest.mark.parametrize("data", NO_AUDIO_AFTER_THE_TAG.values(), ids=NO_AUDIO_AFTER_THE_TAG)
def test_sound_is_its_frames_or_chunks_to_the_end_not_a_head_in_front_of_anything(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID], data: bytes
) -> None:
    doc, interview_id = sound_only
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 415)
    assert _rows(app) == (0, 0)
    assert files(app, "tmp") == files(app, "blobs") == []


SOUND = {
    "tagged MP3": (media.mp3(30), "audio/mpeg"),
    "MP3 with a footer tag": (media.id3(footer=True) + media.mp3_frames(30), "audio/mpeg"),
    "two tags, then frames": (media.id3() + media.id3(50) + media.mp3_frames(30), "audio/mpeg"),
    "MP3 without a tag": (media.mp3(30, tag=False), "audio/mpeg"),
    "MP3 with an ID3v1 tag at the end": (media.mp3(30) + b"TAG" + bytes(125), "audio/mpeg"),
    "MP3 with a tag appended": (media.mp3(30) + media.id3(footer=True), "audio/mpeg"),
    "AAC behind an ID3 tag": (media.id3() + media.adts_frames(30), "audio/aac"),
    "AAC": (media.adts_frames(30), "audio/aac"),
    "Ogg Opus": (media.ogg_opus(), "audio/ogg"),
    "WAV": (media.wav(), "audio/wav"),
    "M4A": (media.m4a(b"soun"), "audio/mp4"),
    "M4A with a chapter text track": (media.m4a(b"soun", b"text"), "audio/mp4"),
}


@pytest.mark.parametrize(("data", "media_type"), SOUND.values(), ids=SOUND)
def test_sound_is_stored_with_the_audio_decision_alone(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID], data: bytes, media_type: str
) -> None:
    doc, interview_id = sound_only
    stored = _stored(raw_upload(doc, interview_id, data, kind="audio"), media_type)
    assert download(doc, stored["id"]).content == data


# Ogg: every logical stream, not only the first ----------------------------------------------------------


def _multiplexed() -> bytes:
    """Opus and Theora side by side: both beginning-of-stream pages first, then their pages interleaved."""
    opus, theora = media.ogg_stream(media.OPUS_HEAD, serial=1), media.ogg_stream(media.THEORA_HEAD, serial=2)
    return opus[0] + theora[0] + b"".join(a + b for a, b in zip(opus[1:], theora[1:], strict=True))


def _chained() -> bytes:
    """Opus to its end, then a new Theora stream chained after it."""
    return media.ogg_opus() + b"".join(media.ogg_stream(media.THEORA_HEAD, serial=7))


@pytest.mark.parametrize("data", [_multiplexed(), _chained()], ids=["multiplexed", "chained"])
def test_an_ogg_file_with_any_video_stream_is_video(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID], everything: tuple[Actor, uuid.UUID], data: bytes
) -> None:
    doc, interview_id = sound_only
    assert data.startswith(media.ogg_page(media.OPUS_HEAD, serial=1, sequence=0, bos=True))  # sound by its head
    # Sound by its first page, so past the first bytes; video/ogg is no audio type.
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 415)
    assert _rows(app) == (0, 0)
    assert files(app, "tmp") == files(app, "blobs") == []
    doc, interview_id = everything
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 415)
    _stored(raw_upload(doc, interview_id, data, kind="video"), "video/ogg")  # with the video decision


@pytest.mark.parametrize(
    "data",
    [
        media.ogg_opus() + media.JPEG,
        media.ogg_opus()[:-10],
        media.ogg_opus() + b"OggS\x01" + bytes(40),  # a page of an unknown version
    ],
    ids=["a picture after the pages", "a page cut short", "a bad page"],
)
def test_an_ogg_file_must_be_pages_to_the_end(app: FastAPI, sound_only: tuple[Actor, uuid.UUID], data: bytes) -> None:
    doc, interview_id = sound_only
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 415)
    assert _rows(app) == (0, 0)


# ISO base media: the tracks' handlers ---------------------------------------------------------------------


def test_an_m4a_with_a_video_track_needs_the_video_decision(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID], everything: tuple[Actor, uuid.UUID]
) -> None:
    data = media.m4a(b"soun", b"vide")
    doc, interview_id = sound_only
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 403, "video_recording")
    assert _rows(app) == (0, 0)
    doc, interview_id = everything
    _stored(raw_upload(doc, interview_id, data, kind="audio"), "video/mp4")


@pytest.mark.parametrize(
    "data",
    [
        media.m4a(b"soun", b"pict"),  # an image track
        media.m4a(b"soun", b"zzzz"),  # a handler we do not know
        media.ftyp(b"M4A ", b"M4A ") + media.box(b"mdat", os.urandom(500)),  # no tracks to tell
    ],
    ids=["pictures", "unknown", "no tracks"],
)
def test_an_m4a_whose_tracks_are_not_plainly_sound_needs_the_video_decision(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID], data: bytes
) -> None:
    doc, interview_id = sound_only
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 403, "video_recording")


def test_an_mp4_of_sound_alone_still_needs_the_video_decision(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID]
) -> None:
    doc, interview_id = sound_only
    data = media.m4a(b"soun", brand=b"isom")
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 403, "video_recording")


@pytest.mark.parametrize(
    "data",
    [
        media.m4a(b"soun") + media.JPEG,  # bytes after the last box
        media.m4a(b"soun")[:-10],  # the last box cut short
        media.ftyp(b"M4A ", b"M4A ")
        + b"\x00\x00\x00\x04free"
        + media.m4a(b"soun")[32:],  # a box smaller than its header
        media.ftyp(b"M4A ", b"M4A ") + media.box(b"moov", media.box(b"trak", b"\x00\x00\x00\x20mdia")),  # overruns
        media.ftyp(b"M4A ", b"M4A ") + media.box(b"moov", media.trak(b"soun")[:-3]),  # a child past its parent
    ],
    ids=["trailing", "cut", "tiny box", "child overruns", "parent short"],
)
def test_an_iso_file_must_be_boxes_to_the_end(app: FastAPI, everything: tuple[Actor, uuid.UUID], data: bytes) -> None:
    doc, interview_id = everything
    _refused(raw_upload(doc, interview_id, data, kind="audio"), 415)
    assert _rows(app) == (0, 0)


# Resumable uploads: the whole file, across transfers --------------------------------------------------------


def _open(doc: Actor, interview_id: uuid.UUID, data: bytes, kind: str = "audio") -> str:
    body = {"kind": kind, "category": f"{kind}_recording", "length": len(data)}
    r = doc.post(f"/api/v1/interviews/{interview_id}/uploads", json=body)
    assert r.status_code == 201, r.text
    upload_id: str = r.json()["id"]
    return upload_id


def _send(doc: Actor, upload_id: str, data: bytes, cut: int) -> Any:
    """The first ``cut`` bytes in one transfer, the rest in another."""
    r = doc.request("PATCH", f"/api/v1/uploads/{upload_id}", content=data[:cut], headers={"upload-offset": "0"})
    assert r.status_code == 200, r.text
    assert r.headers["upload-offset"] == str(cut)
    headers = {"upload-offset": str(cut)}
    return doc.request("PATCH", f"/api/v1/uploads/{upload_id}", content=data[cut:], headers=headers)


def _moov_last(*handlers: bytes) -> bytes:
    """An M4A as a recorder writes it: the media data first, the movie box (the tracks) at the end."""
    return media.ftyp(b"M4A ", b"M4A ") + media.box(b"mdat", os.urandom(SEGMENT + 5000)) + media.moov(*handlers)


HIDDEN_PAST_THE_FIRST_TRANSFER = {
    "a video track after the first segment": (_moov_last(b"soun", b"vide"), 403),
    "a JPEG after MP3 frames": (media.mp3(2600) + media.JPEG, 415),
    "a Theora stream chained after Opus": (
        media.ogg_opus(3300) + b"".join(media.ogg_stream(media.THEORA_HEAD, serial=9)),
        415,
    ),
}


@pytest.mark.parametrize(
    ("data", "status"), HIDDEN_PAST_THE_FIRST_TRANSFER.values(), ids=HIDDEN_PAST_THE_FIRST_TRANSFER
)
def test_a_resumable_upload_is_checked_whole_when_it_completes(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID], data: bytes, status: int
) -> None:
    doc, interview_id = sound_only
    assert len(data) > SEGMENT + 1000
    upload_id = _open(doc, interview_id, data)
    r = _send(doc, upload_id, data, SEGMENT)
    _refused(r, status, "video_recording" if status == 403 else None)
    # Nothing stored, and the sealed segments are gone at once: the upload starts again from 0 or is abandoned.
    assert _rows(app) == (0, 1)
    assert files(app, "tmp") == files(app, "blobs") == []
    state = doc.get(f"/api/v1/uploads/{upload_id}")
    assert state.headers["upload-offset"] == "0"
    assert doc.request("DELETE", f"/api/v1/uploads/{upload_id}").status_code == 204
    assert _rows(app) == (0, 0)


def test_a_resumable_upload_of_sound_with_its_tracks_at_the_end_completes(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID]
) -> None:
    doc, interview_id = sound_only
    data = _moov_last(b"soun")
    upload_id = _open(doc, interview_id, data)
    stored = _stored(_send(doc, upload_id, data, SEGMENT), "audio/mp4")
    assert stored["id"] == upload_id
    assert download(doc, upload_id).content == data


# Refused as soon as the structure breaks ------------------------------------------------------------------


def _response(sock: socket.socket) -> str:
    """The whole answer (head and body, by its content-length), read while the request is unfinished."""
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < _length(received):
        more = sock.recv(65536)
        if not more:
            break
        received += more
    return received.decode(errors="replace")


def _length(received: bytes) -> int:
    for line in received.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_a_structure_that_breaks_is_refused_before_the_rest_arrives(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID]
) -> None:
    """MP3 frames, then a JPEG, then more: the 415 comes while the client still has bytes to send."""
    doc, interview_id = sound_only
    head = media.mp3(2000) + media.JPEG  # within the first segment
    head += os.urandom(2 * SEGMENT + 1000 - len(head))  # two segments sealed: the scanner has seen the JPEG
    total = len(head) + SEGMENT // 2  # declared, never all sent
    cookies = "; ".join(f"{k}={v}" for k, v in doc.client.cookies.items())
    with serve(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(
                (
                    f"POST /api/v1/interviews/{interview_id}/attachments HTTP/1.1\r\nhost: {host}\r\n"
                    f"content-length: {total}\r\ncontent-type: application/octet-stream\r\n"
                    f"attachment-kind: audio\r\nattachment-category: audio_recording\r\n"
                    f"cookie: {cookies}\r\nx-csrf-token: {doc.csrf}\r\n\r\n"
                ).encode()
                + head
            )
            answer = _response(sock)
    assert answer.startswith("HTTP/1.1 415"), answer[:300]
    assert "well-formed audio/mpeg" in answer
    assert _rows(app) == (0, 0)
    assert files(app, "tmp") == files(app, "blobs") == []


def test_a_resumable_transfer_that_breaks_is_refused_and_keeps_nothing(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID]
) -> None:
    doc, interview_id = sound_only
    data = media.mp3(2600) + media.JPEG + os.urandom(SEGMENT)
    upload_id = _open(doc, interview_id, data)
    part = data[: 2 * SEGMENT]  # not the whole upload: no completion, yet the break is in it
    r = doc.request("PATCH", f"/api/v1/uploads/{upload_id}", content=part, headers={"upload-offset": "0"})
    _refused(r, 415)
    assert files(app, "tmp") == []
    assert doc.get(f"/api/v1/uploads/{upload_id}").headers["upload-offset"] == "0"
    assert _rows(app) == (0, 1)


def test_completing_transfers_of_a_refused_upload_at_once_store_nothing_and_leave_nothing(
    app: FastAPI, sound_only: tuple[Actor, uuid.UUID], database: ProvisionedDatabase
) -> None:
    """Several tabs send the last bytes of an M4A whose video track comes last: one completes and is
    refused, the others find the upload busy or its segments gone; no attachment, no temp blob."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    doc, interview_id = sound_only
    data = _moov_last(b"soun", b"vide")
    upload_id = _open(doc, interview_id, data)
    r = doc.request("PATCH", f"/api/v1/uploads/{upload_id}", content=data[:SEGMENT], headers={"upload-offset": "0"})
    assert r.status_code == 200, r.text
    headers = {"x-csrf-token": doc.csrf or "", "upload-offset": str(SEGMENT)}
    with serve(app) as url:
        tabs = [
            httpx.Client(base_url=url, cookies=dict(doc.client.cookies), headers=headers, timeout=60) for _ in range(4)
        ]
        answers = at_once([partial(tab.patch, f"/api/v1/uploads/{upload_id}", content=data[SEGMENT:]) for tab in tabs])
        for tab in tabs:
            tab.close()
    statuses = [a.status_code for a in answers]
    assert statuses.count(403) == 1, [a.text for a in answers]
    assert set(statuses) <= {403, 409}, [a.text for a in answers]
    assert _rows(app) == (0, 1)
    assert files(app, "tmp") == files(app, "blobs") == []
