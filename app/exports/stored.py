"""A built bundle at rest: sealed segment by segment into the data dir, and verified as it streams back out.

The bytes (the ZIP, or its age encryption) are sealed with the stream recipe of ``app/crypto/streams.py``
under a data key of the export's own (subject: the export id, in ``data_keys``), bound to the export id:

    salt (32) || sealed segments of SEGMENT bytes, the last (possibly empty) one flagged final

They go to a temp blob, which becomes the bundle only once the last segment is written; a failure on
the way (the build, age, the disk) removes it. ``erase_bundle`` removes the file and its data key
together, so a copy of the file left in a backup cannot be opened once the export is gone.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core.blobstore import BlobBusy, BlobMissing, BlobStore, StoredBlob
from app.crypto import streams
from app.crypto.errors import DecryptionFailed
from app.keys import datakeys
from app.keys.store import Keys

SEGMENT = streams.DEFAULT_SEGMENT


@dataclass(frozen=True)
class StoredBundle:
    """The stored bundle's plaintext size and SHA-256 (of what the recipient receives), and its file size."""

    size: int
    sha256: str
    stored_size: int


def bundle_key(session: Session, keys: Keys, export_id: uuid.UUID) -> bytes:
    """The export's own data key, made on first use; erased with the bundle (``erase_bundle``)."""
    return datakeys.sealing_key(session, keys, export_id)


def stored_size(size: int, segment: int = SEGMENT) -> int:
    """The file length of a bundle of ``size`` bytes: salt, full segments, and the final (maybe empty) one."""
    return streams.SALT_BYTES + size + streams.TAG_BYTES * (size // segment + 1)


def plain_size(stored: int, segment: int = SEGMENT) -> int | None:
    """The inverse of ``stored_size``; None when no bundle has this file length."""
    step = streams.sealed_segment_size(segment)
    body = stored - streams.SALT_BYTES
    if body < streams.TAG_BYTES:
        return None
    size = body - streams.TAG_BYTES * ((body - streams.TAG_BYTES) // step + 1)
    return size if size >= 0 and stored_size(size, segment) == stored else None


def seal_bundle(
    store: BlobStore, export_id: uuid.UUID, dek: bytes, chunks: Iterable[bytes], *, segment: int = SEGMENT
) -> StoredBundle:
    """Seal the chunks into the export's bundle file as they arrive; the file appears only when all are in.

    FileExistsError when a bundle or a temp file already exists under the export id (another build
    holds it): the caller's job lease decides who builds, this refuses to write twice.
    """
    key = export_id.hex
    temp = store.create_temp(key)
    try:
        sealer = streams.StreamSealer(dek, export_id, export_id)
        temp.append(sealer.header())
        digest = hashlib.sha256()
        pending = bytearray()
        size = 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            pending += chunk
            # A full segment is never the final one: the final one holds what is left (maybe nothing).
            while len(pending) >= segment:
                temp.append(sealer.seal_segment(bytes(pending[:segment]), final=False))
                del pending[:segment]
        temp.append(sealer.seal_segment(bytes(pending), final=True))
        stored = temp.size()
        temp.finalise()
    except BaseException:
        temp.discard()
        raise
    return StoredBundle(size=size, sha256=digest.hexdigest(), stored_size=stored)


class SealedBundle:
    """A stored bundle opened for download: ``size`` is known from the file's length; ``chunks()``
    authenticates each segment before releasing it, and a cut, grown, reordered or altered file fails
    with DecryptionFailed at the segment where it differs (the transfer then stops short of ``size``)."""

    def __init__(self, blob: StoredBlob, dek: bytes, export_id: uuid.UUID, size: int, segment: int) -> None:
        self._blob = blob
        self._dek = dek
        self._export_id = export_id
        self.size = size
        self._segment = segment

    def chunks(self) -> Iterator[bytes]:
        try:
            step = streams.sealed_segment_size(self._segment)
            count = self.size // self._segment + 1
            salt = self._blob.read_at(0, streams.SALT_BYTES)
            pieces = (self._blob.read_at(streams.SALT_BYTES + i * step, step) for i in range(count))
            for plain in streams.open_segments(self._dek, self._export_id, self._export_id, salt, pieces):
                if plain:
                    yield plain
        finally:
            self._blob.close()

    def close(self) -> None:
        self._blob.close()


def open_bundle(
    store: BlobStore, export_id: uuid.UUID, dek: bytes, *, segment: int = SEGMENT
) -> SealedBundle:  # fmt: skip
    """The export's sealed bundle, ready to stream; DecryptionFailed when it is missing or its length is
    not one a bundle can have."""
    try:
        blob = store.open(export_id.hex)
    except BlobMissing:
        raise DecryptionFailed from None
    size = plain_size(blob.size(), segment)
    if size is None:
        blob.close()
        raise DecryptionFailed
    return SealedBundle(blob, dek, export_id, size, segment)


def erase_bundle(session: Session, store: BlobStore, export_id: uuid.UUID) -> None:
    """Remove the bundle file, any temp file no build holds, and the data key (gone with the caller's transaction).

    The file goes at once and the key with the transaction; a file a failed commit leaves keyless cannot be opened.
    """
    datakeys.erase_data_key(session, export_id)
    store.remove(export_id.hex)
    try:
        temp = store.open_temp(export_id.hex)
    except BlobBusy:
        return  # a build is writing it: its own failure or the sweeper removes it
    if temp is not None:
        temp.discard()
