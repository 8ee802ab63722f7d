"""age (age-encryption.org/v1) recipients: the public keys export bundles are encrypted to.

Parsing is pyrage's, so a key accepted here is one age itself can encrypt to.
"""

from __future__ import annotations

import pyrage

MAX_RECIPIENT_LENGTH = 100
"""An X25519 recipient is 62 characters; anything much longer is not one."""


def x25519_recipient(text: str) -> str:
    """The canonical form of an age X25519 recipient (``age1...``); ValueError when it is not one."""
    candidate = text.strip()
    if candidate.upper().startswith("AGE-SECRET-KEY-"):
        raise ValueError("this is an age secret key: give the recipient (age1...), and keep the secret key away")
    if len(candidate) > MAX_RECIPIENT_LENGTH or not candidate.lower().startswith("age1"):
        raise ValueError("not an age X25519 recipient (age1...)")
    # Bech32 is written in one case; all upper case (as on a QR code) is the same key.
    try:
        return str(pyrage.x25519.Recipient.from_str(candidate.lower() if candidate.isupper() else candidate))
    except pyrage.RecipientError:
        raise ValueError("not an age X25519 recipient (age1...)") from None
