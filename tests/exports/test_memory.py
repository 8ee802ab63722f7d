"""Memory stays flat: a 200 MB entry streams through the writer, age and the sealed file in a few MB; a build's
peak heap does not grow with its records."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.bundles import REPO

SCRIPT = """
import json, os, resource, subprocess, sys, uuid
from pathlib import Path
from app.core.blobstore import DirectoryBlobStore
from app.crypto import keyring as kr
from app.exports.bundle import Bundle, Entry
from app.exports.encrypt import encrypt_to_age
from app.exports.stored import seal_bundle
from tests.support.bundles import README, info

root = Path(sys.argv[1])
identity = root / "identity.txt"
subprocess.run(["/usr/bin/age-keygen", "-o", str(identity)], check=True, capture_output=True)
recipient = subprocess.run(["/usr/bin/age-keygen", "-y", str(identity)], check=True, capture_output=True,
                           text=True).stdout.strip()
store = DirectoryBlobStore(root / "exports")
signer = kr.generate().signer
MB = 1024 * 1024

def build(total):
    block = os.urandom(MB)  # incompressible, so the ZIP, age and the sealed file each carry it all
    def chunks():
        for i in range(total):
            yield block[i % 7:] + block[: i % 7]
    bundle = Bundle([Entry("attachments/big.bin", chunks())], info(), signer, README)
    return seal_bundle(store, uuid.uuid4(), os.urandom(32), encrypt_to_age(bundle.chunks(), recipient)), bundle

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

build(4)  # warm up: every module, buffer and thread once
before = rss()
stored, bundle = build(200)
print(json.dumps({"before": before, "after": rss(), "stored": stored.size,
                  "entry": bundle.result["attachments/big.bin"].size}))
"""


@pytest.mark.slow
def test_a_200_mb_entry_streams_in_flat_memory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["entry"] == 200 * 1024 * 1024
    assert facts["stored"] > facts["entry"]  # the whole entry went through, encrypted
    growth = facts["after"] - facts["before"]
    assert growth < 24 * 1024 * 1024, f"peak RSS grew by {growth / 1e6:.1f} MB"


BUILD = """
import functools, json, sys, tracemalloc, uuid
from pathlib import Path

import app.models  # every domain, so no import lands inside the measured build
from app.exports import cli  # what the build imports lazily (verifier, strip, age)
from app.exports import build, feedback, spool, stored, writer
from app.exports.worker import Worker
from app.core.db import make_engine, make_sessionmaker
from app.runtime import Runtime
from bench.export_build import _keys, _settings

# Every fixed-size buffer full at either size, so that only what grows per record differs: a tape's gathering
# block, the writer's and the feedback tasks' pages, the sealed bundle's segment.
spool.BLOCK = 8 * 1024
writer.PAGE = feedback.PAGE = 25
writer.seal_bundle = functools.partial(stored.seal_bundle, segment=16 * 1024)
# The collector at its usual pace: a build lets up to 50,000 allocations pass between its youngest passes, and
# the cycles freed in between (each JSON encoder's) would fill up to that with the size, not with what is held.
build.YOUNG_THRESHOLD = 700
root = Path(sys.argv[1])
facts = json.loads((root / "seed.json").read_text())
settings = _settings(root)
engine = make_engine(settings.database_url)
runtime = Runtime(settings, _keys(settings))
factory = make_sessionmaker(engine)
tracemalloc.start()
status = Worker(factory, runtime).build_one(uuid.UUID(facts["export"]))
print(json.dumps({"status": status.value, "peak": tracemalloc.get_traced_memory()[1]}))
"""


def _build_peak(root: Path, testimonies: int) -> tuple[int, int]:
    """Seed ``testimonies`` (one a person, ``bench.export_build``) and build them in a fresh process: the
    Python heap's peak during the build, and the records the bundle holds."""
    from app.core.db import make_engine, make_sessionmaker, unit_of_work
    from app.exports.models import ExportRequest
    from bench.export_build import _settings, seed

    root.mkdir()
    facts = seed(root, testimonies, per_person=1)
    result = subprocess.run(
        [sys.executable, "-c", BUILD, str(root)], cwd=REPO, capture_output=True, text=True, check=False, timeout=900
    )
    assert result.returncode == 0, result.stderr[-4000:]
    built = json.loads(result.stdout.strip().splitlines()[-1])
    assert built["status"] == "ready"
    engine = make_engine(_settings(root).database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as s:
            export = s.get(ExportRequest, uuid.UUID(facts["export"]))
            assert export is not None
            assert export.people_count is not None
            records = export.people_count - sum(
                n for level, n in (export.level_counts or {}).items() if level == "aggregate_only"
            )
    finally:
        engine.dispose()
    return built["peak"], records


PER_RECORD_BOUND = 1500
"""Bytes of the build's peak Python heap per record. Before the tapes the slope was about 7 KB a record (1.8 KB
held to the end, the rest at the peak: the manifest encoded whole); now about 0.7 KB: ZIP's central directory,
which ``stream_zip`` keeps until the end (about 0.3 KB a file: each record's consent file), and the feedback
tasks' list of person ids (about 0.1 KB a person)."""


@pytest.mark.slow
def test_the_builds_memory_does_not_grow_with_its_records(tmp_path: Path) -> None:
    """The peak of the Python heap while building 150 and 600 testimonies (tracemalloc, each build in a fresh
    process): flat in the number of records, whatever a record holds, because every per-record thing waits on
    a sealed tape (``app.exports.spool.Tape``) or is recomputed."""
    small_peak, small = _build_peak(tmp_path / "small", 150)
    large_peak, large = _build_peak(tmp_path / "large", 600)
    assert large > 3 * small > 0
    slope = (large_peak - small_peak) / (large - small)
    assert slope < PER_RECORD_BOUND, (
        f"the build's peak heap grows by {slope:.0f} bytes a record ({small_peak} at {small}, {large_peak} at {large})"
    )
