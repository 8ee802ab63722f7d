"""The scanner on its own: the same verdict however the file is cut into chunks, the structures it
walks, and garbage after any head never raising."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.consent.vocabulary import ParticipationDecision as D
from app.core.errors import Forbidden, UnsupportedMediaType
from app.interviews import filetypes as ft
from app.interviews.scanner import Scanner, Verdict, check_whole
from tests.support import media


def scan(data: bytes, chunk: int | None = None) -> Verdict:
    scanner = Scanner()
    rng = random.Random(len(data))
    at = 0
    while at < len(data):
        step = chunk or rng.randint(1, 3000)
        scanner.feed(data[at : at + step])
        at += step
    return scanner.finish()


FILES = {
    "mp3": (media.mp3(40), ft.MP3),
    "mp3 without a tag": (media.mp3(40, tag=False), ft.MP3),
    "id3 then aac": (media.id3() + media.adts_frames(20), ft.AAC),
    "aac": (media.adts_frames(20), ft.AAC),
    "id3 then a jpeg": (media.id3() + media.JPEG, None),
    "mp3 then mpeg-2 frames": (media.mp3(5) + b"\xff\xf3\x90\x00" + bytes(200), None),
    "v2.3 tag with a flag it does not define": (b"ID3\x03\x00\x10\x00\x00\x00\x00" + media.mp3_frames(3), None),
    "tag size not syncsafe": (b"ID3\x04\x00\x00\x00\x00\x00\x80" + media.mp3_frames(3), None),
    "opus": (media.ogg_opus(), ft.OGG),
    "ogg not beginning a stream": (media.ogg_page(media.OPUS_HEAD, serial=1, sequence=0) + media.ogg_opus(), None),
    "opus then theora": (media.ogg_opus() + b"".join(media.ogg_stream(media.THEORA_HEAD, serial=3)), ft.OGG_VIDEO),
    "m4a": (media.m4a(b"soun"), ft.M4A),
    "m4a running to the end": (media.m4a_head() + os.urandom(9000), ft.M4A),
    "m4a with video": (media.m4a(b"soun", b"vide"), ft.MP4),
    "m4a with a trak without handler": (
        media.ftyp(b"M4A ", b"M4A ") + media.box(b"moov", media.trak(b"soun") + media.box(b"trak")),
        ft.MP4,
    ),
    "m4a with a picture handler in its metadata": (
        media.ftyp(b"M4A ", b"M4A ")
        + media.box(b"moov", media.trak(b"soun") + media.box(b"meta", bytes(4) + media.hdlr(b"pict"))),
        ft.MP4,
    ),
    "quicktime metadata (no version)": (
        media.ftyp(b"qt  ", b"qt  ") + media.box(b"moov", media.box(b"meta", media.hdlr(b"mdta") + media.box(b"keys"))),
        ft.MOV,
    ),
    "quicktime user data ending in a zero": (
        media.ftyp(b"qt  ", b"qt  ")
        + media.box(b"moov", media.box(b"udta", media.box(b"\xa9day", b"2023") + bytes(4))),
        ft.MOV,
    ),
    "user data ending in something else": (
        media.ftyp(b"qt  ", b"qt  ") + media.box(b"moov", media.box(b"udta", media.box(b"name") + b"\x00\x00\x00\x01")),
        None,
    ),
    "mp4 of sound": (media.m4a(b"soun", brand=b"isom"), ft.MP4),
    "a 64-bit box size": (
        media.ftyp(b"M4A ", b"M4A ")
        + media.moov(b"soun")
        + b"\x00\x00\x00\x01mdat"
        + (16 + 100).to_bytes(8, "big")
        + bytes(100),
        ft.M4A,
    ),
    "wav": (media.wav(), ft.WAV),
    "wav then a jpeg": (media.wav() + media.JPEG, None),
    "wav declaring more than it holds": (media.wav()[:-3], None),
    "wav without its data chunk": (
        b"RIFF" + (4 + 24).to_bytes(4, "little") + b"WAVE" + media.wav()[12:36],
        None,
    ),
    "jpeg": (media.JPEG + os.urandom(1000), ft.JPEG),  # the first bytes only
    "nothing we take": (b"MZ" + os.urandom(1000), None),
}


def _nested(depth: int) -> bytes:
    inner = media.box(b"free")
    for _ in range(depth):
        inner = media.box(b"moov", inner)
    return inner


FILES["boxes nested too deep"] = (media.ftyp(b"M4A ", b"M4A ") + _nested(20), None)
FILES["boxes nested a little"] = (media.ftyp(b"M4A ", b"M4A ") + _nested(5) + media.moov(b"soun"), ft.M4A)


@pytest.mark.parametrize(("data", "expected"), FILES.values(), ids=FILES)
def test_the_verdict_is_the_whole_files_however_it_is_cut(data: bytes, expected: str | None) -> None:
    whole = scan(data, len(data) or 1)
    assert whole.media == expected
    assert scan(data) == whole
    assert scan(data, 1) == whole
    assert whole.sniffed == ft.sniff(data[: ft.SNIFF_BYTES])


HEADS = [
    media.wav()[:44],
    media.id3(),
    media.mp3_frames(1),
    media.adts_frames(1),
    media.ogg_opus(1),
    media.m4a_head()[:-8],
    media.ftyp(b"qt  ", b"qt  "),
    media.ftyp(b"heic", b"mif1", b"heic"),
]


@settings(max_examples=300, deadline=None)
@given(head=st.sampled_from(HEADS), tail=st.binary(max_size=600), chunk=st.integers(1, 700))
def test_garbage_after_any_head_never_raises(head: bytes, tail: bytes, chunk: int) -> None:
    verdict = scan(head + tail, chunk)
    assert verdict.media is None or verdict.media in ft.CONTENT_DECISION


def test_a_long_mp3_is_walked_frame_by_frame_to_its_end() -> None:
    data = media.mp3(7000)  # about 2.9 MB, 7000 frames
    scanner = Scanner()
    for at in range(0, len(data), 65536):
        scanner.feed(data[at : at + 65536])
    assert scanner.finish().media == ft.MP3


def test_check_whole_refuses_what_the_whole_file_is() -> None:
    sound = frozenset({D.AUDIO_RECORDING})
    assert check_whole(ft.Kind.AUDIO, scan(media.mp3(10)), sound) == ft.MP3
    with pytest.raises(UnsupportedMediaType) as broken:
        check_whole(ft.Kind.AUDIO, scan(media.id3() + media.JPEG), sound)
    assert (broken.value.status, broken.value.fields) == (415, ["file"])
    assert "well-formed audio/mpeg" in str(broken.value.detail)
    with pytest.raises(UnsupportedMediaType) as other_kind:  # a photo's type, broken or not, is no audio type
        check_whole(ft.Kind.AUDIO, Verdict(ft.JPEG, None), sound)
    assert "must be one of" in str(other_kind.value.detail)
    with pytest.raises(Forbidden) as video:
        check_whole(ft.Kind.AUDIO, scan(media.m4a(b"soun", b"vide")), sound)
    assert video.value.extra == {"code": "consent_required", "decision": "video_recording"}
