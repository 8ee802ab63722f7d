"""The bundle writer: a ZIP streamed as its entries arrive, with its checksums, manifest, signature and README.

Each entry is a name and an iterable of byte chunks; the writer hashes each file as it passes into the ZIP
(``stream-zip``: deflated, ZIP64, every timestamp the same fixed value, so one input gives one output), then
appends ``README.txt``, ``SHA256SUMS``, ``manifest.json`` and ``manifest.sig``. Memory holds one chunk of
each stage and the per-file facts, never a file or the bundle.

    bundle = Bundle(entries, info, signer, readme)
    for chunk in bundle.chunks():   # to age (encrypt.py), then to a sealed file (stored.py)
        ...
    bundle.result                   # every file's SHA-256 and size, and the manifest's
"""

from __future__ import annotations

import hashlib
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


@dataclass(frozen=True)
class BuiltBundle:
    """What writing a bundle found: every file's facts (in ZIP order) and the manifest's SHA-256."""

    files: tuple[FileFacts, ...]
    manifest_sha256: str
    signing_key_id: str

    def __getitem__(self, name: str) -> FileFacts:
        for facts in self.files:
            if facts.name == name:
                return facts
        raise KeyError(name)


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
        self._files: list[FileFacts] = []
        self._names: set[str] = set()
        self._folders: set[str] = set()
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
        parts = name.split("/")
        folders = {"/".join(parts[:i]) for i in range(1, len(parts))}
        # A file and a folder of one name cannot both be extracted; nor can one name twice.
        if name in self._names or name in self._folders or folders & self._names:
            raise ValueError("two files of the bundle have the same name, or a file has a folder's name")
        self._names.add(name)
        self._folders |= folders

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
        self._files.append(FileFacts(name, digest.hexdigest(), size))

    def _members(self) -> Iterator[tuple[str, datetime, int, Any, Iterator[bytes]]]:
        for entry in self._entries:
            if entry.name in mf.RESERVED:
                raise ValueError(f"{entry.name} is written by the bundle itself")
            self._claim(entry.name)
            yield self._member(entry.name, entry.chunks)
        info = self._info() if callable(self._info) else self._info
        info.check(self._names)
        public_key = self._signer.public_key
        readme = mf.readme_bytes(info, self._readme, public_key, verifier_sha256())
        self._names.add(mf.README)
        yield self._member(mf.README, [readme])
        files = tuple(self._files)
        sums = mf.sums_bytes(files)
        yield self._member(mf.SUMS, [sums])
        manifest = mf.manifest_bytes(info, files, self._files[-1], self._signer)
        yield self._member(mf.MANIFEST, [manifest])
        yield self._member(mf.SIGNATURE, [mf.signature_bytes(manifest, self._signer)])
        self._result = BuiltBundle(
            files=tuple(self._files),
            manifest_sha256=hashlib.sha256(manifest).hexdigest(),
            signing_key_id=self._signer.key_id,
        )
