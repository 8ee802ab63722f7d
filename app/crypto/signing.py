"""Ed25519 signing with domain-separating context strings.

Imports nothing of the application, so an independent verifier can ship it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MANIFEST_CONTEXT = b"testimony-vault/manifest/v1"
"""Bundles of manifest format v1: the signature covers manifest.json's bytes (still read by the verifiers)."""
MANIFEST_DIGEST_CONTEXT = b"testimony-vault/manifest-sha512/v2"
"""Bundles of manifest format v2: the signature covers the SHA-512 digest of manifest.json, so a manifest of
any size is written and signed in pieces."""
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


# --- Key transitions --------------------------------------------------------------------------------------
# When the signing key is rotated, the old key signs the new key's public key, id and the time, under its own
# context string. Anyone who pinned the old key can then follow the chain to the new one without trusting the
# server that hands the statements out: each one is checked against a key already trusted.

TRANSITION_CONTEXT = b"testimony-vault/key-transition/v1"
TRANSITION_FORMAT = "testimony-vault/key-transition/v1"
TRANSITION_FIELDS = frozenset({"from_key_id", "from_public_key", "to_key_id", "to_public_key", "at", "signature"})
MAX_TRANSITIONS = 1000


class ChainError(ValueError):
    """A key transition is malformed or forged, or the chain forks: the later keys cannot be trusted."""


def transition_message(old_public: bytes, new_public: bytes, at: str) -> bytes:
    """The exact bytes the old key signs: both keys, the new key's id and the time, one per line."""
    b64 = base64.b64encode
    return (
        f"{TRANSITION_FORMAT}\nfrom {b64(old_public).decode()}\nto {b64(new_public).decode()}\n"
        f"to-key-id {key_id(new_public)}\nat {at}\n"
    ).encode("ascii")


def sign_transition(old: Signer, new_public: bytes, at: str) -> dict[str, str]:
    """The statement by which the old key vouches for the new one; public, published with the key history."""
    signature = old.sign(TRANSITION_CONTEXT, transition_message(old.public_key, new_public, at))
    return {
        "from_key_id": old.key_id,
        "from_public_key": base64.b64encode(old.public_key).decode(),
        "to_key_id": key_id(new_public),
        "to_public_key": base64.b64encode(new_public).decode(),
        "at": at,
        "signature": base64.b64encode(signature).decode(),
    }


def _key_field(statement: dict[str, object], name: str) -> bytes:
    value = statement.get(name)
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32 and name.endswith("public_key"):
        raise ChainError(f"a key transition's {name} is not an Ed25519 public key")
    if name == "signature" and len(raw) != 64:
        raise ChainError("a key transition's signature is not an Ed25519 signature")
    return raw


def check_transition(statement: object) -> tuple[bytes, bytes]:
    """(old public key, new public key) of a transition whose signature by the old key holds; ChainError if not."""
    if not isinstance(statement, dict) or not TRANSITION_FIELDS <= set(statement):
        raise ChainError(
            "a key transition is not a {from_key_id, from_public_key, to_key_id, to_public_key, at, signature} object"
        )
    old, new = _key_field(statement, "from_public_key"), _key_field(statement, "to_public_key")
    signature = _key_field(statement, "signature")
    at = statement["at"]
    if not isinstance(at, str) or not at.isascii() or "\n" in at:
        raise ChainError("a key transition's time is not an ASCII timestamp")
    if statement["from_key_id"] != key_id(old) or statement["to_key_id"] != key_id(new):
        raise ChainError("a key transition's key ids are not those of its keys")
    if old == new:
        raise ChainError("a key transition names the same key twice")
    if not verify(old, signature, TRANSITION_CONTEXT, transition_message(old, new, at)):
        raise ChainError(
            f"the transition from key {key_id(old)} to key {key_id(new)} is not signed by key {key_id(old)}: "
            "it is forged or was changed"
        )
    return old, new


def follow_chain(pinned: bytes, statements: object) -> list[bytes]:
    """The keys trusted from a pinned key, oldest first: the pinned key, then each key a trusted key vouched for.

    Statements that start from a key outside the chain are ignored (an older part of the history, say). A
    statement from a trusted key that does not verify, or a trusted key vouching for two different keys (two
    rotations from one key, as a leaked key could make), is a ChainError: nothing after the pinned key is
    trusted then.
    """
    if not isinstance(statements, list) or len(statements) > MAX_TRANSITIONS:
        raise ChainError("the key transitions are not a list (of at most 1000)")
    by_old: dict[bytes, list[object]] = {}
    for statement in statements:
        old = statement.get("from_public_key") if isinstance(statement, dict) else None
        try:
            raw = base64.b64decode(old, validate=True) if isinstance(old, str) else None
        except ValueError:
            raw = None
        if raw is None:
            raise ChainError("a key transition does not name the key it comes from")
        by_old.setdefault(raw, []).append(statement)
    chain = [pinned]
    while True:
        found = by_old.get(chain[-1], [])
        successors = {check_transition(s)[1] for s in found}
        if not successors:
            return chain
        if len(successors) > 1:
            raise ChainError(f"key {key_id(chain[-1])} vouches for {len(successors)} different keys: the chain forks")
        (new,) = successors
        if new in chain:
            raise ChainError("the key transitions go round in a circle")
        chain.append(new)
