"""A 200 MB upload round-trips with its SHA-256, in bounded memory, touching no file outside the blob
directory. Each check runs tests/interviews/large_upload.py in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def _run(mode: str, workdir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.interviews.large_upload", mode, str(workdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    sent, stored, received = found["digests"]
    assert sent == stored == received
    return found


@pytest.mark.slow
def test_a_200_mb_upload_round_trips_within_64_mb_of_memory(tmp_path: Path) -> None:
    found = _run("rss", tmp_path)
    assert found["sampled_peak"] - found["before"] < 64 * MIB, found
    assert found["high_water"] - found["before"] < 64 * MIB, found


@pytest.mark.slow
def test_a_200_mb_upload_opens_nothing_outside_the_blob_directory(tmp_path: Path) -> None:
    found = _run("audit", tmp_path)
    assert found["outside"] == []
    assert found["opened_inside"] > 0
    assert found["caught"] == [f"open {(tmp_path / 'outside.txt').resolve()}"]
