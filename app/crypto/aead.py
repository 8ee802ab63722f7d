"""AES-256-GCM sealing of single values, bound to where they live.

A sealed value is ``format || nonce(12) || ciphertext+tag``. The additional data
binds the value to its table, column, row and person, so a ciphertext copied
to another place fails to open.

Format 0x01 (AAD v1) binds only that place. Format 0x02 (AAD v2) also binds the
clear columns that decide who may reach the value (a person's case and code, a
consent's status...), so editing one of them in the database makes the value
fail to open instead of changing access. The format byte tells the two apart
without trying a key, which is how a re-seal finds what is left to do.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.errors import DecryptionFailed

FORMAT_V1 = b"\x01"
FORMAT_V2 = b"\x02"
NONCE_BYTES = 12
KEY_BYTES = 32


def _place(table: str, column: str, row_id: uuid.UUID, person_id: uuid.UUID | None) -> str:
    # A "|" in a name would let two different places share one AAD.
    if "|" in table or "|" in column:
        raise ValueError("table and column names must not contain '|'")
    person = person_id.hex if person_id is not None else "-"
    return f"{table}|{column}|{row_id.hex}|{person}"


def seal_aad(table: str, column: str, row_id: uuid.UUID, person_id: uuid.UUID | None) -> bytes:
    """The v1 additional data for a sealed column value: its place only."""
    return f"v1|{_place(table, column, row_id, person_id)}".encode()


def bound_aad(
    table: str, column: str, row_id: uuid.UUID, person_id: uuid.UUID | None, binding: Mapping[str, str]
) -> bytes:
    """The v2 additional data: the place, then ``name=value`` of each bound clear column, in name order."""
    if not binding:
        raise ValueError("a v2 AAD binds at least one value")
    # With no "|" anywhere and no "=" in names, the segments split back one way only.
    if any("|" in name or "=" in name or "|" in value for name, value in binding.items()):
        raise ValueError("binding names must not contain '|' or '=', nor values '|'")
    bound = "|".join(f"{name}={binding[name]}" for name in sorted(binding))
    return f"v2|{_place(table, column, row_id, person_id)}|{bound}".encode()


def encrypt(key: bytes, plaintext: bytes, aad: bytes, *, fmt: bytes = FORMAT_V1) -> bytes:
    """Encrypt with a fresh random nonce; the result carries format byte and nonce."""
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    nonce = os.urandom(NONCE_BYTES)
    return fmt + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes, *, fmt: bytes = FORMAT_V1) -> bytes:
    """Reverse of encrypt(); any failure is DecryptionFailed."""
    if len(key) != KEY_BYTES or len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != fmt:
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
    """Seal one column value under a data key, bound to its place (v1)."""
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


def seal_bound(
    key: bytes,
    plaintext: bytes,
    *,
    table: str,
    column: str,
    row_id: uuid.UUID,
    person_id: uuid.UUID | None,
    binding: Mapping[str, str],
) -> bytes:
    """Seal one column value bound to its place and to the clear values that govern it (v2)."""
    return encrypt(key, plaintext, bound_aad(table, column, row_id, person_id, binding), fmt=FORMAT_V2)


def open_bound(
    key: bytes,
    blob: bytes,
    *,
    table: str,
    column: str,
    row_id: uuid.UUID,
    person_id: uuid.UUID | None,
    binding: Mapping[str, str],
    accept_v1: bool,
) -> bytes:
    """Open a v2 value with the same place and binding; a v1 value only while ``accept_v1``.

    A v1 value binds no clear column, so accepting one trusts those columns as stored.
    """
    if is_bound(blob):
        return decrypt(key, blob, bound_aad(table, column, row_id, person_id, binding), fmt=FORMAT_V2)
    if not accept_v1:
        raise DecryptionFailed
    return decrypt(key, blob, seal_aad(table, column, row_id, person_id))


def is_bound(blob: bytes) -> bool:
    """Whether a sealed value is in the v2 format (read from its format byte only)."""
    return blob[:1] == FORMAT_V2


def new_key() -> bytes:
    """A fresh random AES-256 key."""
    return os.urandom(KEY_BYTES)
