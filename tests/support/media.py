"""Minimal real media files built byte by byte: ID3 tags and MPEG audio frames, ADTS frames, Ogg pages
with their CRC, ISO base media boxes; and a small JPEG to hide in them."""

from __future__ import annotations

import os

# MP3 and AAC ----------------------------------------------------------------------------------------------

MP3_HEADER = b"\xff\xfb\x90\x00"
"""MPEG-1 layer III, no CRC, 128 kbit/s, 44.1 kHz, no padding: a frame of 144 * 128000 // 44100 bytes."""
MP3_FRAME_BYTES = 417


def mp3_frames(count: int) -> bytes:
    """``count`` layer III frames, each its header and then (random) audio data."""
    return b"".join(MP3_HEADER + os.urandom(MP3_FRAME_BYTES - 4) for _ in range(count))


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def id3(padding: int = 200, *, footer: bool = False, frames: bytes | None = None) -> bytes:
    """An ID3v2.4 tag: a title frame (or ``frames``), then zero padding; with ``footer``, the footer
    flag set and the 10-byte footer ("3DI") after the tag."""
    if frames is None:
        title = b"\x03Recording 1"
        frames = b"TIT2" + _syncsafe(len(title)) + b"\x00\x00" + title
    body = frames + bytes(padding)
    flags = 0x10 if footer else 0x00
    tag = b"ID3\x04\x00" + bytes([flags]) + _syncsafe(len(body)) + body
    if footer:
        tag += b"3DI\x04\x00" + bytes([flags]) + _syncsafe(len(body))
    return tag


def mp3(frames: int = 20, *, tag: bool = True) -> bytes:
    """An MP3: an ID3v2 tag (unless not ``tag``), then ``frames`` frames."""
    return (id3() if tag else b"") + mp3_frames(frames)


def adts_frames(count: int, payload: int = 200) -> bytes:
    """``count`` AAC frames in ADTS, each a 7-byte header (LC, 44.1 kHz, stereo) and ``payload`` bytes."""
    length = 7 + payload
    header = bytes([0xFF, 0xF1, 0x50, 0x80 | (length >> 11), (length >> 3) & 0xFF, ((length & 0x7) << 5) | 0x1F, 0xFC])
    return b"".join(header + os.urandom(payload) for _ in range(count))


def wav(samples: int = 4000) -> bytes:
    """A WAV file: 16-bit mono PCM at 8 kHz, ``samples`` samples of noise, and a LIST chunk."""
    fmt = b"fmt " + (16).to_bytes(4, "little") + b"\x01\x00\x01\x00" + (8000).to_bytes(4, "little")
    fmt += (16000).to_bytes(4, "little") + b"\x02\x00\x10\x00"
    data = b"data" + (2 * samples).to_bytes(4, "little") + os.urandom(2 * samples)
    info = b"LIST" + (13).to_bytes(4, "little") + b"INFOISFT\x01\x00\x00\x00x" + b"\x00"  # odd: a pad byte
    body = b"WAVE" + fmt + data + info
    return b"RIFF" + len(body).to_bytes(4, "little") + body


# Ogg ------------------------------------------------------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04c11db7, initial 0, not reflected."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def ogg_page(packet: bytes, *, serial: int, sequence: int, bos: bool = False, eos: bool = False) -> bytes:
    """One Ogg page holding one whole packet (under 255 * 255 bytes), its CRC set."""
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    flags = (0x02 if bos else 0) | (0x04 if eos else 0)
    header = (
        b"OggS\x00"
        + bytes([flags])
        + sequence.to_bytes(8, "little")  # granule position: any increasing number will do here
        + serial.to_bytes(4, "little")
        + sequence.to_bytes(4, "little")
        + bytes(4)
        + bytes([len(lacing)])
        + bytes(lacing)
    )
    crc = ogg_crc(header + packet)
    return header[:22] + crc.to_bytes(4, "little") + header[26:] + packet


OPUS_HEAD = b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
OPUS_TAGS = b"OpusTags\x05\x00\x00\x00tests\x00\x00\x00\x00"
THEORA_HEAD = b"\x80theora\x03\x02\x01\x00\x14\x00\x0f" + bytes(28)


def ogg_stream(first: bytes, *, serial: int, packets: int = 5, start: int = 0) -> list[bytes]:
    """The pages of one logical stream: its BOS page with ``first``, then ``packets`` data pages."""
    pages = [ogg_page(first, serial=serial, sequence=start, bos=True)]
    for i in range(1, packets + 1):
        pages.append(ogg_page(os.urandom(300), serial=serial, sequence=start + i, eos=i == packets))
    return pages


def ogg_opus(packets: int = 5) -> bytes:
    """An Ogg Opus file: the identification page, the comment page, then audio pages."""
    head, *rest = ogg_stream(OPUS_HEAD, serial=1, packets=packets)
    return head + ogg_page(OPUS_TAGS, serial=1, sequence=100) + b"".join(rest)


# ISO base media -------------------------------------------------------------------------------------------


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", major + b"\x00\x00\x02\x00" + b"".join(compatible))


def hdlr(handler: bytes) -> bytes:
    """A handler box: version and flags, pre_defined, the handler type, reserved, an empty name."""
    return box(b"hdlr", bytes(8) + handler + bytes(12) + b"\x00")


def trak(handler: bytes) -> bytes:
    media = box(b"mdia", box(b"mdhd", bytes(24)) + hdlr(handler) + box(b"minf", box(b"smhd", bytes(8))))
    return box(b"trak", box(b"tkhd", bytes(84)) + media)


def moov(*handlers: bytes, metadata: bool = True) -> bytes:
    """A movie box with one track per handler, and (with ``metadata``) iTunes-style metadata, whose
    own 'mdir' handler is no track."""
    udta = box(b"udta", box(b"meta", bytes(4) + hdlr(b"mdir") + box(b"ilst"))) if metadata else b""
    return box(b"moov", box(b"mvhd", bytes(100)) + b"".join(trak(h) for h in handlers) + udta)


def m4a(*handlers: bytes, media: bytes = b"", brand: bytes = b"M4A ") -> bytes:
    """An M4A (or, with ``brand``, another ISO file): ftyp, moov with the handlers' tracks, mdat."""
    compatible = (brand, b"mp42", b"isom")
    return ftyp(brand, *compatible) + moov(*(handlers or (b"soun",))) + box(b"mdat", media or os.urandom(2000))


def m4a_head(*handlers: bytes) -> bytes:
    """The start of an M4A whose media data runs to the end of the file (an mdat box of size 0): any
    bytes may follow."""
    return ftyp(b"M4A ", b"M4A ", b"mp42", b"isom") + moov(*(handlers or (b"soun",))) + b"\x00\x00\x00\x00mdat"


# A picture to hide ----------------------------------------------------------------------------------------

JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xdb\x00\x43\x00"
    + bytes(range(1, 65))
    + b"\xff\xd9"
)
"""The start and end of a JPEG (markers only): what a sniffer would call image/jpeg."""
