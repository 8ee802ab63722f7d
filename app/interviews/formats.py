"""The structures the scanner walks, one parser per type: generators that ask for bytes and return the
media type at the end of the file (None: refused). See scanner.py for what each one checks and why.

A parser yields a ``Request``: n > 0 for exactly n bytes (fewer only at the end of the file, then it gets
what there was); n <= 0 to skip -n bytes (it gets whether they were all there); ``REST`` to pass over
everything to the end with nothing more to check. It never asks for more than ``MAX_NEED`` bytes at once,
so the scanner's memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from app.interviews import filetypes as ft

REST = None
"""A parser's request to pass over everything to the end of the file, with nothing more to check."""

Request = int | None
Parser = Generator[Request, bytes | bool, str | None]

MAX_NEED = 1024


def first_bytes_only(media: str) -> Parser:
    """For the types read from their first bytes only."""
    yield REST
    return media


def _skip(n: int) -> Generator[Request, bytes | bool, bool]:
    """Skip n bytes; whether they were all there."""
    if n == 0:
        return True
    got = yield -n
    return got is True


def _need(n: int) -> Generator[Request, bytes | bool, bytes]:
    """Exactly n bytes, or fewer at the end of the file."""
    if n == 0:
        return b""
    got = yield n
    return got if isinstance(got, bytes) else b""


# MP3 and AAC --------------------------------------------------------------------------------------------

_MP3_KBPS = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2
    0: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2.5
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _id3_size(header: bytes) -> int | None:
    """The bytes after an ID3v2 tag's 10-byte header: its syncsafe size, plus 10 with the footer flag."""
    version, revision, flags, size = header[3], header[4], header[5], header[6:10]
    undefined = {2: 0x3F, 3: 0x1F, 4: 0x0F}.get(version)  # flags no version defines must be clear
    if undefined is None or revision == 0xFF or flags & undefined or any(b & 0x80 for b in size):
        return None
    body = (size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3]
    return body + (10 if version == 4 and flags & 0x10 else 0)


def _frame(header: bytes) -> tuple[int, tuple[object, ...]] | None:
    """An MPEG audio layer III or ADTS frame header: its frame's length and what must stay the same from
    frame to frame (the family)."""
    b0, b1, b2, b3 = header[0], header[1], header[2], header[3]
    if b0 != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    if b1 & 0xF6 == 0xF0:  # ADTS: 12-bit sync, layer 00
        if len(header) < 6:
            return None
        rate = (b2 >> 2) & 0xF
        length = ((b3 & 0x3) << 11) | (header[4] << 3) | (header[5] >> 5)
        if rate > 12 or length < (7 if b1 & 1 else 9):
            return None
        return length, ("aac", (b1 >> 3) & 1, rate)
    version, layer, bitrate, rate = (b1 >> 3) & 0b11, (b1 >> 1) & 0b11, b2 >> 4, (b2 >> 2) & 0b11
    if version == 1 or layer != 0b01 or bitrate in (0, 0xF) or rate == 3:
        return None
    kbps, hz, padding = _MP3_KBPS[version][bitrate], _MP3_RATES[version][rate], (b2 >> 1) & 1
    length = (144 if version == 3 else 72) * kbps * 1000 // hz + padding
    return length, ("mp3", version, rate)


def _mpeg_audio(media: str) -> Parser:
    family: tuple[object, ...] | None = None
    while True:
        start = yield from _need(6)
        if not start and family is not None:
            return ft.AAC if family[0] == "aac" else ft.MP3
        if len(start) < 6:
            return None  # no frame at all, or bytes too few to be one
        if start.startswith(b"ID3"):
            rest = yield from _need(4)
            size = _id3_size(start + rest) if len(rest) == 4 else None
            if size is None or not (yield from _skip(size)):
                return None
            continue
        if start.startswith(b"TAG") and family is not None:  # ID3v1: 128 bytes, the last in the file
            rest = yield from _need(122)
            after = yield from _need(1)
            return ft.MP3 if len(rest) == 122 and not after and family[0] == "mp3" else None
        found = _frame(start)
        if found is None:
            return None
        length, this = found
        if family is not None and this != family:
            return None
        family = this
        if length < 6 or not (yield from _skip(length - 6)):
            return None


# Ogg ----------------------------------------------------------------------------------------------------

_OGG_SOUND = (b"OpusHead", b"\x01vorbis", b"Speex   ", b"\x7fFLAC")


def _ogg(media: str) -> Parser:
    video = False
    pages = 0
    while True:
        header = yield from _need(27)
        if not header:
            return (ft.OGG_VIDEO if video else ft.OGG) if pages else None
        if len(header) < 27 or not header.startswith(b"OggS\x00") or header[5] & 0xF8:
            return None
        bos = bool(header[5] & 0x02)
        if pages == 0 and not bos:
            return None
        table = yield from _need(header[26])
        if len(table) < header[26]:
            return None
        body = sum(table)
        first = b""
        if bos:  # a logical stream begins: its first packet names the codec
            first = yield from _need(min(body, 8))
            if len(first) < min(body, 8):
                return None
            if not first.startswith(_OGG_SOUND):
                video = True
        if not (yield from _skip(body - len(first))):
            return None
        pages += 1


# WAV ----------------------------------------------------------------------------------------------------


def _wav(media: str) -> Parser:
    """RIFF: the WAVE form's declared size is the file's, and its chunks (each padded to an even length)
    fill it exactly; a fmt and a data chunk among them."""
    header = yield from _need(12)
    if len(header) < 12:
        return None
    end = 8 + int.from_bytes(header[4:8], "little")
    position = 12
    seen: set[bytes] = set()
    while position < end:
        chunk = yield from _need(8)
        if len(chunk) < 8:
            return None
        size = int.from_bytes(chunk[4:8], "little")
        position += 8 + size + (size & 1)
        if position > end or not (yield from _skip(size + (size & 1))):
            return None
        seen.add(chunk[:4])
    after = yield from _need(1)
    return media if not after and position == end and {b"fmt ", b"data"} <= seen else None


# ISO base media ---------------------------------------------------------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"udta", b"meta"}
_VISUAL = {b"vide", b"pict", b"auxv"}
_SOUND_TRACKS = {b"soun", b"text", b"sbtl", b"subt", b"tmcd", b"hint", b"clcp"}
_MAX_DEPTH = 8


def _iso(media: str) -> Parser:
    position = 0
    inside: list[tuple[bytes, int]] = []  # (type, end) of the boxes being walked through
    carry = b""  # bytes already read at ``position`` (a QuickTime meta's first child)
    tracks = handlers = 0
    visual = False
    while True:
        while inside and position == inside[-1][1]:
            inside.pop()
        if inside and inside[-1][0] == b"udta" and inside[-1][1] - position == 4:
            # QuickTime may end a user data list with a 32-bit zero
            if (yield from _need(4)) != bytes(4):
                return None
            position += 4
            continue
        if inside and inside[-1][1] - position < 8:
            return None  # a parent with room left for no whole child
        got = yield from _need(8 - len(carry))
        header, carry = carry + got, b""
        if not got and not inside:
            break
        if len(header) < 8:
            return None
        size, kind, used = int.from_bytes(header[:4], "big"), header[4:8], 8
        if size == 1:
            large = yield from _need(8)
            if len(large) < 8:
                return None
            size, used = int.from_bytes(large, "big"), 16
        elif size == 0:  # the last box, to the end of the file
            if inside or kind in _CONTAINERS:
                return None
            yield REST
            break
        end = position + size
        if size < used or (inside and end > inside[-1][1]):
            return None
        position += used
        if kind in _CONTAINERS:
            if len(inside) >= _MAX_DEPTH:
                return None
            inside.append((kind, end))
            tracks += kind == b"trak"
            if kind == b"meta":  # ISO: a full box (4 bytes of version and flags); QuickTime: a plain container
                if end - position < 4:
                    return None
                peek = yield from _need(4)
                if len(peek) < 4:
                    return None
                if peek == bytes(4):
                    position += 4
                else:
                    carry = peek
            continue
        if kind == b"hdlr":
            if end - position < 12:
                return None
            body = yield from _need(12)
            if len(body) < 12:
                return None
            position += 12
            handler = body[8:12]
            visual = visual or handler in _VISUAL
            if len(inside) >= 2 and inside[-1][0] == b"mdia" and inside[-2][0] == b"trak":
                handlers += 1
                visual = visual or handler not in _SOUND_TRACKS
        if not (yield from _skip(end - position)):
            return None
        position = end
    if media == ft.M4A and (visual or tracks == 0 or handlers != tracks):
        return ft.MP4  # not plainly sound: it may hold pictures
    return media


PARSERS: dict[str, Callable[[str], Parser]] = {
    ft.MP3: _mpeg_audio,
    ft.AAC: _mpeg_audio,
    ft.OGG: _ogg,
    ft.OGG_VIDEO: _ogg,
    ft.MP4: _iso,
    ft.M4A: _iso,
    ft.MOV: _iso,
    ft.HEIC: _iso,
    ft.HEIF: _iso,
    ft.WAV: _wav,
}
