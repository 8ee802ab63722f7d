"""The attachment service through the real app: who may add what to which interview, under which consent,
the list and the facts, and the custody commitment a court can check against the original file."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.access.roles import Role
from app.audit import note
from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import unit_of_work
from app.crypto import keyring as kr
from app.interviews.models import Attachment, AttachmentUpload, CustodyCommitment
from app.keys.models import DataKey
from tests.support.actors import Actor, actor
from tests.support.attachments import download, files, raw_upload, recording_interview, sample, sha256
from tests.support.consent import documenter_team
from tests.support.interviews import checklist, consenting_person, new_interview, patch, reconfirm
from tests.support.server import at_once, serve

ORIGIN = "testimony-vault.example/audit"
REPO = Path(__file__).resolve().parents[2]


def _counts(app: FastAPI) -> tuple[int, int, int, int]:
    """(attachments, resumable uploads, custody commitments, data keys)."""
    with unit_of_work(app.state.sessionmaker) as s:
        return (
            s.scalar(select(func.count()).select_from(Attachment)) or 0,
            s.scalar(select(func.count()).select_from(AttachmentUpload)) or 0,
            s.scalar(select(func.count()).select_from(CustodyCommitment)) or 0,
            s.scalar(select(func.count()).select_from(DataKey)) or 0,
        )


def _problem(r: Any, status: int, code: str | None, fields: list[str] | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body.get("code") == code, body
    if fields is not None:
        assert body.get("fields") == fields, body
    return body


def test_a_whole_interview_with_a_photo(app: FastAPI) -> None:
    doc, case_id = documenter_team(app)
    pid = consenting_person(doc, case_id, app, decisions=_decisions(photos=True))
    planned_one = new_interview(doc, pid)
    ready = patch(doc, planned_one, checklist=checklist()).json()
    # Not before the interview begins.
    _problem(raw_upload(doc, ready["id"], sample("jpeg", 5000)), 409, "interview_not_recording", ["state"])
    started = patch(doc, ready, state="in_progress").json()
    assert started["state"] == "in_progress"

    photo = sample("jpeg", 300_000)
    r = doc.post(
        f"/api/v1/interviews/{started['id']}/attachments",
        data={"kind": "photo", "category": "photos_of_person"},
        files={"file": ("Աննա.jpg", photo, "image/jpeg")},
    )
    assert r.status_code == 201, r.text
    stored = r.json()
    assert (stored["sha256"], stored["size"], stored["category"]) == (sha256(photo), len(photo), "photos_of_person")

    # The request wrote two entries: the commitment, a minimal entry of its own, then its own event.
    with unit_of_work(app.state.sessionmaker) as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(2)).all()
    assert [e.action for e in reversed(last)] == ["custody.commit", "attachment.upload"]
    assert last[0].resource_id == stored["id"]

    listed = doc.get(f"/api/v1/interviews/{started['id']}/attachments")
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == stored["id"]
    assert {"sha256", "size", "file_name"}.isdisjoint(item)
    assert item["stored_size"] > len(photo)

    facts = doc.get(f"/api/v1/attachments/{stored['id']}")
    assert facts.status_code == 200, facts.text
    assert (facts.json()["sha256"], facts.json()["size"], facts.json()["file_name"]) == (
        sha256(photo),
        len(photo),
        "Աննա.jpg",
    )

    got = download(doc, stored["id"])
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == sha256(photo)
    assert got.headers["x-content-sha256"] == sha256(photo)

    # Paused is still recording; once it is completed, nothing more is added.
    paused = patch(doc, started, state="paused", break_reason="A glass of water.").json()
    assert raw_upload(doc, paused["id"], sample("jpeg", 5000)).status_code == 201
    reconfirm(doc, app, paused["id"])
    r = patch(doc, paused, state="completed")
    assert r.status_code == 200, r.text
    done = r.json()
    _problem(raw_upload(doc, done["id"], sample("jpeg", 5000)), 409, "interview_not_recording", ["state"])
    assert doc.get(f"/api/v1/interviews/{done['id']}/attachments").json()["items"][0]["id"] == stored["id"]


def _decisions(**yes: bool) -> dict[str, bool]:
    base = {
        "interview_now": True,
        "notes": True,
        "audio_recording": False,
        "video_recording": False,
        "photos": False,
        "storage": True,
        "referral": True,
        "re_contact": False,
    }
    return {**base, **yes}


def test_an_upload_without_the_matching_consent_is_refused_and_leaves_nothing(app: FastAPI) -> None:
    doc, case_id = documenter_team(app)
    interview = recording_interview(app, doc, case_id, photos=False, audio_recording=False, video_recording=False)
    before = _counts(app)
    body = _problem(raw_upload(doc, interview["id"], sample("jpeg", 200_000)), 403, "consent_required")
    assert body["decision"] == "photos"
    assert "photos" in body["detail"]
    r = doc.post(
        f"/api/v1/interviews/{interview['id']}/uploads",
        json={"kind": "audio", "category": "audio_recording", "length": 5000},
    )
    assert _problem(r, 403, "consent_required")["decision"] == "audio_recording"
    assert raw_upload(doc, interview["id"], sample("m4a", 5000), kind="video").status_code == 403
    # What the file is counts, not what it is declared as: a photo filed as a document is still a photo.
    as_document = raw_upload(doc, interview["id"], sample("jpeg", 200_000), kind="document")
    assert (_problem(as_document, 403, "consent_required", ["file"])["decision"]) == "photos"
    assert _counts(app) == before
    assert files(app, "tmp") == files(app, "blobs") == []
    # A document is stored under the storage decision, which this person gave.
    assert raw_upload(doc, interview["id"], sample("pdf", 5000), kind="document").status_code == 201


def test_a_category_the_kind_does_not_allow_is_422_listing_the_allowed(
    app: FastAPI, team: tuple[Actor, uuid.UUID]
) -> None:
    doc, interview_id = team
    headers = {"attachment-kind": "photo", "attachment-category": "audio_recording"}
    r = doc.post(f"/api/v1/interviews/{interview_id}/attachments", content=sample("jpeg", 5000), headers=headers)
    body = _problem(r, 422, None, ["category"])
    assert body["allowed"] == ["photos_of_person", "photos_other"]
    r = doc.post(f"/api/v1/interviews/{interview_id}/uploads", json={"kind": "document", "length": 10})
    assert _problem(r, 422, None, ["category"])["allowed"] == ["identity_documents", "evidentiary_documents"]
    r = doc.post(f"/api/v1/interviews/{interview_id}/uploads", json={"kind": "hologram", "length": 10})
    _problem(r, 422, None, ["kind"])
    assert _counts(app)[:3] == (0, 0, 0)


def test_a_documenter_outside_the_team_finds_nothing(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    stored = raw_upload(doc, interview_id, sample("jpeg", 5000)).json()
    upload = doc.post(f"/api/v1/interviews/{interview_id}/uploads", json={"kind": "audio", "length": 5000}).json()
    outsider = actor(app, "outsider", [Role.DOCUMENTER])
    assert raw_upload(outsider, interview_id, sample("jpeg", 5000)).status_code == 404
    assert outsider.get(f"/api/v1/interviews/{interview_id}/attachments").status_code == 404
    assert outsider.get(f"/api/v1/attachments/{stored['id']}").status_code == 404
    assert download(outsider, stored["id"]).status_code == 404
    r = outsider.post(f"/api/v1/interviews/{interview_id}/uploads", json={"kind": "audio", "length": 5000})
    assert r.status_code == 404
    for method in ("GET", "DELETE"):
        assert outsider.request(method, f"/api/v1/uploads/{upload['id']}").status_code == 404
    assert _counts(app)[:3] == (1, 1, 1)


def test_the_custody_proof_of_an_attachment_verifies_against_the_original(
    app: FastAPI, team: tuple[Actor, uuid.UUID], cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    doc, interview_id = team
    photo = sample("jpeg", 150_000)
    stored = raw_upload(doc, interview_id, photo).json()
    runner = CliRunner()
    assert runner.invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0
    proof = tmp_path / "proof.json"
    made = runner.invoke(cli, ["custody", "proof", stored["id"], "--out", str(proof)], env=cli_env)
    assert made.exit_code == 0, made.output
    assert stored["id"] not in proof.read_text()
    key = note.vkey(ORIGIN, kr.loads(key_file.read_bytes(), None).signer.public_key)
    original = tmp_path / "photo.jpg"
    original.write_bytes(download(doc, stored["id"]).content)

    def verify() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "app.audit.verify", "custody", str(proof), str(original), "--key", key]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)

    good = verify()
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OK: the item is the attachment original committed in entry" in good.stdout
    original.write_bytes(photo[:-1] + bytes([photo[-1] ^ 1]))
    assert verify().returncode == 1


def test_uploads_at_once_each_store_one_attachment_and_one_commitment(
    app: FastAPI, team: tuple[Actor, uuid.UUID]
) -> None:
    doc, interview_id = team
    photos = [sample("jpeg", 100_000 + i) for i in range(4)]
    headers = {"x-csrf-token": doc.csrf or "", "attachment-kind": "photo", "attachment-category": "photos_other"}
    with serve(app) as url:
        clients = [httpx.Client(base_url=url, cookies=dict(doc.client.cookies), headers=headers) for _ in photos]
        answers = at_once(
            [
                lambda c=c, p=p: c.post(f"/api/v1/interviews/{interview_id}/attachments", content=p)  # type: ignore[misc]
                for c, p in zip(clients, photos, strict=True)
            ]
        )
        for c in clients:
            c.close()
    assert [r.status_code for r in answers] == [201] * len(photos), [r.text for r in answers]
    assert sorted(r.json()["sha256"] for r in answers) == sorted(sha256(p) for p in photos)
    assert _counts(app)[:3] == (len(photos), 0, len(photos))
