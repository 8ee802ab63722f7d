"""TOTP (RFC 6238) with replay protection, and single-use recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

ISSUER = "Testimony Vault"
STEP_SECONDS = 30
# Accept the previous and next step for clock drift.
DRIFT_STEPS = 1
RECOVERY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an SVG document, rendered locally."""
    return str(segno.make(uri, error="m").svg_inline(scale=4))


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def verify(secret: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The accepted time step, or None. A step at or before last_step is a replay."""
    code = code.strip().replace(" ", "")
    # isdigit() alone takes other scripts' digits (Arabic-Indic, full-width), which compare_digest
    # refuses as str with a TypeError.
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time_step(at)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, at: datetime) -> str:
    """The code for a moment; for tests and for showing the user a check value."""
    return pyotp.TOTP(secret).generate_otp(time_step(at))


def new_recovery_codes() -> list[str]:
    """Ten codes of 80 bits each, grouped for reading aloud."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def recovery_hash(code: str) -> str:
    normalised = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"recovery|{normalised}".encode()).hexdigest()
