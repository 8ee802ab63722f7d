"""The bundle writer: a ZIP streamed as its entries arrive, with its checksums, manifest, signature and README.

Each entry is a name and an iterable of byte chunks; the writer hashes each file as it passes into the ZIP
(``stream-zip``: deflated, ZIP64, every timestamp the same fixed value, so one input gives one output), then
appends ``README.txt``, ``SHA256SUMS``, ``manifest.json`` and ``manifest.sig``. Memory holds one chunk of
each stage, never a file, the bundle or anything per file: the per-file facts wait on a sealed ``spool.Tape``
(``SHA256SUMS`` and the manifest are written from it), the names' check is a fixed-size filter settled
exactly at the end, and the manifest is hashed as it streams (``manifest.sig`` signs its SHA-512 digest).

    bundle = Bundle(entries, info, signer, readme)
    for chunk in bundle.chunks():   # to age (encrypt.py), then to a sealed file (stored.py)
        ...
    bundle.result                   # every file's SHA-256 and size, and the manifest's
"""

from __future__ import annotations

import hashlib
import itertools
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stream_zip import ZIP_64, stream_zip

from app.crypto import signing
from app.exports import manifest as mf
from app.exports.manifest import BundleInfo, FileFacts, Readme
from app.exports.spool import Tape
from app.exports.verifier import verifier_sha256

FIXED_TIME = datetime(1980, 1, 1, 0, 0, 0)
FILE_MODE = stat.S_IFREG | 0o644
CHUNK = 64 * 1024
DEFAULT_LEVEL = 6
"""zlib level: 9 costs much more time for little on JSON and nothing on photos."""

InfoSource = BundleInfo | Callable[[], BundleInfo]


@dataclass(frozen=True)
class Entry:
    """One file of the bundle: its name (``manifest.check_name``) and its bytes, chunk by chunk."""

    name: str
    chunks: Iterable[bytes]


class BuiltBundle:
    """What writing a bundle found: every file's facts (in ZIP order, read back from the bundle's tape) and the
    manifest's SHA-256."""

    def __init__(self, files: Tape, count: int, manifest_sha256: str, signing_key_id: str) -> None:
        self._files, self.count = files, count  # every file of the ZIP, the four the bundle writes included
        self.manifest_sha256, self.signing_key_id = manifest_sha256, signing_key_id

    @property
    def files(self) -> Iterator[FileFacts]:
        return _facts_of(self._files)

    def __getitem__(self, name: str) -> FileFacts:
        for facts in self.files:
            if facts.name == name:
                return facts
        raise KeyError(name)


def _facts_line(facts: FileFacts) -> bytes:
    return f"{facts.sha256} {facts.size} {facts.name}".encode("ascii")


def _facts_of(tape: Iterable[bytes]) -> Iterator[FileFacts]:
    for line in tape:
        sha256, size, name = line.decode("ascii").split(" ", 2)
        yield FileFacts(name, sha256, int(size))


FILTER_BITS = 1 << 23
"""Bits of the names' filter (1 MiB): at 100,000 names about one in 20,000 new names is a false suspect."""


class _Names:
    """The file names written so far, for the check that no name comes twice, in fixed memory: a Bloom filter.
    A name it may have seen is a suspect; ``settle`` counts each suspect among every name (read back from the
    tape), so the check is exact. Folders are few (a handful per bundle) and kept as they are."""

    def __init__(self) -> None:
        self._bits = bytearray(FILTER_BITS // 8)
        self.suspects: set[str] = set()
        self.folders: set[str] = set()

    def _seen(self, name: str, add: bool) -> bool:
        digest = hashlib.blake2b(name.encode("utf-8"), digest_size=24).digest()
        seen = True
        for at in (0, 8, 16):
            bit = int.from_bytes(digest[at : at + 8], "little") % FILTER_BITS
            byte, mask = bit >> 3, 1 << (bit & 7)
            if not self._bits[byte] & mask:
                seen = False
                if add:
                    self._bits[byte] |= mask
        return seen

    def add(self, name: str) -> None:
        parts = name.split("/")
        folders = {"/".join(parts[:i]) for i in range(1, len(parts))}
        # A file and a folder of one name cannot both be extracted; nor can one name twice.
        if name in self.folders:
            raise ValueError(DUPLICATE)
        for folder in folders - self.folders:
            if self._seen(folder, add=False):
                self.suspects.add(folder)
        self.folders |= folders
        if self._seen(name, add=True):
            self.suspects.add(name)

    def settle(self, names: Iterable[str]) -> None:
        """ValueError when a suspect came twice, or a file has a folder's name: exact, over every name."""
        counts = dict.fromkeys(self.suspects, 0)
        for name in names:
            if name in self.folders:
                raise ValueError(DUPLICATE)
            if name in counts:
                counts[name] += 1
                if counts[name] > 1:
                    raise ValueError(DUPLICATE)


def _gathered(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Small pieces gathered into chunks of about ``CHUNK`` bytes."""
    gathered: list[bytes] = []
    size = 0
    for piece in pieces:
        gathered.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield b"".join(gathered)
            gathered, size = [], 0
    if gathered:
        yield b"".join(gathered)


DUPLICATE = "two files of the bundle have the same name, or a file has a folder's name"


class Bundle:
    """Writes one bundle; ``chunks()`` may be iterated once, and ``result`` is known when it is exhausted.

    ``info`` may be a callable: it is called after the last entry has been written, so the build can
    collect the consent basis of each record as it streams them.
    """

    def __init__(
        self,
        entries: Iterable[Entry],
        info: InfoSource,
        signer: signing.Signer,
        readme: Readme,
        *,
        level: int = DEFAULT_LEVEL,
    ) -> None:
        self._entries = entries
        self._info = info
        self._signer = signer
        self._readme = readme
        self._level = level
        self._files = Tape()
        self._count = 0
        self._names = _Names()
        self._manifest_digest = mf.manifest_digest()
        self._manifest_done = False
        self._result: BuiltBundle | None = None
        self._started = False

    @property
    def result(self) -> BuiltBundle:
        if self._result is None:
            raise RuntimeError("the bundle has not been written to its end")
        return self._result

    def chunks(self) -> Iterator[bytes]:
        """The ZIP's bytes, in blocks of about 64 KiB."""
        if self._started:
            raise RuntimeError("a bundle is written once")
        self._started = True
        members = stream_zip(
            self._members(),
            chunk_size=CHUNK,
            get_compressobj=lambda: zlib.compressobj(wbits=-zlib.MAX_WBITS, level=self._level),
            extended_timestamps=False,
        )
        yield from members

    def _claim(self, name: str) -> None:
        mf.check_name(name)
        self._names.add(name)

    def _member(self, name: str, chunks: Iterable[bytes]) -> tuple[str, datetime, int, Any, Iterator[bytes]]:
        return name, FIXED_TIME, FILE_MODE, ZIP_64, self._hashed(name, chunks)

    def _hashed(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        digest = hashlib.sha256()
        size = 0
        for chunk in chunks:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError("a bundle entry's chunks are bytes")
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                yield bytes(chunk)
        self._last = FileFacts(name, digest.hexdigest(), size)
        self._files.append(_facts_line(self._last))
        self._count += 1

    def _manifest(self, info: BundleInfo, sums: FileFacts) -> Iterator[bytes]:
        """manifest.json's chunks, each also into the digest ``manifest.sig`` signs."""
        files = _facts_of(itertools.islice(self._files, self._count - 1))  # every file but SHA256SUMS
        for chunk in mf.manifest_chunks(info, files, sums, self._signer):
            self._manifest_digest.update(chunk)
            yield chunk
        self._manifest_done = True

    def _signature(self) -> Iterator[bytes]:
        if not self._manifest_done:
            raise RuntimeError("manifest.sig is written after the whole manifest")
        yield mf.signature_bytes(self._manifest_digest.digest(), self._signer)

    def _checked(self, info: BundleInfo) -> None:
        """Every name once, no file named as a folder, and the custody links between files of the bundle:
        exact, over the names read back from the tape (only the custody files and linked names are kept)."""
        linked = {n for link in info.custody for n in (link.proof, link.item)}
        relevant: set[str] = set()

        def every() -> Iterator[str]:
            for facts in _facts_of(self._files):
                if facts.name in linked or facts.name.startswith(mf.CUSTODY_DIR):
                    relevant.add(facts.name)
                yield facts.name

        self._names.settle(every())
        info.check(relevant)

    def _members(self) -> Iterator[tuple[str, datetime, int, Any, Iterator[bytes]]]:
        for entry in self._entries:
            if entry.name in mf.RESERVED:
                raise ValueError(f"{entry.name} is written by the bundle itself")
            self._claim(entry.name)
            yield self._member(entry.name, entry.chunks)
        info = self._info() if callable(self._info) else self._info
        self._checked(info)
        public_key = self._signer.public_key
        readme = mf.readme_bytes(info, self._readme, public_key, verifier_sha256())
        yield self._member(mf.README, [readme])
        yield self._member(
            mf.SUMS, _gathered(mf.sums_bytes([f]) for f in _facts_of(itertools.islice(self._files, self._count)))
        )
        sums = self._last
        yield self._member(mf.MANIFEST, self._manifest(info, sums))
        manifest = self._last
        yield self._member(mf.SIGNATURE, self._signature())
        self._result = BuiltBundle(self._files, self._count, manifest.sha256, self._signer.key_id)
