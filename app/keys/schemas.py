"""Wire shapes of the published signing keys, and the form that starts a key job from the Keys page."""

from __future__ import annotations

from pydantic import Field

from app.core.schemas import Input, Output


class SigningKeyRead(Output):
    """One Ed25519 key of the service's signing history: what recipients and auditors pin."""

    key_id: str
    algorithm: str
    public_key: str
    """Base64 of the raw 32-byte Ed25519 public key."""
    fingerprint: str
    """SHA-256 of the raw public key, hex: give it to `verify_bundle.py --key`."""
    created: str
    retired: bool
    current: bool
    """Whether this key signs new bundles and checkpoints now."""


class SigningKeysRead(Output):
    keys: list[SigningKeyRead]
    """Oldest first."""


class KeyJobStart(Input):
    """A rotation or re-wrap asked for from the Keys page: the primary KEK the page showed."""

    kek_seen: int = Field(ge=1, le=1_000_000)
