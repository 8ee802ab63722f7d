"""Reference codes: what a survivor holds to find their consent record again, without a name.

A code is 20 characters of Crockford's base32 (100 random bits), shown in four groups of five. It is
made when a record is first recorded, told to the person once (the recording response, their receipt,
or aloud), and stored only as an HMAC-SHA256 under a key derived from the root key, so the database
alone cannot produce or confirm a code. It is not the person's pseudonym code and has no link to it.
Reading it back is forgiving, as Crockford's alphabet intends: case, spaces and hyphens do not matter,
and I, L and O are read as 1, 1 and 0.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from app.crypto.derive import Purpose, keyed_hash

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 20
GROUP = 5
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_code() -> str:
    """A fresh code, grouped for reading aloud: ``XXXXX-XXXXX-XXXXX-XXXXX``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(given: str) -> str | None:
    """The code's 20 characters as stored, or None when it cannot be a code at all."""
    text = "".join(given.split()).replace("-", "").upper().translate(_READ_AS)
    if len(text) != LENGTH or any(c not in ALPHABET for c in text):
        return None
    return text


def code_hash(runtime: Runtime, normalised: str) -> str:
    """The keyed hash stored for a normalised code."""
    return keyed_hash(runtime.derived_key(Purpose.CONSENT_REFERENCE), f"reference|{normalised}".encode()).hex()
