"""A build's files held outside memory until the bundle streams them: sealed, in an unnamed temp file.

``writer.write`` makes each person's record document, whole statement versions and consent file as it reads
the pages, but the bundle can only take them after the quasi-identifier check (which needs every
de-identified record) and in the order of its entries. Held in memory, they grew with the build; here each
is deflated, sealed with AES-256-GCM under a key of this build alone (random, held only in memory, never
stored) and bound to its file name, then appended to a temp file that has no name on disk
(``tempfile.TemporaryFile``: O_TMPFILE on Linux, else unlinked at once), so it is gone however the build ends,
even killed. Nothing is ever on disk in clear. ``close`` (the ``with`` block's end) drops the file and the key.

A ``Spool`` keeps an index entry per file it holds; a ``Tape`` keeps nothing per item (items are read back in
the order they were appended), so what a build holds per record (its document, consent file, summary, its
line of the manifest) waits on tapes and the build's memory stays flat in the number of records.
"""

from __future__ import annotations

import os
import tempfile
import weakref
import zlib
from collections.abc import Iterator
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


BLOCK = 256 * 1024
"""Bytes of items a ``Tape`` gathers before it deflates and seals them as one block."""
_LENGTH = 4


class Tape:
    """Items appended in order and read back in order, as often as needed, in flat memory: the items wait in a
    block of about ``BLOCK`` bytes, then the block is deflated, sealed under this tape's own key (random, held
    only in memory) and bound to its place on the tape, and appended to a temp file without a name. Nothing per
    item stays in memory (a ``Spool`` keeps an index entry per name), so a build can hold a line per record here
    whatever the number of records. A block changed, moved or cut off fails with DecryptionFailed or
    ValueError when read."""

    def __init__(self, directory: str | None = None, *, block: int | None = None) -> None:
        self._key = aead.new_key()
        self._file = tempfile.TemporaryFile(prefix=".testimony-tape-", dir=directory)  # mode 0600, no name
        self._closing = weakref.finalize(self, self._file.close)  # a tape dropped unclosed takes its file along
        self._block = BLOCK if block is None else block
        self._items: list[bytes] = []
        self._buffered = 0
        self._blocks = 0
        self._end = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, item: bytes) -> None:
        self._items.append(item)
        self._buffered += len(item) + _LENGTH
        self._count += 1
        if self._buffered >= self._block:
            self._flush()

    def _aad(self, number: int) -> bytes:
        return b"testimony-tape-block|%d" % number

    def _flush(self) -> None:
        if not self._items:
            return
        framed = b"".join(len(item).to_bytes(_LENGTH, "big") + item for item in self._items)
        sealed = aead.encrypt(self._key, zlib.compress(framed, 1), self._aad(self._blocks))
        self._file.seek(self._end)
        self._file.write(len(sealed).to_bytes(_LENGTH, "big") + sealed)
        self._end += _LENGTH + len(sealed)
        self._blocks += 1
        self._items, self._buffered = [], 0

    def __iter__(self) -> Iterator[bytes]:
        """Every item, in the order appended; what is appended while this runs is not read."""
        self._flush()
        blocks, at = self._blocks, 0
        for number in range(blocks):
            self._file.seek(at)
            size = int.from_bytes(self._file.read(_LENGTH), "big")
            sealed = self._file.read(size)
            if len(sealed) != size:
                raise ValueError("a tape block is cut off")
            at += _LENGTH + size
            framed = zlib.decompress(aead.decrypt(self._key, sealed, self._aad(number)))
            del sealed
            offset = 0
            while offset < len(framed):
                length = int.from_bytes(framed[offset : offset + _LENGTH], "big")
                offset += _LENGTH
                yield framed[offset : offset + length]
                offset += length

    def close(self) -> None:
        self._closing()
        self._key = b""
        self._items = []

    def __enter__(self) -> Tape:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
