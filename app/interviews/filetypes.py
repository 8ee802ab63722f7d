"""What an attachment may be: the declared kinds, the media types sniffed from a file's first bytes,
and which types each kind allows.

The type is read from the bytes, never taken from the client's Content-Type or the file name's
extension. Sniffing looks at magic numbers only (no libmagic), for the common evidence types; a
file it does not recognise is refused (415), as is a recognised type the declared kind does not
allow. This is the early check, before anything is stored; ``app/interviews/scanner.py`` then reads the
whole file, which must hold together as the type named here and may turn out to need more (an M4A with a
video track is video/mp4).

What a file is also decides which participation decision it needs (``CONTENT_DECISION``), whatever
kind the client declared: an image needs ``photos`` even when filed as a document, and a container
that may hold pictures (MP4, QuickTime, WebM, an Ogg file that is not plainly sound) needs
``video_recording`` even when declared as audio, since only its tracks would tell.
"""

from __future__ import annotations

from enum import StrEnum

from app.consent.vocabulary import ParticipationDecision
from app.core.errors import Forbidden, UnsupportedMediaType

SNIFF_BYTES = 64
"""How many leading bytes sniff() needs at most; fewer only when the file is shorter."""


class Kind(StrEnum):
    PHOTO = "photo"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"


JPEG = "image/jpeg"
PNG = "image/png"
HEIC = "image/heic"
HEIF = "image/heif"
PDF = "application/pdf"
MP4 = "video/mp4"
MOV = "video/quicktime"
M4A = "audio/mp4"
AAC = "audio/aac"
MP3 = "audio/mpeg"
WAV = "audio/wav"
OGG = "audio/ogg"
OGG_VIDEO = "video/ogg"
WEBM = "video/webm"

_IMAGES = frozenset({JPEG, PNG, HEIC, HEIF})
# An MP4, WebM or Ogg container may hold sound alone; only its tracks would tell, so both kinds take them.
ALLOWED: dict[Kind, frozenset[str]] = {
    Kind.PHOTO: _IMAGES,
    Kind.AUDIO: frozenset({M4A, AAC, MP3, WAV, OGG, WEBM, MP4}),
    Kind.VIDEO: frozenset({MP4, MOV, WEBM, OGG, OGG_VIDEO}),
    Kind.DOCUMENT: frozenset({PDF}) | _IMAGES,
}

_PICTURES, _SOUND = ParticipationDecision.PHOTOS, ParticipationDecision.AUDIO_RECORDING
_MOVING = ParticipationDecision.VIDEO_RECORDING
CONTENT_DECISION: dict[str, ParticipationDecision] = {
    JPEG: _PICTURES, PNG: _PICTURES, HEIC: _PICTURES, HEIF: _PICTURES,
    M4A: _SOUND, AAC: _SOUND, MP3: _SOUND, WAV: _SOUND, OGG: _SOUND,
    MP4: _MOVING, MOV: _MOVING, WEBM: _MOVING, OGG_VIDEO: _MOVING,
    PDF: ParticipationDecision.STORAGE,
}  # fmt: skip
"""The decision a file needs for what it is, besides the one its declared kind needs."""

_OGG_SOUND = (b"OpusHead", b"\x01vorbis", b"Speex   ", b"\x7fFLAC")

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"M4V ", b"MSNV",
    b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"f4v ", b"mmp4",
}  # fmt: skip
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _iso_bmff(head: bytes) -> str | None:
    """An ISO base media file (MP4, MOV, M4A, HEIC) by its ftyp box: major brand, then compatible brands."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return MOV if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS else None
    box = min(int.from_bytes(head[:4], "big"), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, box - 3, 4)]
    for brand_set, media in ((_HEIC_BRANDS, HEIC), (_HEIF_BRANDS, HEIF), (_M4A_BRANDS, M4A)):
        if brands[0] in brand_set:
            return media
    if brands[0] == b"qt  ":
        return MOV
    if any(b in _MP4_BRANDS for b in brands):
        return MP4
    return None


def _mpeg_audio(head: bytes) -> str | None:
    """MP3 (an ID3 tag, or an MPEG audio layer III frame) or AAC in ADTS frames."""
    if head.startswith(b"ID3") and len(head) >= 10:
        return MP3
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0b11
    if head[1] & 0xF6 == 0xF0:  # 12-bit sync, layer 00: ADTS
        return AAC
    if layer == 0b01 and head[2] >> 4 not in (0, 0xF) and (head[2] >> 2) & 0b11 != 0b11:
        return MP3  # layer III, a real bitrate and sample rate
    return None


def _ebml(head: bytes) -> str | None:
    """WebM: an EBML header whose DocType is "webm" (Matroska in general is not taken)."""
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    at = head.find(b"\x42\x82")  # the DocType element
    if at == -1 or at + 3 > len(head):
        return None
    size = head[at + 2] & 0x7F if head[at + 2] & 0x80 else 0
    return WEBM if head[at + 3 : at + 3 + size] == b"webm" else None


def _ogg(head: bytes) -> str:
    """Sound when the first packet names a sound codec (Opus, Vorbis, Speex, FLAC); anything else (Theora,
    or a packet cut short) may hold pictures."""
    if len(head) > 26:
        packet = head[27 + head[26] :]
        if packet.startswith(_OGG_SOUND):
            return OGG
    return OGG_VIDEO


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes (SNIFF_BYTES of them, or the whole file when
    shorter), or None when it is none of the types we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"OggS\x00"):
        return _ogg(head)
    return _iso_bmff(head) or _ebml(head) or _mpeg_audio(head)


def check_type(kind: Kind, head: bytes, agreed: frozenset[ParticipationDecision]) -> str:
    """The sniffed media type when the declared kind allows it (415 otherwise: the message names the
    kind's allowed types, never anything read from the file) and the person agreed to what it is
    (``agreed``, the decisions their latest participation consent agrees to; 403 otherwise)."""
    return check_media(kind, sniff(head), agreed)


def check_media(kind: Kind, media: str | None, agreed: frozenset[ParticipationDecision]) -> str:
    """As check_type, for a media type already told (by sniff(), or by the scanner from the whole file)."""
    if media is None or media not in ALLOWED[kind]:
        raise UnsupportedMediaType(
            "a %(attachment_kind)s attachment must be one of: %(media_types)s",
            fields=["file"],
            params={"attachment_kind": kind.value, "media_types": sorted(ALLOWED[kind])},
        )
    needed = CONTENT_DECISION[media]
    if needed not in agreed:
        raise Forbidden(
            "a file of type %(media_type)s needs the person's latest participation consent to agree to "
            "%(decision)s, whatever kind it is declared as; record consent that does first",
            fields=["file"],
            params={"media_type": media, "decision": needed.value},
            code="consent_required",
            decision=needed.value,
        )
    return media
