"""Sealed attachment blobs: sealed segment by segment as the bytes arrive, padded to a size bucket,
and verified whole before a download releases a byte.

A blob is the stream recipe of ``app/crypto/streams.py`` under the person's data key, bound to the
attachment id (its object id) and the person:

    salt (32) || data segments || trailer segment

The data segments hold the original, then zero bytes up to ``padded_size(size)``, cut into
``segment``-byte pieces (the last may be shorter), each sealed with the final flag clear. The
trailer is the final segment: ``TVA1`` || the original's size (8 bytes, big-endian) || its SHA-256.
So the padding and the true length are inside the authenticated stream: a blob cut short, grown,
reordered, spliced from another attachment or changed in one byte fails, and so does one whose
trailer disagrees with the size and digest sealed in its row.

The stored length is a function of the padded size alone, so it reveals the bucket, never the
exact size: see ``padded_size``.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from app.core.blobstore import BlobMissing, BlobStore, StoredBlob, TempBlob
from app.core.errors import Conflict, ValidationFailed
from app.crypto import streams
from app.crypto.errors import DecryptionFailed
from app.interviews.scanner import Scanner, Verdict

SEGMENT = streams.DEFAULT_SEGMENT
MIN_PADDED = 64 * 1024
BUCKET_SHIFT = 3
"""2**3 = 8 buckets between a power of two and the next."""
TRAILER = struct.Struct(">4sQ32s")
TRAILER_MAGIC = b"TVA1"


def padded_size(size: int) -> int:
    """The bucket a file of ``size`` bytes is padded to.

    At least 64 KiB; above that, the next multiple of one eighth of the largest power of two not
    above the size. So there are eight stored sizes between each power of two and the next, and
    padding adds at most 12.5% (on average about 6%): a 3,000,000-byte photo is stored as 3 MiB,
    like every file from 2,883,585 bytes up to it.
    """
    if size <= MIN_PADDED:
        return MIN_PADDED
    step = 1 << (size.bit_length() - 1 - BUCKET_SHIFT)
    return -(-size // step) * step


def _segments(padded: int, segment: int) -> int:
    return -(-padded // segment)


def stored_size(size: int, segment: int = SEGMENT) -> int:
    """The length of the blob that holds a file of ``size`` bytes."""
    padded = padded_size(size)
    return (
        streams.SALT_BYTES + padded + streams.TAG_BYTES * _segments(padded, segment) + TRAILER.size + streams.TAG_BYTES
    )


def acknowledged(temp_size: int | None, length: int, segment: int = SEGMENT) -> int:
    """How many bytes of a resumable upload of ``length`` bytes its temp blob holds, whole segments
    only: the offset the client resumes from. Segments sealed beyond the original (an interrupted
    completion's padding) do not count."""
    if temp_size is None or temp_size < streams.SALT_BYTES:
        return 0
    complete = (temp_size - streams.SALT_BYTES) // streams.sealed_segment_size(segment)
    return min(complete, length // segment) * segment


@dataclass(frozen=True)
class SealedBlob:
    """What finishing a blob found out about the original: kept sealed in the attachment's row."""

    sha256: bytes
    size: int
    verdict: Verdict
    """What the original is, read from all of it as it passed (or, for a resumed upload, read back)."""
    stored_size: int


class ResumeMismatch(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "the bytes sent at this offset differ from those received before; abandon this upload and start again",
            fields=["body"],
        )


class BlobWriter:
    """Seals an attachment into a temp blob as its bytes arrive, and pads and ends it on finish().

    Only whole segments reach the blob; a partial one waits in memory (never on disk) until more
    bytes complete it or finish() pads it. The writer holds the temp blob exclusively until
    finalise(), discard() or close().
    """

    def __init__(
        self,
        temp: TempBlob,
        sealer: streams.StreamSealer,
        *,
        dek: bytes,
        object_id: uuid.UUID,
        person_id: uuid.UUID,
        segment: int,
        previous: bytes | None = None,
    ) -> None:
        self._temp = temp
        self._sealer = sealer
        self._dek = dek
        self._object_id = object_id
        self._person_id = person_id
        self._segment = segment
        self._start = sealer.index
        self._keep = streams.SALT_BYTES + self._start * streams.sealed_segment_size(segment)
        # What lies beyond the whole segments kept (a torn write, an interrupted padding), to be
        # compared with the first segment sealed again at that index before it is replaced.
        self._previous = previous or None
        self._pending = bytearray()
        # A writer that sees the original from its first byte hashes and scans it as it passes; one that
        # resumes after sealed segments reads them back at the end instead (see _rehash).
        self._hasher = hashlib.sha256() if self._start == 0 else None
        self._scanner = Scanner() if self._start == 0 else None
        self.began = False
        """Whether this writer made the temp blob (resume() found none), rather than took it over."""

    @classmethod
    def create(
        cls, store: BlobStore, object_id: uuid.UUID, person_id: uuid.UUID, dek: bytes, segment: int = SEGMENT
    ) -> BlobWriter:
        """A new temp blob under the object's id; FileExistsError when there is one."""
        temp = store.create_temp(object_id.hex)
        try:
            sealer = streams.StreamSealer(dek, object_id, person_id)
            temp.append(sealer.header())
        except BaseException:
            temp.discard()
            raise
        writer = cls(temp, sealer, dek=dek, object_id=object_id, person_id=person_id, segment=segment)
        writer.began = True
        return writer

    @classmethod
    def resume(
        cls,
        store: BlobStore,
        object_id: uuid.UUID,
        person_id: uuid.UUID,
        dek: bytes,
        length: int,
        segment: int = SEGMENT,
    ) -> BlobWriter:
        """Continue the temp blob of a resumable upload of ``length`` bytes, or begin it (``began``).

        BlobBusy (409) when another transfer holds it. The caller checks that the upload is still
        open once it holds the blob: a transfer that lost the race to complete it finds no temp blob
        and would otherwise begin one under the attachment's id.
        """
        temp = store.open_temp(object_id.hex)
        if temp is None:
            try:
                return cls.create(store, object_id, person_id, dek, segment)
            except FileExistsError:  # another transfer made it just now
                temp = store.open_temp(object_id.hex)
                if temp is None:
                    raise Conflict("the upload changed meanwhile; try again", fields=["upload"]) from None
        try:
            size = temp.size()
            if size < streams.SALT_BYTES:  # not even the salt was written whole: nothing was sealed
                temp.truncate(0)
                sealer = streams.StreamSealer(dek, object_id, person_id)
                temp.append(sealer.header())
                return cls(temp, sealer, dek=dek, object_id=object_id, person_id=person_id, segment=segment)
            start = acknowledged(size, length, segment) // segment
            keep = streams.SALT_BYTES + start * streams.sealed_segment_size(segment)
            previous = temp.read_at(keep, streams.sealed_segment_size(segment))
            salt = temp.read_at(0, streams.SALT_BYTES)
            sealer = streams.StreamSealer(dek, object_id, person_id, salt=salt, start=start)
        except BaseException:
            temp.close()
            raise
        return cls(temp, sealer, dek=dek, object_id=object_id, person_id=person_id, segment=segment, previous=previous)

    @property
    def received(self) -> int:
        """Bytes of the original sealed into the blob (whole segments): the acknowledged offset."""
        return self._sealer.index * self._segment

    @property
    def pending(self) -> int:
        """Bytes taken but not yet sealed (less than a segment, in memory only)."""
        return len(self._pending)

    def refusal(self) -> Verdict | None:
        """What the file is, when what has passed already shows it does not hold together (scanner.Verdict)."""
        return self._scanner.refusal() if self._scanner is not None else None

    def write(self, data: bytes) -> None:
        """Take the next bytes of the original; every whole segment is sealed and appended."""
        if self._hasher is not None:
            self._hasher.update(data)
        if self._scanner is not None:
            self._scanner.feed(data)
        self._pending.extend(data)
        while len(self._pending) >= self._segment:
            piece = bytes(self._pending[: self._segment])
            del self._pending[: self._segment]
            self._append(self._sealer.seal_segment(piece, final=False))

    def sync(self) -> None:
        """Make the sealed segments durable before they are acknowledged."""
        self._temp.sync()

    def finish(self) -> SealedBlob:
        """Seal what is pending, the zero padding up to the bucket and the trailer; the blob is complete."""
        size = self._sealer.index * self._segment + len(self._pending)
        if size == 0:
            raise ValidationFailed("the file is empty", fields=["file"])
        digest, verdict = self._digest()
        padded = padded_size(size)
        data = bytes(self._pending)
        self._pending.clear()
        position = size - len(data)
        while position < padded:  # the pending tail, then zeros, up to the bucket
            piece = min(self._segment, padded - position)
            self._append(self._sealer.seal_segment(data + bytes(piece - len(data)), final=False))
            data = b""
            position += piece
        self._append(self._sealer.seal_segment(TRAILER.pack(TRAILER_MAGIC, size, digest), final=True))
        self._temp.sync()
        return SealedBlob(sha256=digest, size=size, verdict=verdict, stored_size=self._temp.size())

    def finalise(self) -> None:
        """Make the blob final (after its row committed)."""
        self._temp.finalise()

    def discard(self) -> None:
        """Remove the temp blob (the upload failed or was abandoned)."""
        self._temp.discard()

    def close(self) -> None:
        """Keep the temp blob for a later transfer (a resumable upload not yet complete)."""
        self._temp.close()

    def _append(self, sealed: bytes) -> None:
        if self._previous is not None:
            common = min(len(sealed), len(self._previous))
            # The same key and nonce over other bytes would reveal both: never write a different segment here.
            if sealed[:common] != self._previous[:common]:
                raise ResumeMismatch
            self._temp.truncate(self._keep)
            self._previous = None
        self._temp.append(sealed)

    def _digest(self) -> tuple[bytes, Verdict]:
        if self._hasher is not None and self._scanner is not None:
            return self._hasher.digest(), self._scanner.finish()
        return self._rehash()

    def _rehash(self) -> tuple[bytes, Verdict]:
        """The SHA-256 of a resumed upload's original and what it is, read back from its sealed segments,
        opened one at a time in memory (neither hashlib's state nor the scanner's is kept between
        requests); the pending tail is added."""
        step = streams.sealed_segment_size(self._segment)
        count = self._sealer.index
        salt = self._temp.read_at(0, streams.SALT_BYTES)
        pieces = (self._temp.read_at(streams.SALT_BYTES + i * step, step) for i in range(count))
        hasher = hashlib.sha256()
        scanner = Scanner()
        for plain in streams.open_segments(self._dek, self._object_id, self._person_id, salt, pieces, ends=False):
            hasher.update(plain)
            scanner.feed(plain)
        hasher.update(self._pending)
        scanner.feed(bytes(self._pending))
        return hasher.digest(), scanner.finish()


def _content(
    blob: StoredBlob,
    dek: bytes,
    object_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    size: int,
    sha256: bytes,
    segment: int,
) -> Iterator[bytes]:
    """The original's bytes, segment by segment, each authenticated in its place; at the end, the
    padding, the trailer and the digest are checked. Any failure is DecryptionFailed."""
    if blob.size() != stored_size(size, segment):
        raise DecryptionFailed  # cut short or grown: known before a segment is read
    padded = padded_size(size)
    step = streams.sealed_segment_size(segment)
    count = _segments(padded, segment)
    last = padded - (count - 1) * segment + streams.TAG_BYTES
    offsets = [(streams.SALT_BYTES + i * step, step if i < count - 1 else last) for i in range(count)]
    offsets.append((streams.SALT_BYTES + (count - 1) * step + last, TRAILER.size + streams.TAG_BYTES))
    pieces = (blob.read_at(offset, length) for offset, length in offsets)
    salt = blob.read_at(0, streams.SALT_BYTES)
    hasher = hashlib.sha256()
    position = 0
    trailer = b""
    for index, plain in enumerate(streams.open_segments(dek, object_id, person_id, salt, pieces)):
        if index == count:
            trailer = plain
            break
        keep = plain[: max(0, size - position)]
        if plain[len(keep) :].count(0) != len(plain) - len(keep):
            raise DecryptionFailed  # padding is zeros, always
        position += len(plain)
        if keep:
            hasher.update(keep)
            yield keep
    if len(trailer) != TRAILER.size or TRAILER.unpack(trailer) != (TRAILER_MAGIC, size, sha256):
        raise DecryptionFailed
    if hasher.digest() != sha256:
        raise DecryptionFailed


class VerifiedBlob:
    """An attachment's blob, already verified end to end; chunks() then streams it.

    The file stays open from the verifying pass to the end of the streaming pass, so both read the
    same file even if its name is replaced meanwhile. A change made to that file in place between
    the passes is caught by the second pass as the first would: each segment is authenticated
    again as it is read. Bytes already sent were each authentic and in place; the transfer is then
    broken off before its declared length, so no client takes it for the whole file.
    """

    def __init__(
        self, blob: StoredBlob, dek: bytes, object_id: uuid.UUID, person_id: uuid.UUID, size: int, sha256: bytes,
        segment: int,
    ) -> None:  # fmt: skip
        self._blob = blob
        self._args = (dek, object_id, person_id)
        self.size = size
        self.sha256 = sha256
        self._segment = segment

    def chunks(self) -> Iterator[bytes]:
        """The original, segment by segment, verified again as it goes; closes the blob at the end."""
        try:
            yield from _content(self._blob, *self._args, size=self.size, sha256=self.sha256, segment=self._segment)
        finally:
            self._blob.close()

    def close(self) -> None:
        self._blob.close()


def open_verified(
    store: BlobStore,
    object_id: uuid.UUID,
    person_id: uuid.UUID,
    dek: bytes,
    *,
    size: int,
    sha256: bytes,
    segment: int = SEGMENT,
) -> VerifiedBlob:
    """Verify every segment, the padding, the trailer and the digest against the row's sealed size and
    SHA-256, before anything is released; DecryptionFailed (an integrity failure) otherwise."""
    try:
        blob = store.open(object_id.hex)
    except BlobMissing:
        raise DecryptionFailed from None
    try:
        for _ in _content(blob, dek, object_id, person_id, size=size, sha256=sha256, segment=segment):
            pass
    except BaseException:
        blob.close()
        raise
    return VerifiedBlob(blob, dek, object_id, person_id, size, sha256, segment)
