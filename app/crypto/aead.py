"""AES-256-GCM sealing of single values, bound to where they live.

A sealed value is ``0x01 || nonce(12) || ciphertext+tag``. The additional data
binds the value to its table, column, row and person, so a ciphertext copied
to another place fails to open.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.errors import DecryptionFailed

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32


def seal_aad(table: str, column: str, row_id: uuid.UUID, person_id: uuid.UUID | None) -> bytes:
    """The additional data for a sealed column value."""
    # A "|" in a name would let two different places share one AAD.
    if "|" in table or "|" in column:
        raise ValueError("table and column names must not contain '|'")
    person = person_id.hex if person_id is not None else "-"
    return f"v1|{table}|{column}|{row_id.hex}|{person}".encode()


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt with a fresh random nonce; the result carries format byte and nonce."""
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Reverse of encrypt(); any failure is DecryptionFailed."""
    if len(key) != KEY_BYTES or len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
        raise DecryptionFailed
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptionFailed from None


def seal(
    key: bytes,
    plaintext: bytes,
    *,
    table: str,
    column: str,
    row_id: uuid.UUID,
    person_id: uuid.UUID | None,
) -> bytes:
    """Seal one column value under a data key."""
    return encrypt(key, plaintext, seal_aad(table, column, row_id, person_id))


def open(
    key: bytes,
    blob: bytes,
    *,
    table: str,
    column: str,
    row_id: uuid.UUID,
    person_id: uuid.UUID | None,
) -> bytes:
    """Open a value sealed by seal() at the same place; DecryptionFailed otherwise."""
    return decrypt(key, blob, seal_aad(table, column, row_id, person_id))


def new_key() -> bytes:
    """A fresh random AES-256 key."""
    return os.urandom(KEY_BYTES)
