"""`testimony worker`: a separate process builds what custodians approved, and stops cleanly on SIGTERM.
`testimony exports list` shows status and counts and no content; `testimony exports build` runs a failed build
of an approved export again (resuming it) and refuses every other export, so it can never approve one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import unit_of_work
from tests.support.consent import grant
from tests.support.exports import desk


def test_the_worker_process_builds_approved_exports(app: FastAPI, cli_env: dict[str, str]) -> None:
    d = desk(app)
    d.person(grant())
    export = d.request()["id"]
    assert d.approve(export).json()["status"] == "approved"
    env = {**os.environ, **cli_env}
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--idle", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        status = "approved"
        while status != "ready" and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.3)
            status = d.legal.get(f"/api/v1/exports/{export}").json()["status"]
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert status == "ready", err.decode(errors="replace")
    assert worker.returncode == 0, err.decode(errors="replace")
    assert b"started" in out
    read = d.legal.get(f"/api/v1/exports/{export}").json()
    assert (read["people_count"], read["excluded_count"]) == (1, 0)


def test_worker_once_builds_what_is_queued_and_stops(app: FastAPI, cli_env: dict[str, str]) -> None:
    d = desk(app)
    d.person(grant())
    exports = [d.request()["id"] for _ in range(2)]
    for export in exports:
        assert d.approve(export).json()["status"] == "approved"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--once"],
        env={**os.environ, **cli_env},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"ran 2 job(s) (export builds, key rotations and re-wraps)" in done.stdout
    assert [d.legal.get(f"/api/v1/exports/{e}").json()["status"] for e in exports] == ["ready", "ready"]


JUSTIFICATION = "The Commission asked for accounts of the October crossing."


def test_exports_list_shows_status_and_counts_and_no_content(app: FastAPI, cli_env: dict[str, str]) -> None:
    d = desk(app)
    people = [d.person(grant()) for _ in range(2)]
    waiting = d.request()["id"]
    built, _ = d.ready()
    result = CliRunner().invoke(cli, ["exports", "list", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    listed = {row["id"]: row for row in json.loads(result.stdout)}
    assert set(listed) == {waiting, built}
    assert listed[waiting]["status"] == "requested"
    assert (listed[built]["status"], listed[built]["people"], listed[built]["excluded"]) == ("ready", 2, 0)
    assert listed[built]["purpose"] == "un_fact_finding"
    assert listed[built]["recipient_id"] == d.recipient_id
    assert listed[built]["levels"] == {"pseudonymous": 2}
    table = CliRunner().invoke(cli, ["exports", "list"], env=cli_env)
    assert table.exit_code == 0, table.output
    assert waiting in table.stdout
    assert built in table.stdout
    for shown in (result.stdout, table.stdout):
        assert JUSTIFICATION not in shown
        assert not any(p in shown for p in people)
        assert d.case_id not in shown


def _blocked(app: FastAPI) -> Path:
    """The bundle store's folder made impossible to create (a file in its place): a build fails writing."""
    folder = Path(app.state.runtime.settings.data_dir) / "exports"
    assert not folder.exists()
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_bytes(b"")
    return folder


def test_exports_build_runs_a_failed_build_again_to_ready(app: FastAPI, cli_env: dict[str, str]) -> None:
    d = desk(app)
    for _ in range(3):
        d.person(grant())
    export = d.request()["id"]
    assert d.approve(export).json()["status"] == "approved"
    blocker = _blocked(app)
    assert d.worker().run_once() is True
    assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == "failed"
    blocker.unlink()  # the disk is fixed
    result = CliRunner().invoke(cli, ["exports", "build", export], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "ready" in result.stdout
    read = d.legal.get(f"/api/v1/exports/{export}").json()
    assert (read["status"], read["people_count"], read["bundle_written"]) == ("ready", 3, True)
    assert len(read["approvals"]) == 1  # nothing approved it again
    with unit_of_work(app.state.sessionmaker) as s:
        trail = s.scalars(select(AuditEvent).where(AuditEvent.resource_id == export)).all()
    assert any(e.action == "export.build" and e.outcome == "allowed" for e in trail)


def test_exports_build_refuses_anything_but_a_failed_approved_build(app: FastAPI, cli_env: dict[str, str]) -> None:
    d = desk(app)
    d.person(grant())
    requested = d.request()["id"]
    ready, _ = d.ready()
    for export, status in ((requested, "requested"), (ready, "ready")):
        result = CliRunner().invoke(cli, ["exports", "build", export], env=cli_env)
        assert result.exit_code == 2, result.output
        assert "only a failed build of an approved export is run again" in result.output
        assert d.legal.get(f"/api/v1/exports/{export}").json()["status"] == status
    unknown = CliRunner().invoke(cli, ["exports", "build", str(uuid.uuid4())], env=cli_env)
    assert unknown.exit_code == 2
