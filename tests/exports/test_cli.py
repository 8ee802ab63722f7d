"""`testimony worker`: a separate process builds what custodians approved, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from fastapi import FastAPI

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
    assert b"built 2 export job(s)" in done.stdout
    assert [d.legal.get(f"/api/v1/exports/{e}").json()["status"] for e in exports] == ["ready", "ready"]
