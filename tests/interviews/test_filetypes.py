"""Sniffing the common evidence types from their first bytes, and what each declared kind allows."""

from __future__ import annotations

import pytest

from app.consent.vocabulary import ParticipationDecision as D
from app.core.errors import Forbidden, UnsupportedMediaType
from app.interviews.filetypes import ALLOWED, CONTENT_DECISION, Kind, check_type, sniff

EVERYTHING = frozenset(D)


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    box = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(box)).to_bytes(4, "big") + b"ftyp" + box + b"\x00\x00\x00\x08free"


def _ogg_page(packet: bytes) -> bytes:
    """The first page of an Ogg stream: its 27-byte header, a one-entry segment table, the first packet."""
    header = b"OggS\x00\x02" + bytes(8) + b"\x01\x00\x00\x00" + bytes(4) + bytes(4) + b"\x01"
    return header + bytes([len(packet)]) + packet


HEADS = {
    "image/jpeg": b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/heic": _ftyp(b"heic", b"mif1", b"heic"),
    "image/heif": _ftyp(b"mif1", b"mif1"),
    "application/pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3",
    "video/mp4": _ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"),
    "video/quicktime": _ftyp(b"qt  ", b"qt  "),
    "audio/mp4": _ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"),
    "audio/aac": b"\xff\xf1\x50\x80\x02\x1f\xfc",
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x00\x23TSSE",
    "audio/wav": b"RIFF\x24\x08\x00\x00WAVEfmt ",
    "audio/ogg": _ogg_page(b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"),
    "video/ogg": _ogg_page(b"\x80theora\x03\x02\x01\x00\x14\x00\x0f"),
    # EBML header: version, read version, max id and size lengths, then DocType "webm"
    "video/webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
    + b"\x42\x82\x84webm",
}


@pytest.mark.parametrize(("media", "head"), HEADS.items())
def test_each_type_is_recognised(media: str, head: bytes) -> None:
    assert sniff(head + bytes(64)) == media


def test_mp3_frames_without_a_tag_and_old_quicktime() -> None:
    assert sniff(b"\xff\xfb\x90\x64" + bytes(60)) == "audio/mpeg"
    assert sniff(b"\x00\x00\x00\x10moov" + bytes(60)) == "video/quicktime"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"MZ\x90\x00",  # a Windows program
        b"PK\x03\x04",  # a zip (or an office document)
        b"<html><script>",
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska",  # Matroska other than WebM
        _ftyp(b"zzzz", b"zzzz"),  # an ISO file of no brand we take
        b"\xff\xf8",  # too short to be a frame
        b"\xff\xfb\xf0\x64",  # an MPEG frame with a bad bitrate
        b"RIFF\x00\x00\x00\x00AVI ",
    ],
)
def test_anything_else_is_unknown(head: bytes) -> None:
    assert sniff(head) is None


def test_kinds_allow_their_types_only() -> None:
    assert check_type(Kind.PHOTO, HEADS["image/heic"], EVERYTHING) == "image/heic"
    assert check_type(Kind.DOCUMENT, HEADS["image/png"], EVERYTHING) == "image/png"
    assert check_type(Kind.AUDIO, HEADS["video/mp4"], EVERYTHING) == "video/mp4"  # the container alone cannot tell
    for kind, media in [(Kind.PHOTO, "application/pdf"), (Kind.VIDEO, "audio/mpeg"), (Kind.DOCUMENT, "video/mp4")]:
        with pytest.raises(UnsupportedMediaType) as caught:
            check_type(kind, HEADS[media], EVERYTHING)
        assert caught.value.fields == ["file"]
        assert caught.value.status == 415
    assert set().union(*ALLOWED.values()) == set(HEADS)


@pytest.mark.parametrize(
    ("kind", "media", "needed"),
    [
        (Kind.DOCUMENT, "image/jpeg", D.PHOTOS),  # a photo filed as a document is still a photo
        (Kind.DOCUMENT, "image/heic", D.PHOTOS),
        (Kind.AUDIO, "video/mp4", D.VIDEO_RECORDING),  # may hold pictures: only its tracks would tell
        (Kind.AUDIO, "video/webm", D.VIDEO_RECORDING),
        (Kind.VIDEO, "video/ogg", D.VIDEO_RECORDING),
    ],
)
def test_what_a_file_is_needs_its_own_decision_whatever_it_is_declared_as(kind: Kind, media: str, needed: D) -> None:
    without = EVERYTHING - {needed}
    with pytest.raises(Forbidden) as caught:
        check_type(kind, HEADS[media], without)
    assert (caught.value.status, caught.value.fields, caught.value.extra) == (
        403,
        ["file"],
        {"code": "consent_required", "decision": needed.value},
    )
    assert check_type(kind, HEADS[media], EVERYTHING) == media


def test_sound_alone_needs_only_the_audio_decision() -> None:
    sound = frozenset({D.AUDIO_RECORDING})
    for media in ("audio/mp4", "audio/aac", "audio/mpeg", "audio/wav", "audio/ogg"):
        assert check_type(Kind.AUDIO, HEADS[media], sound) == media
    assert check_type(Kind.DOCUMENT, HEADS["application/pdf"], frozenset({D.STORAGE})) == "application/pdf"
    assert set(CONTENT_DECISION) == set(HEADS)  # every type we take has its decision
