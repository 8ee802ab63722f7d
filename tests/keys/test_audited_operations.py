"""Key operations are in the log before they change anything, and say how they ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import new_id, unit_of_work
from app.keys import service as keys_service
from app.keys.models import DataKey
from app.keys.store import Keys


def _rotate_events(session_factory: sessionmaker[Session]) -> list[str]:
    with unit_of_work(session_factory) as s:
        return list(
            s.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "keys.rotate").order_by(AuditEvent.seq))
        )


def test_rotate_records_started_then_its_outcome(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], keys: Keys
) -> None:
    with unit_of_work(session_factory) as s:
        for _ in range(3):
            keys_service.create_data_key(s, keys, new_id())
    result = CliRunner().invoke(cli, ["keys", "rotate"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert _rotate_events(session_factory) == ["started", "allowed"]


@pytest.mark.slow
def test_a_rotation_killed_halfway_has_left_its_started_event(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], keys: Keys, key_file: Path
) -> None:
    with unit_of_work(session_factory) as s:
        for _ in range(3000):
            keys_service.create_data_key(s, keys, new_id())
    original = key_file.read_bytes()
    command = [sys.executable, "-c", "from app.cli import main; main()", "keys", "rotate", "--batch-size", "1"]
    proc = subprocess.Popen(
        command, env={**os.environ, **cli_env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while key_file.read_bytes() == original and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.3)  # let it re-wrap some data keys
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert key_file.read_bytes() != original  # the new primary KEK was saved...
    with unit_of_work(session_factory) as s:
        versions = list(s.scalars(select(DataKey.kek_version)))
    # ...and some data keys are re-wrapped under it while others wait: it was killed halfway.
    assert len(set(versions)) == 2, "the rotation finished before it was killed; the test proves nothing"
    assert _rotate_events(session_factory) == ["started"]  # recorded before the first change
