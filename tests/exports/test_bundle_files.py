"""Attachments in built bundles, through the real app, worker, mat2 and exiftool: each goes under its own
category's grant, stripped of what names a person, a place or a device unless the recipient keeps originals;
a file that cannot be stripped is left out with one generic reason, never sent unstripped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.exports.files import LEFT_OUT
from tests.support import tagged
from tests.support.attachments import raw_upload, recording_interview, sample, sha256
from tests.support.built import unpack
from tests.support.consent import grant, record_use_consent, register_recipient
from tests.support.exports import Desk, desk


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _with_files(d: Desk, photo: bytes, document: bytes, **grant_fields: Any) -> None:
    """A person who agreed to photos, with an interview holding one photo and one document."""
    interview = recording_interview(d.app, d.doc, d.case_id)
    record_use_consent(
        d.doc,
        interview["person_id"],
        d.app,
        grants=[grant(categories=["narrative_general", "photos_other", "evidentiary_documents"], **grant_fields)],
    )
    assert raw_upload(d.doc, interview["id"], photo, kind="photo", name="Jane Roe at home.jpg").status_code == 201
    assert raw_upload(d.doc, interview["id"], document, kind="document", name="letter.pdf").status_code == 201


def _built(d: Desk, **overrides: Any) -> str:
    made = d.request(categories=["narrative_general", "photos_other", "evidentiary_documents"], **overrides)
    for i in range(made["approvals_needed"]):
        assert d.approve(made["id"], i).status_code == 200
    assert d.worker().run_once() is True
    export: str = made["id"]
    return export


def test_a_photo_goes_stripped_and_a_file_that_cannot_be_stripped_is_left_out(
    app: FastAPI, d: Desk, tmp_path: Path
) -> None:
    photo = tagged.drawn("jpeg", tmp_path)
    assert tagged.AUTHOR.encode() in photo
    _with_files(d, photo, sample("pdf", 4000))  # not a PDF mat2 can read
    bundle = unpack(app, _built(d), tmp_path / "b")
    sent = [n for n in bundle.files if n.startswith("attachments/")]
    assert len(sent) == 1
    assert sent[0].endswith(".jpg")
    cleaned = bundle.files[sent[0]]
    assert cleaned.startswith(b"\xff\xd8")
    assert tagged.AUTHOR.encode() not in cleaned
    assert tagged.DEVICE.encode() not in cleaned
    (record,) = [json.loads(line) for line in bundle.files["records.jsonl"].decode().splitlines()]
    (described,) = record["interviews"][0]["attachments"]
    assert (described["file"], described["category"]) == (sent[0], "photos_other")
    assert "file_name" not in described  # identity was not asked for
    assert sha256(photo) not in bundle.text()
    exclusions = json.loads(bundle.files["exclusions.json"])
    assert exclusions["files"] == {"reason": LEFT_OUT, "count": None}  # 1 file: under 5, not shown
    assert b"%PDF" not in b"".join(bundle.files.values())


def test_international_criminal_investigators_get_the_originals(app: FastAPI, d: Desk, tmp_path: Path) -> None:
    photo = tagged.drawn("jpeg", tmp_path)
    document = sample("pdf", 4000)
    _with_files(d, photo, document, purpose="criminal_investigation", recipient_class="intl_criminal_investigators")
    recipient = register_recipient(app, "intl_criminal_investigators")
    bundle = unpack(app, _built(d, purpose="criminal_investigation", recipient_id=recipient), tmp_path / "b")
    sent = {n: data for n, data in bundle.files.items() if n.startswith("attachments/")}
    assert sorted(sha256(data) for data in sent.values()) == sorted([sha256(photo), sha256(document)])
    assert "files" not in json.loads(bundle.files["exclusions.json"])
