"""Per-person data keys (DEK) wrapped by a versioned key-encryption key (KEK)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.crypto import aead
from app.crypto.errors import DecryptionFailed
from app.crypto.keyring import Keyring


@dataclass(frozen=True)
class WrappedKey:
    kek_version: int
    blob: bytes


def wrap_aad(subject_id: uuid.UUID, kek_version: int) -> bytes:
    return f"dek|{subject_id.hex}|{kek_version}".encode()


def new_data_key() -> bytes:
    return aead.new_key()


def wrap(keyring: Keyring, subject_id: uuid.UUID, dek: bytes) -> WrappedKey:
    """Wrap a data key under the primary KEK, bound to its owner and KEK version."""
    version = keyring.kek_primary
    blob = aead.encrypt(keyring.kek(version), dek, wrap_aad(subject_id, version))
    return WrappedKey(kek_version=version, blob=blob)


def unwrap(keyring: Keyring, subject_id: uuid.UUID, wrapped: WrappedKey) -> bytes:
    """Unwrap a data key; a missing KEK version or a moved key is DecryptionFailed."""
    try:
        kek = keyring.kek(wrapped.kek_version)
    except KeyError:
        raise DecryptionFailed from None
    return aead.decrypt(kek, wrapped.blob, wrap_aad(subject_id, wrapped.kek_version))


def rewrap(keyring: Keyring, subject_id: uuid.UUID, wrapped: WrappedKey) -> WrappedKey:
    """Re-wrap under the primary KEK without touching data sealed by the DEK."""
    if wrapped.kek_version == keyring.kek_primary:
        return wrapped
    return wrap(keyring, subject_id, unwrap(keyring, subject_id, wrapped))
