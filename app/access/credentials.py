"""Bearer credentials for sessions and tokens: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets

SESSION_PREFIX = "tvs_"
TOKEN_PREFIX = "tvt_"  # noqa: S105 - a prefix, not a secret


def new_secret(prefix: str) -> str:
    return prefix + _secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token(session_secret: str) -> str:
    """Derived from the session secret, so it needs no storage and dies with the session."""
    return hashlib.sha256(f"csrf|{session_secret}".encode()).hexdigest()


def csrf_matches(session_secret: str, presented: str | None) -> bool:
    # On bytes: compare_digest refuses a str with non-ASCII characters, which a form field may hold.
    return presented is not None and hmac.compare_digest(csrf_token(session_secret).encode(), presented.encode())
