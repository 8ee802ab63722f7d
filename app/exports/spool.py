"""A build's files held outside memory until the bundle streams them: sealed, in an unnamed temp file.

``writer.write`` makes each person's record document, whole statement versions and consent file as it reads
the pages, but the bundle can only take them after the quasi-identifier check (which needs every
de-identified record) and in the order of its entries. Held in memory, they grew with the build; here each
is deflated, sealed with AES-256-GCM under a key of this build alone (random, held only in memory, never
stored) and bound to its file name, then appended to a temp file that has no name on disk
(``tempfile.TemporaryFile``: O_TMPFILE on Linux, else unlinked at once), so it is gone however the build ends,
even killed. Nothing is ever on disk in clear. ``close`` (the ``with`` block's end) drops the file and the key.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from types import TracebackType

from app.crypto import aead


class Spool:
    """Named files, written once and read back by name, sealed under this spool's own key."""

    def __init__(self, directory: str | None = None) -> None:
        self._key = aead.new_key()
        self._file = tempfile.TemporaryFile(prefix=".testimony-spool-", dir=directory)  # mode 0600, no name
        self._at: dict[str, tuple[int, int]] = {}

    def add(self, name: str, data: bytes) -> None:
        sealed = aead.encrypt(self._key, zlib.compress(data, 1), name.encode("utf-8"))
        at = self._file.seek(0, os.SEEK_END)
        self._file.write(sealed)
        self._at[name] = (at, len(sealed))

    def read(self, name: str) -> bytes:
        """The file as it was added; DecryptionFailed if its sealed bytes changed (or moved to another name)."""
        at, size = self._at[name]
        self._file.seek(at)
        return zlib.decompress(aead.decrypt(self._key, self._file.read(size), name.encode("utf-8")))

    def close(self) -> None:
        self._file.close()
        self._key = b""
        self._at.clear()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
