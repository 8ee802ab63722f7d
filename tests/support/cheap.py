"""Cheap key-derivation and password-hashing parameters for tests (never for a deployment)."""

from app.core.config import PasswordHashSettings
from app.crypto import keyring as kr

CHEAP_SCRYPT = kr.ScryptParams(n=2**10, r=8, p=1)
CHEAP_ARGON2 = PasswordHashSettings(time_cost=1, memory_kib=256, parallelism=1)
