"""Wire shapes of the published signing keys, and the forms that start a key job or a signing rotation from the
Keys page."""

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


class KeyTransitionRead(Output):
    """A retired key's signed statement that the next key follows it: check it with the key you pinned."""

    from_key_id: str
    from_public_key: str
    to_key_id: str
    to_public_key: str
    at: str
    signature: str
    """Base64 Ed25519 signature by the `from` key, context `testimony-vault/key-transition/v1`, over the lines
    `testimony-vault/key-transition/v1`, `from <from_public_key>`, `to <to_public_key>`, `to-key-id <to_key_id>`,
    `at <at>`, each ended by a newline."""


class SigningKeysRead(Output):
    keys: list[SigningKeyRead]
    """Oldest first."""
    transitions: list[KeyTransitionRead]
    """Oldest first: each rotation's statement, signed by the key it retired. Give them (this whole answer, saved
    as a file) to `--chain` of the verifiers, which follow them from the key you pinned."""


class KeyJobStart(Input):
    """A rotation or re-wrap asked for from the Keys page: the primary KEK the page showed."""

    kek_seen: int = Field(ge=1, le=1_000_000)


class SigningRotationStart(Input):
    """A signing-key rotation asked for from the Keys page: the id of the signing key the page showed."""

    key_seen: str = Field(pattern=r"^[0-9a-f]{16}$")
