"""Password hashing with argon2id (argon2-cffi), timing-safe for unknown users."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.core.config import PasswordHashSettings
from app.core.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 256


@dataclass(frozen=True)
class HashParams:
    """argon2id cost. The defaults exceed OWASP's minimum (m=19 MiB, t=2, p=1)."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 2


PRODUCTION = HashParams()


class Passwords:
    def __init__(self, params: HashParams = PRODUCTION) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )

    @cached_property
    def _dummy(self) -> str:
        return self._hasher.hash("not a real password, used for unknown users")

    @classmethod
    def from_settings(cls, cfg: PasswordHashSettings) -> Passwords:
        return cls(HashParams(time_cost=cfg.time_cost, memory_kib=cfg.memory_kib, parallelism=cfg.parallelism))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Check a password; with no stored hash, spend the same time and fail."""
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def check_strength(password: str, field: str) -> None:
    """422 naming ``field`` for a password that is not acceptable (NIST SP 800-63B: length, not rules)."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed("use at least %(n)s characters", fields=[field], params={"n": str(MIN_LENGTH)})
    if len(password) > MAX_LENGTH:
        raise ValidationFailed("use at most %(n)s characters", fields=[field], params={"n": str(MAX_LENGTH)})
    if len(set(password)) < 4:
        raise ValidationFailed("use a less repetitive password", fields=[field])
