"""Ed25519 signing with domain-separating context strings.

Imports nothing of the application, so an independent verifier can ship it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MANIFEST_CONTEXT = b"testimony-vault/manifest/v1"
BACKUP_CONTEXT = b"testimony-vault/backup/v1"


def fingerprint(public_key: bytes) -> str:
    """SHA-256 of the raw public key, hex: what verifiers pin."""
    return hashlib.sha256(public_key).hexdigest()


def key_id(public_key: bytes) -> str:
    """A short id for a signing key: the first 16 hex digits of its fingerprint."""
    return fingerprint(public_key)[:16]


def _framed(context: bytes, message: bytes) -> bytes:
    return len(context).to_bytes(2, "big") + context + message


@dataclass(frozen=True)
class Signer:
    _key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign_raw(self, message: bytes) -> bytes:
        """Sign bytes whose format already separates domains (e.g. a signed note).

        Context-framed messages start with a two-byte length whose first byte is
        0x00; raw messages may not, so no raw signature can pass as a framed one.
        """
        if message[:1] == b"\x00":
            raise ValueError("a raw-signed message must not start with a NUL byte")
        return self._key.sign(message)

    def sign(self, context: bytes, message: bytes) -> bytes:
        """Sign with a context string, so a signature cannot be replayed in another role."""
        return self._key.sign(_framed(context, message))


def verify_raw(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(public_key: bytes, signature: bytes, context: bytes, message: bytes) -> bool:
    return verify_raw(public_key, signature, _framed(context, message))
