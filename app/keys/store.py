"""Key sources: a key file, an environment variable, or an external provider."""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import importlib
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from app.core.config import Settings
from app.core.errors import ConfigError
from app.crypto import keyring as kr
from app.crypto.errors import KeyringError


class KeyStore(Protocol):
    """Where the keyring lives. A KMS integration implements this and is named by
    TESTIMONY_KEYS__PROVIDER=module:factory."""

    description: str

    @property
    def protected(self) -> bool: ...

    def load(self) -> kr.Keyring: ...

    def save(self, keyring: kr.Keyring) -> None: ...


class FileKeyStore:
    """A keyring in a file. Every change is read, changed and written under the file's lock (``locked``), and
    ``save`` refuses to overwrite a file that changed since this thread loaded it: a rotation elsewhere is
    never lost, even by a path that forgot to take the lock."""

    def __init__(self, path: Path, passphrase: str | None, scrypt: kr.ScryptParams = kr.PRODUCTION_SCRYPT) -> None:
        self.path = path
        self.passphrase = passphrase
        self.scrypt = scrypt
        self.description = f"key file {path}"
        self._seen = threading.local()  # per thread: the digest of the file as this thread last loaded or saved it
        self._mutex = threading.RLock()  # the threads of this process, one at a time under the file lock
        self._depth = 0
        self._fd: int | None = None
        self._cache: tuple[bytes, str | None, kr.Keyring] | None = None  # the last keyring read, by file digest

    @property
    def protected(self) -> bool:
        return self.path.exists() and kr.is_protected(self.path.read_bytes())

    def load(self) -> kr.Keyring:
        if not self.path.exists():
            raise KeyringError(f"no key file at {self.path}; create one with `testimony init`")
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise KeyringError(f"{self.path} is readable by other users (mode {mode:o}); run `chmod 600 {self.path}`")
        raw = self.path.read_bytes()
        digest = hashlib.sha256(raw).digest()
        cached = self._cache
        if cached is not None and cached[0] == digest and cached[1] == self.passphrase:
            keyring = cached[2]  # the same bytes as last time: no second scrypt while a change holds the locks
        else:
            keyring = kr.loads(raw, self.passphrase)
            self._cache = (digest, self.passphrase, keyring)
        self._seen.digest = digest
        return keyring

    def version(self) -> tuple[int, int] | None:
        """Changes whenever the file is rewritten (a rotation elsewhere); cheap to ask."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _digest_now(self) -> bytes | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).digest()
        except FileNotFoundError:
            return None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on a file beside the key file, so that read-change-write changes in several
        processes (and threads) run one after another and each starts from what the one before saved.

        Re-entrant within a thread: ``save`` takes it too. Where a database is involved, take
        ``app.keys.service.lock_key_changes`` first (``app.keys.service.update``): always in that order."""
        with self._mutex:
            if self._depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)  # closing releases the lock
                    self._fd = None

    def save(self, keyring: kr.Keyring, *, protect: bool = False) -> None:
        """Write atomically with mode 0600, keeping the file's protection (``protect``: under this store's
        passphrase from now on), under the file's lock.

        Refused (KeyringError, the file left as it is) when the file changed since this thread loaded it, or
        exists and was never loaded here: the change was decided on a keyring that is no longer current."""
        with self.locked():
            now = self._digest_now()
            if now is not None and now != getattr(self._seen, "digest", None):
                raise KeyringError(
                    f"{self.path} changed since it was loaded (another key change saved meanwhile); "
                    "nothing was saved: run the command again"
                )
            wrap = self.passphrase if (protect or now is None or self.protected) else None
            data = kr.dumps(keyring, wrap, self.scrypt)
            write_private_file(self.path, data)
            self._seen.digest = digest = hashlib.sha256(data).digest()
            self._cache = (digest, wrap, keyring)


class EnvKeyStore:
    def __init__(self, material: str, passphrase: str | None) -> None:
        self._raw = material.encode()
        self.passphrase = passphrase
        self.description = "TESTIMONY_KEYS__MATERIAL"

    @property
    def protected(self) -> bool:
        return kr.is_protected(self._raw)

    def load(self) -> kr.Keyring:
        return kr.loads(self._raw, self.passphrase)

    def save(self, keyring: kr.Keyring) -> None:
        raise KeyringError(
            "keys given in TESTIMONY_KEYS__MATERIAL cannot be changed in place; rotate with a key "
            "file (TESTIMONY_KEYS__FILE) and publish the new document to the environment"
        )


def write_private_file(path: Path, data: bytes) -> None:
    """Atomic, durable write readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_private_file(path: Path, data: bytes) -> bool:
    """Write a new file readable by the owner only, durably, only if there is none at ``path``: False, and nothing
    written, when there is. The file appears whole or not at all: written beside it, then linked into place, which
    fails when the name exists (an exclusive create, even against a writer that took no lock)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def create_key_file(path: Path, passphrase: str | None, scrypt: kr.ScryptParams = kr.PRODUCTION_SCRYPT) -> bool:
    """Make a new key file (`testimony init`), protected when given a passphrase; False, and the file there left as
    it is, when one exists.

    Decided under the key file's lock, the one every change of the keyring takes (``app.keys.service.update``), so
    two inits at once, or an init beside a running rotation, make one key file: the later finds it made."""
    store = FileKeyStore(path, passphrase, scrypt)
    with store.locked():
        if path.exists():
            return False
        return create_private_file(path, kr.dumps(kr.generate(), passphrase, scrypt))


def _provider(spec: str) -> KeyStore:
    module_name, _, attr = spec.partition(":")
    try:
        factory: Callable[[], KeyStore] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"key provider {spec!r} cannot be imported; expected module:factory") from None
    return factory()


def open_keystore(settings: Settings, prompt: Callable[[], str] | None = None) -> KeyStore:
    passphrase = settings.keys.passphrase.get_secret_value() if settings.keys.passphrase else None
    if settings.keys.provider:
        return _provider(settings.keys.provider)
    if settings.keys.material:
        return EnvKeyStore(settings.keys.material.get_secret_value(), passphrase)
    store = FileKeyStore(settings.key_file, passphrase)
    if store.protected and passphrase is None and prompt is not None:
        store.passphrase = prompt()
    return store


def custody_problems(settings: Settings, *, will_protect: bool = False) -> list[str]:
    """What stops the keys from being used outside development mode, without asking for a passphrase.

    ``will_protect``: a missing key file is about to be made protected (`testimony init --protect`).
    """
    if settings.development or settings.keys.provider:
        return []
    if settings.keys.material:
        protected = kr.is_protected(settings.keys.material.get_secret_value().encode())
        where = "the keyring in TESTIMONY_KEYS__MATERIAL"
    elif not settings.key_file.exists():
        if will_protect:
            return []
        return [f"no key file at {settings.key_file}: create a protected one with `testimony init --protect`"]
    else:
        protected = FileKeyStore(settings.key_file, None).protected
        where = f"the key file {settings.key_file}"
    if protected:
        return []
    return [
        f"{where} is not passphrase-protected: run `testimony keys protect` and set TESTIMONY_KEYS__PASSPHRASE "
        "(or answer the prompt), or configure TESTIMONY_KEYS__PROVIDER"
    ]


def open_keys(settings: Settings, prompt: Callable[[], str] | None = None) -> Keys:
    """Open the key store once and load the keyring, enforcing the rules for the current mode.

    ConfigError says what to do (everything that is missing, at once); nothing is changed when it is raised.
    """
    try:
        settings.refuse_unready(custody_problems(settings))
    except OSError as exc:  # an unreadable key file
        raise ConfigError(f"refusing to start: {exc}") from None
    try:
        store = open_keystore(settings, prompt)
        keyring = store.load()
        keyring.check_not_placeholder()
    except KeyringError as exc:
        raise ConfigError(f"refusing to start: {exc}") from None
    return Keys(store, keyring)


def load_keyring(settings: Settings, prompt: Callable[[], str] | None = None) -> kr.Keyring:
    return open_keys(settings, prompt).current


def prompt_passphrase() -> str:
    """Ask on the terminal; without one, say which variable to set."""
    if not sys.stdin.isatty():
        raise KeyringError("the key file is passphrase-protected and TESTIMONY_KEYS__PASSPHRASE is not set")
    return getpass.getpass("Key file passphrase: ")


class Keys:
    """The running service's keyring, reloaded when a rotation elsewhere made a new KEK primary."""

    def __init__(self, store: KeyStore, keyring: kr.Keyring) -> None:
        self._store = store
        self._keyring = keyring
        self._version = self._store_version()

    def _store_version(self) -> object:
        version = getattr(self._store, "version", None)
        return version() if callable(version) else None

    def _reload(self) -> None:
        try:
            self._keyring = self._store.load()
            self._version = self._store_version()
        except KeyringError:
            pass  # keep serving with what we have; an unwrap that needs more fails cleanly

    def for_wrapping(self) -> kr.Keyring:
        """The keyring to wrap new data keys with: reloaded first if the key file changed, so a
        worker never wraps under a KEK that a rotation elsewhere has retired."""
        if self._version is not None and self._store_version() != self._version:
            self._reload()
        return self._keyring

    def for_signing(self) -> kr.Keyring:
        """The keyring to sign checkpoints and bundles with, and to publish the key history from: reloaded first
        if the key file changed, so that after `testimony keys rotate-signing` every process signs with the new
        key without a restart."""
        return self.for_wrapping()

    @property
    def current(self) -> kr.Keyring:
        return self._keyring

    @property
    def store(self) -> KeyStore:
        return self._store

    def with_kek(self, version: int) -> kr.Keyring:
        if version not in self._keyring.keks:
            self._reload()
        return self._keyring
