"""The keyring: versioned KEKs, versioned derivation roots and Ed25519 signing keys.

Serialised as a JSON document. On disk it is either plain (development only)
or wrapped under a passphrase with scrypt and AES-256-GCM.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from app.crypto import aead, signing
from app.crypto.errors import DecryptionFailed, KeyringError

PLAIN_FORMAT = "testimony-keyring/1"
PROTECTED_FORMAT = "testimony-keyring-protected/1"
PROTECTED_AAD = PROTECTED_FORMAT.encode()


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost; production uses n=2**17 (128 MiB), tests inject cheaper ones."""

    n: int = 2**17
    r: int = 8
    p: int = 1


PRODUCTION_SCRYPT = ScryptParams()


@dataclass(frozen=True)
class SigningEntry:
    key_id: str
    seed: bytes = field(repr=False)
    created: str
    retired: bool = False
    transition: dict[str, str] | None = None
    """The statement by which the key before this one vouched for it (signing.sign_transition); None for the first
    key, and for keys added before transitions existed."""


@dataclass(frozen=True)
class Keyring:
    # repr=False: a keyring printed in a log or traceback must not show key material.
    keks: dict[int, bytes] = field(repr=False)
    kek_primary: int
    roots: dict[int, bytes] = field(repr=False)
    root_primary: int
    signing_keys: tuple[SigningEntry, ...]
    kek_retired: frozenset[int] = field(default_factory=frozenset)

    def kek(self, version: int) -> bytes:
        return self.keks[version]

    def root(self, version: int | None = None) -> bytes:
        return self.roots[self.root_primary if version is None else version]

    @property
    def signer(self) -> signing.Signer:
        active = [e for e in self.signing_keys if not e.retired]
        return signing.Signer.from_seed(active[-1].seed)

    def public_keys(self) -> list[dict[str, Any]]:
        """Key history with ids, oldest first; safe to publish."""
        out = []
        for entry in self.signing_keys:
            pub = signing.Signer.from_seed(entry.seed).public_key
            out.append(
                {
                    "key_id": entry.key_id,
                    "public_key": base64.b64encode(pub).decode(),
                    "fingerprint": signing.fingerprint(pub),
                    "created": entry.created,
                    "retired": entry.retired,
                }
            )
        return out

    def transitions(self) -> list[dict[str, str]]:
        """The key transition statements, oldest first; public, like the keys."""
        return [dict(e.transition) for e in self.signing_keys if e.transition is not None]

    def with_new_signing_key(self) -> Keyring:
        """A new Ed25519 key becomes the signer; the current one is retired and signs the transition to it."""
        old = self.signer
        entry = _signing_entry(os.urandom(32))
        new_public = signing.Signer.from_seed(entry.seed).public_key
        entry = replace(entry, transition=signing.sign_transition(old, new_public, entry.created))
        retired = tuple(replace(e, retired=True) for e in self.signing_keys)
        return replace(self, signing_keys=(*retired, entry))

    def with_new_kek(self, above: int = 0) -> Keyring:
        """A new primary KEK, numbered above every version this keyring holds and above ``above`` (the highest
        version data keys name), so a version number never names two keys."""
        version = max(*self.keks, *self.kek_retired, above) + 1
        return replace(self, keks={**self.keks, version: aead.new_key()}, kek_primary=version)

    def with_retired_keks(self, versions: set[int]) -> Keyring:
        if self.kek_primary in versions:
            raise KeyringError("the primary KEK cannot be retired")
        return replace(self, kek_retired=self.kek_retired | frozenset(versions))

    def without_keks(self, versions: set[int]) -> Keyring:
        """Destroy KEK versions; only retired ones may go."""
        if not versions <= self.kek_retired:
            raise KeyringError("only retired KEK versions can be destroyed")
        return replace(
            self,
            keks={v: k for v, k in self.keks.items() if v not in versions},
            kek_retired=self.kek_retired - frozenset(versions),
        )

    def check_not_placeholder(self) -> None:
        """Refuse key material that is obviously not random (all one byte, repeated)."""
        seeds = [e.seed for e in self.signing_keys]
        for material in [*self.keks.values(), *self.roots.values(), *seeds]:
            if len(set(material)) < 8:
                raise KeyringError(
                    "the keyring holds placeholder key material; generate real keys with "
                    "`testimony init` in a new data directory"
                )


def generate() -> Keyring:
    """A fresh keyring with KEK 1, root 1 and one signing key."""
    seed = os.urandom(32)
    return Keyring(
        keks={1: aead.new_key()},
        kek_primary=1,
        roots={1: aead.new_key()},
        root_primary=1,
        signing_keys=(_signing_entry(seed),),
    )


def _signing_entry(seed: bytes) -> SigningEntry:
    pub = signing.Signer.from_seed(seed).public_key
    return SigningEntry(
        key_id=signing.key_id(pub),
        seed=seed,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise KeyringError("the keyring document is malformed")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise KeyringError("the keyring document is malformed") from None


def to_document(keyring: Keyring) -> dict[str, Any]:
    return {
        "format": PLAIN_FORMAT,
        "kek": {str(v): _b64(k) for v, k in sorted(keyring.keks.items())},
        "kek_primary": keyring.kek_primary,
        "kek_retired": sorted(keyring.kek_retired),
        "root": {str(v): _b64(k) for v, k in sorted(keyring.roots.items())},
        "root_primary": keyring.root_primary,
        "signing": [
            {
                "key_id": e.key_id,
                "seed": _b64(e.seed),
                "created": e.created,
                "retired": e.retired,
                **({"transition": e.transition} if e.transition is not None else {}),
            }
            for e in keyring.signing_keys
        ],
    }


def from_document(doc: Any) -> Keyring:
    """Parse a plain keyring document; every defect is a KeyringError."""
    try:
        if doc.get("format") != PLAIN_FORMAT:
            raise KeyringError("the key file is not a Testimony Vault keyring")
        keyring = Keyring(
            keks={int(v): _unb64(k) for v, k in doc["kek"].items()},
            kek_primary=int(doc["kek_primary"]),
            kek_retired=frozenset(int(v) for v in doc.get("kek_retired", [])),
            roots={int(v): _unb64(k) for v, k in doc["root"].items()},
            root_primary=int(doc["root_primary"]),
            signing_keys=tuple(
                SigningEntry(
                    key_id=str(e["key_id"]),
                    seed=_unb64(e["seed"]),
                    created=str(e["created"]),
                    retired=bool(e.get("retired", False)),
                    transition=_transition(e.get("transition")),
                )
                for e in doc["signing"]
            ),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise KeyringError("the keyring document is malformed") from None
    _validate(keyring)
    return keyring


def _transition(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise KeyringError("the keyring document is malformed")
    return {str(k): v for k, v in value.items()}


def _validate(keyring: Keyring) -> None:
    sizes_ok = all(len(k) == aead.KEY_BYTES for k in [*keyring.keks.values(), *keyring.roots.values()])
    if not sizes_ok or not all(len(e.seed) == 32 for e in keyring.signing_keys):
        raise KeyringError("the keyring holds keys of the wrong length")
    if keyring.kek_primary not in keyring.keks or keyring.root_primary not in keyring.roots:
        raise KeyringError("the keyring's primary key version is missing")
    if keyring.kek_primary in keyring.kek_retired:
        raise KeyringError("the keyring's primary KEK is marked retired")
    if not any(not e.retired for e in keyring.signing_keys):
        raise KeyringError("the keyring has no active signing key")
    # The published key id must name the key that actually signs.
    for entry in keyring.signing_keys:
        if entry.key_id != signing.key_id(signing.Signer.from_seed(entry.seed).public_key):
            raise KeyringError("the keyring's signing key id does not match its seed")
    # Each transition must be the one the key before signed for this key: the published chain holds.
    for before, entry in zip(keyring.signing_keys, keyring.signing_keys[1:], strict=False):
        if entry.transition is None:
            continue
        try:
            old, new = signing.check_transition(entry.transition)
        except signing.ChainError:
            raise KeyringError("the keyring's key transition does not verify") from None
        if (
            old != signing.Signer.from_seed(before.seed).public_key
            or new != signing.Signer.from_seed(entry.seed).public_key
        ):
            raise KeyringError("the keyring's key transition does not name the keys it joins")


# A tampered file must not be able to demand unbounded memory or time (n=2**20, r=8 is 1 GiB).
MAX_SCRYPT_N = 2**20


def _check_cost(params: ScryptParams) -> None:
    power_of_two = params.n > 1 and params.n & (params.n - 1) == 0
    if not (power_of_two and params.n <= MAX_SCRYPT_N and 1 <= params.r <= 16 and 1 <= params.p <= 4):
        raise KeyringError("the protected key file asks for scrypt parameters outside the accepted range")


def _scrypt_key(passphrase: str, salt: bytes, params: ScryptParams) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(passphrase.encode())


def dumps(keyring: Keyring, passphrase: str | None, params: ScryptParams = PRODUCTION_SCRYPT) -> bytes:
    """Serialise; with a passphrase, the document is wrapped with scrypt + AES-256-GCM."""
    plain = json.dumps(to_document(keyring), sort_keys=True, indent=1).encode()
    if passphrase is None:
        return plain + b"\n"
    if not passphrase:
        raise KeyringError("an empty passphrase does not protect anything")
    salt = os.urandom(16)
    blob = aead.encrypt(_scrypt_key(passphrase, salt, params), plain, PROTECTED_AAD)
    wrapper = {
        "format": PROTECTED_FORMAT,
        "kdf": {"name": "scrypt", "n": params.n, "r": params.r, "p": params.p, "salt": _b64(salt)},
        "ciphertext": _b64(blob),
    }
    return json.dumps(wrapper, sort_keys=True, indent=1).encode() + b"\n"


def is_protected(raw: bytes) -> bool:
    try:
        return bool(json.loads(raw).get("format") == PROTECTED_FORMAT)
    except (ValueError, AttributeError):
        return False


def loads(raw: bytes, passphrase: str | None) -> Keyring:
    """Parse a keyring document, unwrapping it when it is passphrase-protected."""
    try:
        doc = json.loads(raw)
    except ValueError:
        raise KeyringError("the key file is not valid JSON; is this the right file?") from None
    if not isinstance(doc, dict):
        raise KeyringError("the key file is not a Testimony Vault keyring")
    if doc.get("format") != PROTECTED_FORMAT:
        return from_document(doc)
    if not passphrase:
        raise KeyringError(
            "the key file is passphrase-protected; set TESTIMONY_KEYS__PASSPHRASE or run interactively to be prompted"
        )
    try:
        kdf = doc["kdf"]
        if kdf.get("name") != "scrypt":
            raise KeyringError("the protected key file names an unknown key derivation")
        params = ScryptParams(n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
        _check_cost(params)
        key = _scrypt_key(passphrase, _unb64(kdf["salt"]), params)
        plain = aead.decrypt(key, _unb64(doc["ciphertext"]), PROTECTED_AAD)
    except DecryptionFailed:
        raise KeyringError("wrong passphrase for the key file") from None
    except (KeyError, TypeError, ValueError):
        raise KeyringError("the protected key file is malformed") from None
    return from_document(json.loads(plain))
