"""Segmented sealing of large objects (the STREAM construction).

A stream is a 32-byte random salt followed by sealed segments. Each object gets
its own subkey, HKDF(data key, salt, object id, person id); a segment's nonce
is its index and a final flag, and its AAD binds the object id, the index and
the final flag. Segments therefore cannot be reordered, dropped, truncated or
spliced in from another object.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.crypto.errors import DecryptionFailed

SALT_BYTES = 32
KEY_BYTES = 32
TAG_BYTES = 16
DEFAULT_SEGMENT = 1024 * 1024
MAX_SEGMENTS = 2**32


def _subkey(dek: bytes, salt: bytes, object_id: uuid.UUID, person_id: uuid.UUID) -> AESGCM:
    # HKDF accepts any input length, so without this an empty or short key would seal silently.
    if len(dek) != KEY_BYTES:
        raise ValueError("a stream needs a 32-byte data key")
    info = f"testimony/stream/v1|{object_id.hex}|{person_id.hex}".encode()
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(dek))


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(8, "big") + (b"\x01" if final else b"\x00") + b"\x00\x00\x00"


def _aad(object_id: uuid.UUID, index: int, final: bool) -> bytes:
    return f"v1|segment|{object_id.hex}|{index}|{int(final)}".encode()


class StreamSealer:
    """Seals an object segment by segment as its bytes arrive.

    ``salt`` and ``start`` continue a stream whose first ``start`` segments are kept as they are
    (a resumed upload). Segment ``start`` onwards must not exist elsewhere sealed from other bytes:
    the same key and nonce over two plaintexts would reveal both. The caller keeps that promise
    (app/interviews/blobs.py compares a re-sealed segment with any partial one it replaces).
    """

    def __init__(
        self, dek: bytes, object_id: uuid.UUID, person_id: uuid.UUID, *, salt: bytes | None = None, start: int = 0
    ) -> None:
        if salt is not None and len(salt) != SALT_BYTES:
            raise ValueError("a stream salt is 32 bytes")
        if not 0 <= start < MAX_SEGMENTS:
            raise ValueError("start must be a segment index")
        self.salt = os.urandom(SALT_BYTES) if salt is None else salt
        self._aead = _subkey(dek, self.salt, object_id, person_id)
        self._object_id = object_id
        self._index = start
        self._done = False

    @property
    def index(self) -> int:
        """The index the next segment gets."""
        return self._index

    def header(self) -> bytes:
        return self.salt

    def seal_segment(self, data: bytes, *, final: bool) -> bytes:
        if self._done:
            raise ValueError("the stream is already finalised")
        if self._index >= MAX_SEGMENTS:
            raise ValueError("too many segments")
        index = self._index
        self._index += 1
        self._done = final
        return self._aead.encrypt(_nonce(index, final), data, _aad(self._object_id, index, final))


def seal_stream(
    dek: bytes,
    object_id: uuid.UUID,
    person_id: uuid.UUID,
    chunks: Iterable[bytes],
    segment_size: int = DEFAULT_SEGMENT,
) -> Iterator[bytes]:
    """Yield the header, then one sealed segment per ``segment_size`` bytes of input."""
    _check_segment_size(segment_size)
    sealer = StreamSealer(dek, object_id, person_id)
    yield sealer.header()
    pending = b""
    for chunk in chunks:
        pending += chunk
        while len(pending) > segment_size:
            yield sealer.seal_segment(pending[:segment_size], final=False)
            pending = pending[segment_size:]
    yield sealer.seal_segment(pending, final=True)


def _check_segment_size(segment_size: int) -> None:
    # Zero would seal empty segments forever; negative sizes would mis-slice.
    if segment_size < 1:
        raise ValueError("segment_size must be positive")


def sealed_segment_size(segment_size: int) -> int:
    return segment_size + TAG_BYTES


def open_stream(
    dek: bytes,
    object_id: uuid.UUID,
    person_id: uuid.UUID,
    sealed: bytes,
    segment_size: int = DEFAULT_SEGMENT,
) -> Iterator[bytes]:
    """Verify and open a whole sealed stream held in memory or read by segments.

    Callers that must not release unverified bytes (downloads) should collect
    the segments first; see verify_stream().
    """
    _check_segment_size(segment_size)
    if len(dek) != KEY_BYTES or len(sealed) < SALT_BYTES + TAG_BYTES:
        raise DecryptionFailed
    aead = _subkey(dek, sealed[:SALT_BYTES], object_id, person_id)
    body = sealed[SALT_BYTES:]
    step = sealed_segment_size(segment_size)
    index = 0
    offset = 0
    while True:
        segment = body[offset : offset + step]
        final = offset + step >= len(body)
        try:
            yield aead.decrypt(_nonce(index, final), segment, _aad(object_id, index, final))
        except InvalidTag:
            raise DecryptionFailed from None
        if final:
            return
        index += 1
        offset += step


def open_segments(
    dek: bytes,
    object_id: uuid.UUID,
    person_id: uuid.UUID,
    salt: bytes,
    segments: Iterable[bytes],
    *,
    start: int = 0,
    ends: bool = True,
) -> Iterator[bytes]:
    """Open sealed segments one at a time, in order from index ``start``, as they are read.

    With ``ends`` the last segment given must be the final one (a whole stream); without it none
    may be (the part of a stream written so far). Each yielded segment is authentic and in its
    place; a caller that must not release unverified bytes runs a first pass to the end before
    releasing any.
    """
    if len(dek) != KEY_BYTES or len(salt) != SALT_BYTES:
        raise DecryptionFailed
    aead = _subkey(dek, salt, object_id, person_id)
    index = start
    pending: bytes | None = None
    for segment in segments:
        if pending is not None:
            yield _open_one(aead, object_id, index, pending, final=False)
            index += 1
        pending = segment
    if pending is None:
        if ends:
            raise DecryptionFailed  # a whole stream has at least its final segment
        return
    yield _open_one(aead, object_id, index, pending, final=ends)


def _open_one(aead: AESGCM, object_id: uuid.UUID, index: int, segment: bytes, *, final: bool) -> bytes:
    if index >= MAX_SEGMENTS:
        raise DecryptionFailed
    try:
        return aead.decrypt(_nonce(index, final), segment, _aad(object_id, index, final))
    except InvalidTag:
        raise DecryptionFailed from None


def verify_stream(
    dek: bytes, object_id: uuid.UUID, person_id: uuid.UUID, sealed: bytes, segment_size: int = DEFAULT_SEGMENT
) -> None:
    """Check every segment without keeping the plaintext."""
    for _ in open_stream(dek, object_id, person_id, sealed, segment_size):
        pass
