"""Sealed attachment blobs: round trips, padding, every way to tamper with a blob, and resuming."""

from __future__ import annotations

import hashlib
import os
import random
import uuid
from pathlib import Path

import pytest

from app.core.blobstore import BlobBusy, DirectoryBlobStore
from app.crypto import streams
from app.crypto.errors import DecryptionFailed
from app.interviews import blobs
from app.interviews.blobs import BlobWriter, ResumeMismatch, open_verified, padded_size, stored_size
from app.interviews.scanner import Scanner, Verdict
from tests.support import media

SEG = 4096  # small segments, so that small files have many
STEP = SEG + streams.TAG_BYTES
DEK = os.urandom(32)
PERSON = uuid.UUID("0190f1a2-0000-7000-8000-0000000000aa")


@pytest.fixture
def store(tmp_path: Path) -> DirectoryBlobStore:
    return DirectoryBlobStore(tmp_path / "attachments")


def _store_blob(store: DirectoryBlobStore, data: bytes, object_id: uuid.UUID | None = None) -> uuid.UUID:
    object_id = object_id or uuid.uuid4()
    writer = BlobWriter.create(store, object_id, PERSON, DEK, SEG)
    rng = random.Random(len(data))
    at = 0
    while at < len(data):  # arbitrary chunk sizes, as a network delivers them
        step = rng.randint(1, 3 * SEG)
        writer.write(data[at : at + step])
        at += step
    sealed = writer.finish()
    assert sealed.size == len(data)
    assert sealed.sha256 == hashlib.sha256(data).digest()
    scanner = Scanner()
    scanner.feed(data)
    assert sealed.verdict == scanner.finish()  # what the file is, told as it passed in chunks
    writer.finalise()
    return object_id


def _verify(store: DirectoryBlobStore, object_id: uuid.UUID, data: bytes) -> blobs.VerifiedBlob:
    digest = hashlib.sha256(data).digest()
    return open_verified(store, object_id, PERSON, DEK, size=len(data), sha256=digest, segment=SEG)


def _read(store: DirectoryBlobStore, object_id: uuid.UUID, data: bytes) -> bytes:
    return b"".join(_verify(store, object_id, data).chunks())


def _path(store: DirectoryBlobStore, object_id: uuid.UUID) -> Path:
    return store.final_path(object_id.hex)


SIZES = [1, 63, 64, SEG, blobs.MIN_PADDED - 1, blobs.MIN_PADDED, blobs.MIN_PADDED + 1, 5 * SEG + 17, 300_001]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_the_stored_size_is_the_bucket(store: DirectoryBlobStore, size: int) -> None:
    data = os.urandom(size)
    object_id = _store_blob(store, data)
    assert _read(store, object_id, data) == data
    assert _path(store, object_id).stat().st_size == stored_size(size, SEG)
    assert not list(store.temp_dir.iterdir())


def test_files_in_one_bucket_are_stored_at_one_length(store: DirectoryBlobStore) -> None:
    sizes = [2_883_585, 2_900_000, 3_000_000, 3 * 1024 * 1024]
    lengths = {stored_size(size, SEG) for size in sizes}
    assert len(lengths) == 1
    assert padded_size(3_000_000) == 3 * 1024 * 1024
    assert stored_size(2_883_584, SEG) < stored_size(2_883_585, SEG)


def test_buckets_add_at_most_an_eighth_and_eight_per_doubling() -> None:
    rng = random.Random(7)
    for size in [rng.randint(1, 2**31) for _ in range(2000)] + [2**k + d for k in range(17, 32) for d in (-1, 0, 1)]:
        padded = padded_size(size)
        assert padded >= size
        assert padded >= blobs.MIN_PADDED
        if size > blobs.MIN_PADDED:
            assert padded <= size * 1.125
    for k in range(17, 31):
        assert len({padded_size(size) for size in range(2**k + 1, 2 ** (k + 1) + 1, 2 ** (k - 6))}) == 8


def test_a_blob_holds_no_plaintext(store: DirectoryBlobStore) -> None:
    data = b"Canary Grigoryan \xd4\xb3\xd6\x80\xd5\xab\xd5\xa3\xd5\xb8\xd6\x80\xd5\xb5\xd5\xa1\xd5\xb6 " * 500
    object_id = _store_blob(store, data)
    stored = _path(store, object_id).read_bytes()
    assert b"Canary" not in stored
    assert "Գրիգորյան".encode() not in stored


# Tampering: every failure comes from open_verified, before any byte is released. -------------------------


def _tampered(store: DirectoryBlobStore, data: bytes, change: object) -> tuple[uuid.UUID, bytes]:
    object_id = _store_blob(store, data)
    path = _path(store, object_id)
    blob = bytearray(path.read_bytes())
    assert callable(change)
    changed = change(blob)
    path.chmod(0o600)
    path.write_bytes(bytes(changed))
    return object_id, data


DATA = os.urandom(20 * SEG + 123)


def _segment(i: int) -> slice:
    start = streams.SALT_BYTES + i * STEP
    return slice(start, start + STEP)


def _flip(at: int) -> object:
    def change(blob: bytearray) -> bytearray:
        blob[at] ^= 0x01
        return blob

    return change


def _swap(blob: bytearray) -> bytearray:
    a, b = blob[_segment(2)], blob[_segment(5)]
    blob[_segment(2)], blob[_segment(5)] = b, a
    return blob


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_flip(0), id="flip-salt"),
        pytest.param(_flip(streams.SALT_BYTES + 3 * STEP + 100), id="flip-data"),
        pytest.param(_flip(streams.SALT_BYTES + 3 * STEP + SEG + 2), id="flip-tag"),
        pytest.param(_flip(-40), id="flip-trailer"),
        pytest.param(_flip(-(blobs.TRAILER.size + streams.TAG_BYTES) - 10), id="flip-padding"),
        pytest.param(_swap, id="swap-segments"),
        pytest.param(lambda b: b[:-1], id="truncate-one-byte"),
        pytest.param(lambda b: b[: streams.SALT_BYTES + 10 * STEP], id="truncate-to-ten-segments"),
        pytest.param(lambda b: b[: -(blobs.TRAILER.size + streams.TAG_BYTES)], id="drop-trailer"),
        pytest.param(lambda b: b + b"\x00", id="grow"),
        pytest.param(lambda b: b[: streams.SALT_BYTES] + b[streams.SALT_BYTES + STEP :] + b[_segment(0)], id="rotate"),
    ],
)
def test_tampering_fails_before_any_byte(store: DirectoryBlobStore, change: object) -> None:
    object_id, data = _tampered(store, DATA, change)
    with pytest.raises(DecryptionFailed):
        _verify(store, object_id, data)


def test_a_segment_spliced_from_another_attachment_fails(store: DirectoryBlobStore) -> None:
    other = _store_blob(store, os.urandom(len(DATA)))
    donor = _path(store, other).read_bytes()
    object_id, data = _tampered(
        store, DATA, lambda b: b[: _segment(4).start] + donor[_segment(4)] + b[_segment(4).stop :]
    )
    with pytest.raises(DecryptionFailed):
        open_verified(store, object_id, PERSON, DEK, size=len(data), sha256=hashlib.sha256(data).digest(), segment=SEG)


def test_a_whole_blob_put_in_another_attachments_place_fails(store: DirectoryBlobStore) -> None:
    first = _store_blob(store, DATA)
    second = _store_blob(store, DATA)
    _path(store, second).chmod(0o600)
    _path(store, second).write_bytes(_path(store, first).read_bytes())
    with pytest.raises(DecryptionFailed):
        open_verified(store, second, PERSON, DEK, size=len(DATA), sha256=hashlib.sha256(DATA).digest(), segment=SEG)


@pytest.mark.parametrize("lie", ["size", "sha256", "person", "key"])
def test_the_row_must_agree_with_the_blob(store: DirectoryBlobStore, lie: str) -> None:
    object_id = _store_blob(store, DATA)
    size, digest, person, dek = len(DATA), hashlib.sha256(DATA).digest(), PERSON, DEK
    if lie == "size":
        size -= 1  # same bucket, so the same stored length: the trailer tells
    elif lie == "sha256":
        digest = hashlib.sha256(b"another").digest()
    elif lie == "person":
        person = uuid.uuid4()
    else:
        dek = os.urandom(32)
    assert stored_size(size, SEG) == stored_size(len(DATA), SEG)
    with pytest.raises(DecryptionFailed):
        open_verified(store, object_id, person, dek, size=size, sha256=digest, segment=SEG)


def test_a_missing_blob_is_an_integrity_failure(store: DirectoryBlobStore) -> None:
    with pytest.raises(DecryptionFailed):
        open_verified(store, uuid.uuid4(), PERSON, DEK, size=1, sha256=bytes(32), segment=SEG)


def test_a_change_between_the_passes_breaks_off_the_stream(store: DirectoryBlobStore) -> None:
    object_id = _store_blob(store, DATA)
    verified = _verify(store, object_id, DATA)
    # Changed in place after the verifying pass: the open file is the same one, its bytes are not.
    fd = os.open(_path(store, object_id), os.O_WRONLY)
    os.pwrite(fd, b"\x00" * 8, _segment(6).start + 50)
    os.close(fd)
    released: list[bytes] = []
    with pytest.raises(DecryptionFailed):
        released.extend(verified.chunks())
    assert b"".join(released) == DATA[: 6 * SEG]  # only authentic bytes, and fewer than the whole


def test_a_replaced_file_between_the_passes_changes_nothing(store: DirectoryBlobStore) -> None:
    object_id = _store_blob(store, DATA)
    verified = _verify(store, object_id, DATA)
    path = _path(store, object_id)
    path.unlink()
    path.write_bytes(b"something else")
    assert b"".join(verified.chunks()) == DATA


# Resuming ---------------------------------------------------------------------------------------------------


def _resume_after(store: DirectoryBlobStore, data: bytes, cut: int, torn: int = 0) -> tuple[uuid.UUID, bytes]:
    """Send ``cut`` bytes, lose the writer (a dropped connection), maybe tear the last write, resume."""
    object_id = uuid.uuid4()
    writer = BlobWriter.create(store, object_id, PERSON, DEK, SEG)
    writer.write(data[:cut])
    acked = writer.received
    writer.sync()
    writer.close()
    temp = store.temp_path(object_id.hex)
    if torn:  # a torn write: part of the next sealed segment reached the disk
        sealer = streams.StreamSealer(DEK, object_id, PERSON, salt=temp.read_bytes()[:32], start=acked // SEG)
        temp.write_bytes(temp.read_bytes() + sealer.seal_segment(data[acked : acked + SEG], final=False)[:torn])
    assert blobs.acknowledged(temp.stat().st_size, len(data), SEG) == acked
    writer = BlobWriter.resume(store, object_id, PERSON, DEK, len(data), SEG)
    assert writer.received == acked == cut // SEG * SEG
    writer.write(data[acked:])
    sealed = writer.finish()
    writer.finalise()
    return object_id, sealed.sha256


@pytest.mark.parametrize("seed", range(6))
def test_resuming_after_a_cut_at_a_random_segment_gives_the_same_blob(store: DirectoryBlobStore, seed: int) -> None:
    rng = random.Random(seed)
    data = os.urandom(rng.randint(2 * SEG, 40 * SEG))
    cut = rng.randint(0, len(data) - 1)
    object_id, digest = _resume_after(store, data, cut, torn=rng.choice([0, 1, 500, STEP - 1]))
    assert digest == hashlib.sha256(data).digest()
    assert _read(store, object_id, data) == data
    assert _path(store, object_id).stat().st_size == stored_size(len(data), SEG)


@pytest.mark.parametrize("cut", [0, 5, SEG, 3 * SEG + 7, 6 * SEG])
def test_a_resumed_writer_reads_back_what_the_whole_file_is(store: DirectoryBlobStore, cut: int) -> None:
    """The video track sits past every cut: the writer that completes the file must see it, whether it
    saw the file pass from its first byte or reads the sealed segments back."""
    data = media.ftyp(b"M4A ", b"M4A ") + media.box(b"mdat", os.urandom(6 * SEG)) + media.moov(b"soun", b"vide")
    object_id = uuid.uuid4()
    writer = BlobWriter.create(store, object_id, PERSON, DEK, SEG)
    writer.write(data[:cut])
    writer.sync()
    writer.close()
    writer = BlobWriter.resume(store, object_id, PERSON, DEK, len(data), SEG)
    writer.write(data[writer.received :])
    sealed = writer.finish()
    assert sealed.verdict == Verdict("audio/mp4", "video/mp4")
    assert sealed.sha256 == hashlib.sha256(data).digest()
    writer.discard()


def test_resuming_with_other_bytes_over_a_torn_segment_is_refused(store: DirectoryBlobStore) -> None:
    data = os.urandom(10 * SEG)
    object_id = uuid.uuid4()
    writer = BlobWriter.create(store, object_id, PERSON, DEK, SEG)
    writer.write(data[: 3 * SEG])
    writer.close()
    temp = store.temp_path(object_id.hex)
    sealer = streams.StreamSealer(DEK, object_id, PERSON, salt=temp.read_bytes()[:32], start=3)
    temp.write_bytes(temp.read_bytes() + sealer.seal_segment(data[3 * SEG : 4 * SEG], final=False)[:700])
    before = temp.read_bytes()
    writer = BlobWriter.resume(store, object_id, PERSON, DEK, len(data), SEG)
    with pytest.raises(ResumeMismatch):
        writer.write(os.urandom(SEG))  # not the bytes that were sent before at this offset
    writer.close()
    assert temp.read_bytes() == before  # the segment sealed from other bytes never reached the disk


def test_an_interrupted_completion_is_completed_again_the_same(store: DirectoryBlobStore) -> None:
    data = os.urandom(7 * SEG + 5)
    object_id = uuid.uuid4()
    writer = BlobWriter.create(store, object_id, PERSON, DEK, SEG)
    writer.write(data)
    writer.finish()
    temp = store.temp_path(object_id.hex)
    complete = temp.read_bytes()
    writer.close()
    temp.write_bytes(complete[: len(complete) - 3 * STEP])  # part of the padding was written, then a crash
    assert blobs.acknowledged(temp.stat().st_size, len(data), SEG) == 7 * SEG
    writer = BlobWriter.resume(store, object_id, PERSON, DEK, len(data), SEG)
    writer.write(data[7 * SEG :])
    assert writer.finish().sha256 == hashlib.sha256(data).digest()
    assert temp.read_bytes() == complete
    writer.finalise()


def test_one_writer_at_a_time(store: DirectoryBlobStore) -> None:
    object_id = uuid.uuid4()
    writer = BlobWriter.create(store, object_id, PERSON, DEK, SEG)
    with pytest.raises(BlobBusy):
        BlobWriter.resume(store, object_id, PERSON, DEK, 10 * SEG, SEG)
    writer.close()
    BlobWriter.resume(store, object_id, PERSON, DEK, 10 * SEG, SEG).close()


def test_an_empty_file_is_refused(store: DirectoryBlobStore) -> None:
    writer = BlobWriter.create(store, uuid.uuid4(), PERSON, DEK, SEG)
    with pytest.raises(Exception, match="empty"):
        writer.finish()
    writer.discard()
    assert not list(store.temp_dir.iterdir())
