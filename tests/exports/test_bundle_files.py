"""Attachments in built bundles, through the real app, worker, mat2 and exiftool: each goes under its own
category's grant, stripped of what names a person, a place or a device unless the recipient keeps originals;
a file that cannot be stripped is left out with one generic reason, never sent unstripped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.cli import cli
from app.exports.files import LEFT_OUT
from tests.support import tagged
from tests.support.attachments import raw_upload, recording_interview, sample, sha256
from tests.support.built import UUID, confirm_statement, unpack
from tests.support.consent import grant, record_use_consent, register_recipient
from tests.support.exports import Desk, desk

FILES = ["narrative_general", "photos_other", "evidentiary_documents"]
WHOLE = [*FILES, "narrative_sexual_violence", "interview_metadata"]
"""Every category of a statement version's fields, and the files'."""
ICC = {"purpose": "criminal_investigation", "recipient_class": "intl_criminal_investigators"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _with_files(d: Desk, photo: bytes, document: bytes, *, categories: list[str] = FILES, **grant_fields: Any) -> str:
    """A person who agreed to photos, with an interview holding one photo and one document; the interview."""
    interview = recording_interview(d.app, d.doc, d.case_id)
    record_use_consent(d.doc, interview["person_id"], d.app, grants=[grant(categories=categories, **grant_fields)])
    assert raw_upload(d.doc, interview["id"], photo, kind="photo", name="Jane Roe at home.jpg").status_code == 201
    assert raw_upload(d.doc, interview["id"], document, kind="document", name="letter.pdf").status_code == 201
    iid: str = interview["id"]
    return iid


def _built(d: Desk, **overrides: Any) -> str:
    made = d.request(**{"categories": FILES, **overrides})
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


@pytest.mark.parametrize("checkpointed", [True, False])
def test_originals_and_whole_statements_at_a_named_level_carry_custody_proofs(
    app: FastAPI, d: Desk, tmp_path: Path, cli_env: dict[str, str], checkpointed: bool
) -> None:
    photo = tagged.drawn("jpeg", tmp_path)
    iid = _with_files(d, photo, sample("pdf", 4000), categories=WHOLE, disclosure_level="named_protected", **ICC)
    confirm_statement(d.doc, iid, "They kept us in the school for nine days.")
    if checkpointed:
        assert CliRunner().invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0
    recipient = register_recipient(app, "intl_criminal_investigators")
    export = _built(
        d, categories=WHOLE, purpose="criminal_investigation", recipient_id=recipient,
        max_disclosure_level="named_protected",
    )  # fmt: skip
    bundle = unpack(app, export, tmp_path / "b")  # the standalone verifier checks every proof against its item
    items = sorted(n for n in bundle.files if n.startswith(("attachments/", "statements/")))
    assert [n.split("/")[0] for n in items] == ["attachments", "attachments", "statements"]
    manifest = json.loads(bundle.files["manifest.json"])
    if checkpointed:
        assert sorted(link["item"] for link in manifest["custody"]) == items
        assert all(link["proof"] in bundle.files for link in manifest["custody"])
        assert "custody_pending" not in manifest
    else:
        assert manifest["custody"] == []
        assert not [n for n in bundle.files if n.startswith("custody/")]
        assert manifest["custody_pending"]["items"] == items
    for name, data in bundle.files.items():
        assert not UUID.search(data), name
    (statement,) = [n for n in items if n.startswith("statements/")]
    assert json.loads(bundle.files[statement])["text"] == "They kept us in the school for nine days."


def test_nothing_below_a_named_level_carries_a_custody_proof(
    app: FastAPI, d: Desk, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    iid = _with_files(d, tagged.drawn("jpeg", tmp_path), sample("pdf", 4000), categories=WHOLE, **ICC)
    confirm_statement(d.doc, iid, "They kept us in the school for nine days.")
    assert CliRunner().invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0
    recipient = register_recipient(app, "intl_criminal_investigators")
    export = _built(d, categories=WHOLE, purpose="criminal_investigation", recipient_id=recipient)
    bundle = unpack(app, export, tmp_path / "b")
    assert not [n for n in bundle.files if n.startswith(("custody/", "statements/"))]
    assert json.loads(bundle.files["manifest.json"])["custody"] == []
    assert len([n for n in bundle.files if n.startswith("attachments/")]) == 2  # originals, but no proof
