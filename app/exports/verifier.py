"""The standalone bundle verifier as a file: what `testimony exports verifier` writes, and its hash."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).with_name("verify_bundle.py")


@cache
def verifier_source() -> bytes:
    """The exact bytes of ``verify_bundle.py``, as recipients run it."""
    return SOURCE.read_bytes()


def verifier_sha256() -> str:
    return hashlib.sha256(verifier_source()).hexdigest()
