"""Real files carrying the metadata a phone or a camera leaves (GPS, author, device), made at test time.

Pictures and PDFs are drawn by Debian's GdkPixbuf and cairo (mat2's own dependencies, run with the system
Python that mat2 runs on) and tagged by exiftool; MP3 and Ogg Opus are built byte by byte (exiftool does not
write their tags).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support import media

SYSTEM_PYTHON = "/usr/bin/python3"
EXIFTOOL = "/usr/bin/exiftool"

AUTHOR = "Jane Roe"
DEVICE = "Pixel 7"
PLACE = "48.8566,2.3522"

_DRAW = """
import sys
import gi
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf
import cairo
kind, path = sys.argv[1], sys.argv[2]
if kind == "jpeg":
    picture = GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, False, 8, 32, 32)
    picture.fill(0x336699FF)
    picture.savev(path, "jpeg", [], [])
elif kind == "png":
    surface = cairo.ImageSurface(cairo.FORMAT_RGB24, 32, 32)
    context = cairo.Context(surface)
    context.set_source_rgb(0.8, 0.1, 0.1)
    context.paint()
    surface.write_to_png(path)
else:
    surface = cairo.PDFSurface(path, 200, 200)
    context = cairo.Context(surface)
    context.move_to(20, 100)
    context.show_text("exhibit")
    surface.show_page()
    surface.finish()
"""

_TAGS = [
    f"-Artist={AUTHOR}",
    f"-Author={AUTHOR}",
    f"-Creator={AUTHOR}",
    "-Make=Google",
    f"-Model={DEVICE}",
    "-Software=Camera 9.1",
    "-GPSLatitude=48.8566",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.3522",
    "-GPSLongitudeRef=E",
]


def drawn(kind: str, directory: Path) -> bytes:
    """A JPEG, PNG or PDF ("jpeg", "png", "pdf") with EXIF/XMP GPS, author and device tags."""
    path = directory / f"tagged.{kind}"
    subprocess.run([SYSTEM_PYTHON, "-c", _DRAW, kind, str(path)], check=True, timeout=60)
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", *_TAGS, str(path)], check=True, timeout=60)
    data = path.read_bytes()
    path.unlink()
    return data


def _text_frame(frame_id: bytes, text: str) -> bytes:
    body = b"\x03" + text.encode()
    return frame_id + media._syncsafe(len(body)) + b"\x00\x00" + body


def mp3() -> bytes:
    """An MP3 whose ID3v2.4 tag names the artist, the recording device and where it was made."""
    frames = (
        _text_frame(b"TPE1", AUTHOR)
        + _text_frame(b"TSSE", f"{DEVICE} Recorder")
        + _text_frame(b"TXXX", f"location\x00{PLACE}")
    )
    return media.id3(frames=frames) + media.mp3_frames(20)


def ogg() -> bytes:
    """An Ogg Opus file whose comments name the artist, the device and the place."""
    vendor = b"libopus 1.3.1"
    comments = [f"ARTIST={AUTHOR}", f"LOCATION={PLACE}", f"ENCODER={DEVICE}"]
    tags = b"OpusTags" + len(vendor).to_bytes(4, "little") + vendor + len(comments).to_bytes(4, "little")
    for comment in comments:
        tags += len(comment.encode()).to_bytes(4, "little") + comment.encode()
    head, *rest = media.ogg_stream(media.OPUS_HEAD, serial=1, packets=5)
    return head + media.ogg_page(tags, serial=1, sequence=1) + b"".join(rest)
