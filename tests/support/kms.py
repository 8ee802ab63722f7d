"""A key provider standing in for an external KMS: the keyring lives outside any file we manage."""

from __future__ import annotations

from app.crypto import keyring as kr

_HELD: dict[str, kr.Keyring] = {}


class InMemoryKms:
    description = "test KMS"

    @property
    def protected(self) -> bool:
        return True

    def load(self) -> kr.Keyring:
        if "ring" not in _HELD:
            _HELD["ring"] = kr.generate()
        return _HELD["ring"]

    def save(self, keyring: kr.Keyring) -> None:
        _HELD["ring"] = keyring


def factory() -> InMemoryKms:
    return InMemoryKms()
