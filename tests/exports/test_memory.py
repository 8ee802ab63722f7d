"""Memory stays flat: a 200 MB entry streams through the writer, age and the sealed file in a few MB."""

from __future__ import annotations

import json
import subprocess
import sys
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
