"""The sweeper: temp blobs a crash left behind go, a rename a crash interrupted is done, live uploads stay."""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.db import new_id
from app.interviews.sweep import SweepReport, sweep
from tests.support.actors import Actor
from tests.support.attachments import download, files, raw_upload, sample


def _sweep(app: FastAPI) -> SweepReport:
    runtime = app.state.runtime
    return sweep(app.state.sessionmaker, runtime.blobs, runtime.settings.attachments)


def _age(path: Path, minutes: float) -> None:
    then = time.time() - minutes * 60
    os.utime(path, (then, then))


def _orphan(app: FastAPI, minutes: float) -> Path:
    """A temp blob as a crashed upload leaves it: some sealed bytes, no row."""
    temp = app.state.runtime.blobs.create_temp(new_id().hex)
    temp.append(os.urandom(5000))
    temp.close()
    path: Path = app.state.runtime.blobs.temp_path(temp.key)
    _age(path, minutes)
    return path


def test_a_temp_blob_a_crash_left_goes_after_the_grace_period(app: FastAPI) -> None:
    fresh, old = _orphan(app, 5), _orphan(app, 61)
    report = _sweep(app)
    assert report.removed_temps == 1
    assert not old.exists()
    assert fresh.exists()  # may belong to an upload about to commit


def test_a_temp_blob_being_written_is_left_alone(app: FastAPI) -> None:
    path = _orphan(app, 120)
    held = app.state.runtime.blobs.open_temp(path.name.removesuffix(".part"))
    assert held is not None
    report = _sweep(app)
    assert report.busy == [held.key]
    assert path.exists()
    held.close()


def _interrupted(app: FastAPI, team: tuple[Actor, uuid.UUID], data: bytes) -> tuple[str, Path]:
    """An attachment stored, whose row committed before the process died ahead of the rename: the blob
    is still under its temp name. Its id, and where its final blob belongs."""
    doc, interview_id = team
    stored = raw_upload(doc, interview_id, data).json()
    [final] = files(app, "blobs")
    temp = app.state.runtime.blobs.temp_path(final.name)
    os.link(final, temp)
    final.unlink()
    _age(temp, 90)
    return stored["id"], final


def test_a_rename_interrupted_by_a_crash_is_completed(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, _ = team
    data = sample("jpeg", 200_000)
    attachment_id, _final = _interrupted(app, team, data)
    assert download(doc, attachment_id).status_code == 500
    report = _sweep(app)
    assert report.finalised == 1
    assert files(app, "tmp") == []
    assert download(doc, attachment_id).content == data


def _beside_final(app: FastAPI, attachment_id: str, minutes: float) -> Path:
    """A temp blob under a stored attachment's id, as a transfer that lost the race to complete its
    upload left one: a fresh salt, nothing sealed."""
    temp = app.state.runtime.blobs.create_temp(uuid.UUID(attachment_id).hex)
    temp.append(os.urandom(32))
    temp.close()
    path: Path = app.state.runtime.blobs.temp_path(temp.key)
    _age(path, minutes)
    return path


def test_a_temp_blob_beside_its_final_blob_goes_and_the_final_stands(
    app: FastAPI, team: tuple[Actor, uuid.UUID]
) -> None:
    doc, interview_id = team
    data = sample("jpeg", 200_000)
    stored = raw_upload(doc, interview_id, data).json()
    leftover = _beside_final(app, stored["id"], 90)
    orphan = _orphan(app, 90)
    report = _sweep(app)
    assert (report.removed_temps, report.finalised, report.failed) == (2, 0, [])
    assert not leftover.exists()
    assert not orphan.exists()
    assert download(doc, stored["id"]).content == data
    assert _sweep(app) == SweepReport()  # and the next pass finds nothing to do


def test_one_key_that_fails_does_not_stop_the_pass(
    app: FastAPI, team: tuple[Actor, uuid.UUID], caplog: pytest.LogCaptureFixture
) -> None:
    doc, _ = team
    data = sample("jpeg", 200_000)
    attachment_id, final = _interrupted(app, team, data)
    # ... and the final folder cannot be made: a file holds its name.
    folder = final.parent
    folder.rmdir()
    folder.write_bytes(b"")
    orphans = [_orphan(app, 90) for _ in range(3)]
    with caplog.at_level(logging.WARNING, logger="testimony.attachments"):
        report = _sweep(app)
    assert report.failed == [final.name]
    assert report.removed_temps == 3
    assert not any(path.exists() for path in orphans)
    assert f"could not settle blob {final.name}: FileExistsError" in caplog.text
    folder.unlink()  # repaired: the next pass makes it final, so the failed one did not keep it held
    assert _sweep(app).finalised == 1
    assert download(doc, attachment_id).content == data


def test_a_resumable_upload_between_transfers_is_kept(app: FastAPI, team: tuple[Actor, uuid.UUID]) -> None:
    doc, interview_id = team
    data = sample("m4a", 2 * 1024 * 1024)
    upload = doc.post(f"/api/v1/interviews/{interview_id}/uploads", json={"kind": "audio", "length": len(data)}).json()
    r = doc.request(
        "PATCH", f"/api/v1/uploads/{upload['id']}", content=data[: 1024 * 1024], headers={"upload-offset": "0"}
    )
    assert r.status_code == 200
    [temp] = files(app, "tmp")
    _age(temp, 600)  # a weak connection may wait hours between two transfers
    assert _sweep(app) == SweepReport()
    assert temp.exists()


def test_the_service_sweeps_when_it_starts(app: FastAPI) -> None:
    old = _orphan(app, 61)
    with TestClient(app):
        assert not old.exists()
