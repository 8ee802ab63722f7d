"""Hand-made ZIP files in the bundle writer's exact format (stream-zip, ZIP64, data descriptors), each part of
which a test can change: the hostile ZIPs the verifier must refuse.

``members(path)`` takes a real bundle apart into its entries as they were written (the deflated bytes kept);
``assemble(members)`` puts entries together again, byte for byte as the writer does, so a test changes one
thing and nothing else.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sBBBBHHHHIIIHHHHHII")
DESCRIPTOR = struct.Struct("<4sIQQ")
FLAGS = 0x0808
DEFLATED = 8
TIME, DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00:00, the writer's fixed time
FILE_ATTR = (0o100644) << 16


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS, level=6)
    return compressor.compress(data) + compressor.flush()


@dataclass(frozen=True)
class Member:
    """One entry as it lies in the file. ``tail``: bytes after the deflate stream, counted in the central
    directory's compressed size; ``listed``: whether the central directory names it; the ``local_*`` and
    ``descriptor`` fields, when set, replace what the local header or data descriptor would say."""

    name: str
    deflated: bytes
    crc: int
    size: int
    tail: bytes = b""
    before: bytes = b""
    listed: bool = True
    local_name: str | None = None
    local_flags: int | None = None
    flags: int = FLAGS
    method: int = DEFLATED
    descriptor: bytes | None = None

    @classmethod
    def of(cls, name: str, data: bytes) -> Member:
        return cls(name, deflate(data), zlib.crc32(data), len(data))

    @property
    def compressed(self) -> int:
        return len(self.deflated) + len(self.tail)


def members(path: Path) -> list[Member]:
    """A bundle's entries, in file order, with the deflated bytes the writer wrote."""
    raw = path.read_bytes()
    out = []
    with zipfile.ZipFile(path) as z:
        for info in sorted(z.infolist(), key=lambda i: i.header_offset):
            name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
            start = info.header_offset + 30 + name_length + extra_length
            out.append(Member(info.filename, raw[start : start + info.compress_size], info.CRC, info.file_size))
    return out


def local_entry(m: Member) -> bytes:
    """One entry's bytes: local header, name, ZIP64 extra, data, data descriptor."""
    name = (m.local_name if m.local_name is not None else m.name).encode()
    extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0)
    flags = m.local_flags if m.local_flags is not None else m.flags
    header = LOCAL.pack(b"PK\x03\x04", 45, flags, m.method, TIME, DATE, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
    descriptor = (
        m.descriptor if m.descriptor is not None else DESCRIPTOR.pack(b"PK\x07\x08", m.crc, m.compressed, m.size)
    )
    return header + name + extra + m.deflated + m.tail + descriptor


def assemble(entries: list[Member], *, after: bytes = b"") -> bytes:
    """The ZIP of these entries, then its central directory and ZIP64 end records, as stream-zip writes them."""
    body, central = bytearray(), bytearray()
    count = 0
    for m in entries:
        body += m.before
        offset = len(body)
        body += local_entry(m)
        if not m.listed:
            continue
        count += 1
        name = m.name.encode()
        extra = struct.pack("<HHQQQ", 0x0001, 24, m.size, m.compressed, offset)
        central += CENTRAL.pack(
            b"PK\x01\x02", 45, 3, 45, 0, m.flags, m.method, TIME, DATE, m.crc, 0xFFFFFFFF, 0xFFFFFFFF,
            len(name), len(extra), 0, 0, 0, FILE_ATTR, 0xFFFFFFFF,
        ) + name + extra  # fmt: skip
    start = len(body)
    end64 = start + len(central)
    tail = (
        b"PK\x06\x06"
        + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, count, count, len(central), start)
        + b"PK\x06\x07"
        + struct.pack("<IQI", 0, end64, 1)
        + b"PK\x05\x06"
        + struct.pack("<HHHHIIH", 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    )
    return bytes(body + central + tail + after)


def changed(entries: list[Member], name: str, **changes: object) -> list[Member]:
    """The entries with the one named changed."""
    return [replace(m, **changes) if m.name == name else m for m in entries]  # type: ignore[arg-type]
