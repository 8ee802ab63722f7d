"""Segmented sealing of attachments: round trips and every way to cut or splice a stream."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.crypto import streams
from app.crypto.errors import DecryptionFailed

SEG = 64
STEP = SEG + streams.TAG_BYTES
DEK = bytes(range(32))
OBJECT = uuid.UUID("0190f1a2-0000-7000-8000-0000000000c1")
OTHER_OBJECT = uuid.UUID("0190f1a2-0000-7000-8000-0000000000c2")
PERSON = uuid.UUID("0190f1a2-0000-7000-8000-0000000000aa")
OTHER_PERSON = uuid.UUID("0190f1a2-0000-7000-8000-0000000000bb")


def _data(n: int) -> bytes:
    return os.urandom(n)


def _seal(data: bytes, *, object_id: uuid.UUID = OBJECT, person_id: uuid.UUID = PERSON, chunk: int = 7) -> list[bytes]:
    """Header first, then sealed segments, exactly as seal_stream yields them."""
    chunks = (data[i : i + chunk] for i in range(0, len(data), chunk))
    return list(streams.seal_stream(DEK, object_id, person_id, chunks, segment_size=SEG))


def _open(sealed: bytes, *, object_id: uuid.UUID = OBJECT, person_id: uuid.UUID = PERSON) -> bytes:
    return b"".join(streams.open_stream(DEK, object_id, person_id, sealed, segment_size=SEG))


def _verify(sealed: bytes) -> None:
    streams.verify_stream(DEK, OBJECT, PERSON, sealed, segment_size=SEG)


SIZES = [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 5]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int) -> None:
    data = _data(size)
    parts = _seal(data)
    assert len(parts[0]) == streams.SALT_BYTES
    segments = parts[1:]
    # Full segments are never followed by an empty final one, except for an empty object.
    assert len(segments) == max(1, -(-size // SEG))
    assert all(len(s) == STEP for s in segments[:-1])
    sealed = b"".join(parts)
    assert len(sealed) == streams.SALT_BYTES + size + len(segments) * streams.TAG_BYTES
    assert _open(sealed) == data
    _verify(sealed)


def test_input_chunking_does_not_matter() -> None:
    data = _data(3 * SEG + 10)
    one_chunk = list(streams.seal_stream(DEK, OBJECT, PERSON, [data], segment_size=SEG))
    byte_chunks = _seal(data, chunk=1)
    assert [len(p) for p in one_chunk] == [len(p) for p in byte_chunks]
    assert _open(b"".join(one_chunk)) == _open(b"".join(byte_chunks)) == data


def test_open_yields_one_plaintext_per_segment() -> None:
    data = _data(2 * SEG + 1)
    pieces = list(streams.open_stream(DEK, OBJECT, PERSON, b"".join(_seal(data)), segment_size=SEG))
    assert pieces == [data[:SEG], data[SEG : 2 * SEG], data[2 * SEG :]]


def test_default_segment_size_round_trip() -> None:
    data = _data(streams.DEFAULT_SEGMENT + 3)
    sealed = b"".join(streams.seal_stream(DEK, OBJECT, PERSON, [data]))
    assert len(sealed) == streams.SALT_BYTES + len(data) + 2 * streams.TAG_BYTES
    assert b"".join(streams.open_stream(DEK, OBJECT, PERSON, sealed)) == data


def test_salt_is_fresh_per_stream() -> None:
    a, b = _seal(b"same"), _seal(b"same")
    assert a[0] != b[0]
    assert a[1] != b[1]


@settings(max_examples=50)
@given(data=st.binary(max_size=5 * SEG), chunk=st.integers(min_value=1, max_value=3 * SEG))
def test_round_trip_arbitrary(data: bytes, chunk: int) -> None:
    assert _open(b"".join(_seal(data, chunk=chunk))) == data


# --- tampering -----------------------------------------------------------------------------


def _parts(size: int = 3 * SEG + 10) -> tuple[bytes, list[bytes]]:
    parts = _seal(_data(size))
    return parts[0], parts[1:]


def _join(salt: bytes, segments: list[bytes]) -> bytes:
    return salt + b"".join(segments)


def _reordered() -> bytes:
    salt, s = _parts()
    return _join(salt, [s[1], s[0], *s[2:]])


def _last_dropped() -> bytes:
    salt, s = _parts()
    return _join(salt, s[:-1])


def _last_dropped_all_full() -> bytes:
    salt, s = _parts(3 * SEG)
    return _join(salt, s[:-1])


def _middle_dropped() -> bytes:
    salt, s = _parts()
    return _join(salt, [s[0], *s[2:]])


def _all_dropped() -> bytes:
    salt, _ = _parts()
    return salt


def _appended_copy() -> bytes:
    salt, s = _parts()
    return _join(salt, [*s, s[-1]])


def _appended_from_other_stream() -> bytes:
    salt, s = _parts(3 * SEG)
    _, extra = _parts(SEG)
    return _join(salt, [*s, *extra])


def _appended_zero_bytes() -> bytes:
    salt, s = _parts()
    return _join(salt, s) + b"\x00"


def _truncated_mid_segment() -> bytes:
    salt, s = _parts()
    return _join(salt, s)[:-1]


def _bit_flipped(offset: int) -> bytes:
    salt, s = _parts()
    sealed = bytearray(_join(salt, s))
    sealed[offset] ^= 0x01
    return bytes(sealed)


def _spliced(*, object_id: uuid.UUID, person_id: uuid.UUID) -> bytes:
    # A segment from another stream under the same DEK. Its salt differs too; the binding
    # itself (same salt, other object or person) is tested on whole streams below.
    salt, s = _parts()
    foreign = _seal(_data(3 * SEG + 10), object_id=object_id, person_id=person_id)
    return _join(salt, [s[0], foreign[2], *s[2:]])


def _foreign_salt() -> bytes:
    _, s = _parts()
    return _join(_parts()[0], s)


def _salt_changed() -> bytes:
    salt, s = _parts()
    return _join(bytes([salt[0] ^ 0x80]) + salt[1:], s)


TAMPERED: dict[str, Callable[[], bytes]] = {
    "reordered": _reordered,
    "last-dropped": _last_dropped,
    "last-dropped-all-full": _last_dropped_all_full,
    "middle-dropped": _middle_dropped,
    "all-segments-dropped": _all_dropped,
    "appended-copy-of-last": _appended_copy,
    "appended-foreign-segment": _appended_from_other_stream,
    "appended-byte": _appended_zero_bytes,
    "truncated-mid-segment": _truncated_mid_segment,
    "bit-flip-first-segment": lambda: _bit_flipped(streams.SALT_BYTES + 3),
    "bit-flip-last-tag": lambda: _bit_flipped(-1),
    "spliced-other-object": lambda: _spliced(object_id=OTHER_OBJECT, person_id=PERSON),
    "spliced-other-person": lambda: _spliced(object_id=OBJECT, person_id=OTHER_PERSON),
    "salt-from-other-stream": _foreign_salt,
    "salt-changed": _salt_changed,
    "empty": lambda: b"",
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_stream_fails(case: str) -> None:
    sealed = TAMPERED[case]()
    with pytest.raises(DecryptionFailed, match=r"^decryption failed$"):
        _open(sealed)
    with pytest.raises(DecryptionFailed, match=r"^decryption failed$"):
        _verify(sealed)


@pytest.mark.parametrize(
    ("object_id", "person_id"),
    [(OTHER_OBJECT, PERSON), (OBJECT, OTHER_PERSON)],
    ids=["object", "person"],
)
def test_whole_stream_opened_as_another_object_or_person_fails(object_id: uuid.UUID, person_id: uuid.UUID) -> None:
    sealed = b"".join(_seal(_data(10)))
    with pytest.raises(DecryptionFailed):
        _open(sealed, object_id=object_id, person_id=person_id)


def test_wrong_dek_fails() -> None:
    sealed = b"".join(_seal(_data(10)))
    for dek in (bytes(32), DEK[:16], b""):
        with pytest.raises(DecryptionFailed):
            b"".join(streams.open_stream(dek, OBJECT, PERSON, sealed, segment_size=SEG))


def test_opened_with_another_segment_size_fails() -> None:
    sealed = b"".join(_seal(_data(3 * SEG)))
    with pytest.raises(DecryptionFailed):
        b"".join(streams.open_stream(DEK, OBJECT, PERSON, sealed, segment_size=SEG * 2))


def test_open_stream_releases_earlier_segments_before_it_fails() -> None:
    # open_stream is lazy: it yields each segment as it verifies it, so a cut or corrupted
    # tail surfaces only after earlier plaintext has gone out. Downloads must call
    # verify_stream first (DESIGN: "verify every segment before the first byte is sent").
    data = _data(3 * SEG)
    parts = _seal(data)
    sealed = _join(parts[0], parts[1:-1])  # final segment dropped
    released: list[bytes] = []
    with pytest.raises(DecryptionFailed):
        released.extend(streams.open_stream(DEK, OBJECT, PERSON, sealed, segment_size=SEG))
    assert released == [data[:SEG]]


def test_verify_stream_raises_without_returning_plaintext() -> None:
    parts = _seal(_data(3 * SEG))
    good = b"".join(parts)
    streams.verify_stream(DEK, OBJECT, PERSON, good, segment_size=SEG)
    with pytest.raises(DecryptionFailed):
        _verify(_join(parts[0], parts[1:-1]))


# --- the sealer and arguments ---------------------------------------------------------------


def test_sealer_refuses_segments_after_final() -> None:
    sealer = streams.StreamSealer(DEK, OBJECT, PERSON)
    sealer.seal_segment(b"x", final=True)
    with pytest.raises(ValueError, match="already finalised"):
        sealer.seal_segment(b"y", final=False)


def test_sealer_output_opens_with_open_stream() -> None:
    sealer = streams.StreamSealer(DEK, OBJECT, PERSON)
    data = _data(SEG + 3)
    sealed = (
        sealer.header() + sealer.seal_segment(data[:SEG], final=False) + sealer.seal_segment(data[SEG:], final=True)
    )
    assert _open(sealed) == data


@pytest.mark.parametrize("size", [0, -1])
def test_non_positive_segment_size_refused(size: int) -> None:
    # islice: before the fix, size 0 sealed empty segments forever; fail rather than hang.
    with pytest.raises(ValueError, match="segment_size"):
        list(itertools.islice(streams.seal_stream(DEK, OBJECT, PERSON, [b"abc"], segment_size=size), 10))
    with pytest.raises(ValueError, match="segment_size"):
        list(streams.open_stream(DEK, OBJECT, PERSON, bytes(64), segment_size=size))


@pytest.mark.parametrize("dek", [b"", bytes(16), bytes(33)], ids=["empty", "16", "33"])
def test_sealing_with_a_wrong_length_dek_refused(dek: bytes) -> None:
    with pytest.raises(ValueError, match="32-byte"):
        streams.StreamSealer(dek, OBJECT, PERSON)
    with pytest.raises(ValueError, match="32-byte"):
        list(streams.seal_stream(dek, OBJECT, PERSON, [b"abc"], segment_size=SEG))


def _iter_once(data: bytes) -> Iterator[bytes]:
    yield data


def test_seal_stream_accepts_a_generator() -> None:
    data = _data(SEG * 2)
    assert _open(b"".join(streams.seal_stream(DEK, OBJECT, PERSON, _iter_once(data), segment_size=SEG))) == data
