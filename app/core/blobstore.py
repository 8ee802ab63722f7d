"""Where attachment blobs live: a small interface, and a directory under the data dir that implements it.

A blob is named by a key (an attachment id in hex) and holds only sealed bytes; this module never
sees plaintext and knows nothing of people or sealing. A blob is written under a temp name and
becomes final by ``TempBlob.finalise()``, which the caller runs only once the blob's row has
committed (``app.core.db.on_outcome``); a final blob is never overwritten. At most one writer
holds a temp blob at a time: ``create_temp`` and ``open_temp`` take it exclusively, and a second
attempt is refused with ``BlobBusy`` (409) rather than queued, so two transfers of one upload can
never interleave. Object storage can implement the same interface later.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from app.core.errors import Conflict

_KEY = re.compile(r"[0-9a-f]{32}")
TEMP_SUFFIX = ".part"


class BlobBusy(Conflict):
    """Another transfer holds this temp blob."""

    def __init__(self) -> None:
        super().__init__("another transfer of this upload is in progress; try again shortly", fields=["upload"])

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class BlobMissing(Exception):
    """The blob does not exist (never written, removed, or swept)."""


class TempBlob(Protocol):
    """A blob being written, held exclusively until finalised, discarded or closed."""

    key: str

    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes: ...

    def append(self, data: bytes) -> None: ...

    def truncate(self, size: int) -> None: ...

    def sync(self) -> None:
        """Make what was appended durable (before acknowledging it to a client)."""

    def finalise(self) -> None:
        """Make the blob final under its key, durably; never replaces a final blob (FileExistsError
        when another is there). Releases it, also when it fails."""

    def discard(self) -> None:
        """Remove the temp blob and release it."""

    def close(self) -> None:
        """Release the blob and keep it as it is (a resumable upload between two transfers)."""


class StoredBlob(Protocol):
    """A final blob opened for reading: the same bytes for as long as it is open."""

    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    def create_temp(self, key: str) -> TempBlob:
        """A new, empty temp blob; FileExistsError when one exists under the key."""

    def open_temp(self, key: str) -> TempBlob | None:
        """The existing temp blob, held exclusively; None when there is none; BlobBusy when held."""

    def temp_size(self, key: str) -> int | None:
        """The size of a temp blob without holding it; None when there is none."""

    def open(self, key: str) -> StoredBlob:
        """A final blob; BlobMissing when there is none."""

    def exists(self, key: str) -> bool:
        """Whether a final blob exists under the key."""

    def remove(self, key: str) -> None:
        """Remove a final blob (erasure); nothing when there is none."""

    def stale_temps(self, older_than_seconds: float) -> list[str]:
        """Keys of temp blobs unchanged for that long (the sweeper then opens each and decides)."""


def check_key(key: str) -> str:
    """Keys are 32 lower-case hex digits, so a key can never name a path of its own choosing."""
    if not _KEY.fullmatch(key):
        raise ValueError("a blob key is 32 lower-case hex digits")
    return key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pread(fd: int, offset: int, length: int) -> bytes:
    parts = []
    while length > 0:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
        length -= len(chunk)
    return b"".join(parts)


class _DirectoryTemp:
    def __init__(self, store: DirectoryBlobStore, key: str, fd: int) -> None:
        self.key = key
        self._store = store
        self._fd: int | None = fd

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise ValueError("the temp blob is released")
        return self._fd

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        return _pread(self.fd, offset, length)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        offset = self.size()
        while view:
            written = os.pwrite(self.fd, view, offset)
            view = view[written:]
            offset += written

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    def sync(self) -> None:
        os.fsync(self.fd)

    def finalise(self) -> None:
        try:
            os.fsync(self.fd)
            final = self._store.final_path(self.key)
            final.parent.mkdir(mode=0o700, exist_ok=True)
            temp = self._store.temp_path(self.key)
            # link() refuses an existing name, where rename() would replace it: an original is never replaced.
            try:
                os.link(temp, final)
            except FileExistsError:
                if not os.path.samefile(temp, final):  # else: linked before a crash, only the unlink was left
                    raise
            _fsync_dir(final.parent)
            os.unlink(temp)
            _fsync_dir(self._store.temp_dir)
        finally:
            self.close()  # released whatever happened: a failed finalise must not hold the blob for ever

    def discard(self) -> None:
        try:
            os.unlink(self._store.temp_path(self.key))
        except FileNotFoundError:
            pass
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


class _DirectoryStored:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        return _pread(self._fd, offset, length)

    def close(self) -> None:
        os.close(self._fd)


class DirectoryBlobStore:
    """Blobs as files: ``tmp/<key>.part`` while written, ``blobs/<last two hex digits>/<key>`` once final.

    Both live under one root, so the final rename is a link within one file system. The root and
    its folders are 0700 and the files 0600. The exclusive hold is an flock(2) on the temp file:
    the kernel releases it when the holder's process dies, so a crash never leaves a blob held.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.temp_dir = root / "tmp"
        self.blob_dir = root / "blobs"
        for path in (root, self.temp_dir, self.blob_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def temp_path(self, key: str) -> Path:
        return self.temp_dir / f"{check_key(key)}{TEMP_SUFFIX}"

    def final_path(self, key: str) -> Path:
        return self.blob_dir / check_key(key)[-2:] / key

    def create_temp(self, key: str) -> TempBlob:
        fd = os.open(self.temp_path(key), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else can know the new file yet
        return _DirectoryTemp(self, key, fd)

    def open_temp(self, key: str) -> TempBlob | None:
        path = self.temp_path(key)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise BlobBusy from None
            raise
        # Removed (swept, finalised) between our open and our lock: that file is no longer the temp blob.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return None
        return _DirectoryTemp(self, key, fd)

    def temp_size(self, key: str) -> int | None:
        try:
            return self.temp_path(key).stat().st_size
        except FileNotFoundError:
            return None

    def open(self, key: str) -> StoredBlob:
        try:
            fd = os.open(self.final_path(key), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise BlobMissing from None
        return _DirectoryStored(fd)

    def exists(self, key: str) -> bool:
        return self.final_path(key).exists()

    def remove(self, key: str) -> None:
        try:
            os.unlink(self.final_path(key))
        except FileNotFoundError:
            return
        _fsync_dir(self.final_path(key).parent)

    def stale_temps(self, older_than_seconds: float) -> list[str]:
        cutoff = time.time() - older_than_seconds
        return [key for key, mtime in self._temps() if mtime <= cutoff]

    def _temps(self) -> Iterator[tuple[str, float]]:
        for entry in os.scandir(self.temp_dir):
            key = entry.name.removesuffix(TEMP_SUFFIX)
            if not entry.name.endswith(TEMP_SUFFIX) or not _KEY.fullmatch(key):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield key, info.st_mtime
