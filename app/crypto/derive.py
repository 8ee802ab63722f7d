"""Keys derived from the root key with HKDF-SHA256, and HMAC over derived keys.

Derived keys depend only on the root key, so KEK rotation never changes a
blind index or an export pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Purpose(StrEnum):
    BLIND_INDEX = "testimony/blind-index/v1"
    EXPORT_PSEUDONYM = "testimony/export-pseudonym/v1"
    CLIENT_ADDRESS = "testimony/client-address/v1"
    CONSENT_REFERENCE = "testimony/consent-reference/v1"
    JOURNAL = "testimony/journal/v1"


def derive_key(root: bytes, purpose: Purpose) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.value.encode()).derive(root)


def keyed_hash(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256."""
    return hmac.new(key, message, hashlib.sha256).digest()
