"""Attachments in tests: an interview being recorded, raw uploads and downloads, files of each type."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI

from tests.support import media
from tests.support.actors import Actor
from tests.support.interviews import checklist, consenting_person, new_interview, patch

RECORDING_CONSENT = {
    "interview_now": True,
    "notes": True,
    "audio_recording": True,
    "video_recording": True,
    "photos": True,
    "storage": True,
    "referral": True,
    "re_contact": False,
}
"""Participation decisions that agree to every kind of attachment."""

CATEGORY = {"photo": "photos_other", "audio": "audio_recording", "video": "video_recording",
            "document": "evidentiary_documents"}  # fmt: skip


def recording_interview(app: FastAPI, doc: Actor, case_id: str | uuid.UUID, **decisions: bool) -> dict[str, Any]:
    """A new person with participation consent (agreeing to every recording unless ``decisions`` say
    otherwise) and an interview planned, checked and started through the API."""
    pid = consenting_person(doc, case_id, app, decisions={**RECORDING_CONSENT, **decisions})
    planned_one = new_interview(doc, pid, checklist=checklist())
    r = patch(doc, planned_one, state="in_progress")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def interview_for(app: FastAPI, doc: Actor, case_id: str | uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """(interview id, person id) of an interview in progress whose person agreed to every recording."""
    interview = recording_interview(app, doc, case_id)
    return uuid.UUID(interview["id"]), uuid.UUID(interview["person_id"])


MAX = 3 * 1024 * 1024
"""attachments.max_bytes in these tests."""


def raw_upload(doc: Actor, interview_id: uuid.UUID, data: Any, *, kind: str = "photo", name: str | None = None) -> Any:
    """A raw body, its kind and file name in headers."""
    headers = {"attachment-kind": kind, "content-type": "application/octet-stream"}
    if kind in CATEGORY:
        headers["attachment-category"] = CATEGORY[kind]
    if name is not None:
        headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return doc.post(f"/api/v1/interviews/{interview_id}/attachments", content=data, headers=headers)


def download(doc: Actor, attachment_id: str) -> Any:
    return doc.get(f"/api/v1/attachments/{attachment_id}/content")


def files(app: FastAPI, folder: str) -> list[Path]:
    """The files under the blob directory's ``tmp`` or ``blobs`` folder."""
    root: Path = app.state.runtime.settings.attachments_dir
    return [p for p in (root / folder).rglob("*") if p.is_file()]


# Files of each type: real leading bytes, then random bytes.
HEADS = {
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "m4a": media.m4a_head(),  # its media data runs to the end: what follows is taken as sound
}


def sample(kind: str, size: int) -> bytes:
    head = HEADS[kind]
    return head + os.urandom(size - len(head))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
