"""The signing key history, published so that recipients and auditors can pin a key (public by design)."""

from __future__ import annotations

from app.crypto.keyring import Keyring
from app.keys.schemas import KeyTransitionRead, SigningKeyRead, SigningKeysRead


def signing_keys(keyring: Keyring) -> SigningKeysRead:
    """Every signing key the service has had, oldest first: public keys, ids, fingerprints and validity.

    Public keys only; the seeds never leave the keyring. A recipient should compare the fingerprint with
    one obtained through another channel as well: whoever controls this answer could change it. The transitions
    need no such trust: each is signed by the key it retired, so a verifier follows them from the key it pinned.
    """
    current = keyring.signer.key_id
    return SigningKeysRead(
        keys=[
            SigningKeyRead(
                key_id=entry["key_id"],
                algorithm="ed25519",
                public_key=entry["public_key"],
                fingerprint=entry["fingerprint"],
                created=entry["created"],
                retired=entry["retired"],
                current=entry["key_id"] == current,
            )
            for entry in keyring.public_keys()
        ],
        transitions=[KeyTransitionRead(**t) for t in keyring.transitions()],
    )
