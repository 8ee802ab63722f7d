"""What a file is, read from the whole file as it streams past: the structure behind the first bytes.

sniff() names a type from the first 64 bytes; a file can hide what it is past them (an ID3 tag in front of
a JPEG, a Theora stream multiplexed into an Ogg file after an Opus one, a video track in an M4A). The
``Scanner`` is fed the file chunk by chunk and walks the structure its first bytes promise, to the last
byte:

- MP3 and AAC: ID3v2 tags (their syncsafe size, and the footer flag), then MPEG audio layer III or ADTS
  frames one after another, each where the last one's length says, to the end of the file; an ID3v1 tag
  (128 bytes) may end it, and ID3v2 tags may stand between frames (an appended tag). A tag followed by
  anything but a frame is refused, as is a file with no frame at all.
- WAV: the RIFF form's declared size is the file's, and its chunks fill it exactly (a fmt and a data
  chunk among them).
- Ogg: pages to the end (capture pattern, version 0, the segment table's lengths). Every
  beginning-of-stream page counts, wherever it is (multiplexed or chained streams): one whose codec is
  not Opus, Vorbis, Speex or FLAC makes the file video/ogg. Page CRCs are not checked.
- ISO base media (MP4, M4A, MOV, HEIC): boxes tiling the file and each parent exactly, down through moov,
  trak, mdia, udta and meta to the handler boxes. An M4A stays sound only when it has tracks and every
  track's handler is sound (or text, subtitles, timecode, hint) and no handler anywhere is visual
  ('vide', 'pict', 'auxv'); otherwise it is video/mp4, which needs the video decision.
- Other types (JPEG, PNG, PDF, WebM): the first bytes only.

A structure that does not hold (cut short, overrunning, bytes after its end) gives no media type: the
caller refuses it (415). The parsers are in formats.py. Memory is bounded: the scanner keeps at most a
few hundred bytes besides the chunk it is given, and never writes anything. It never raises on garbage.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.consent.vocabulary import ParticipationDecision
from app.core.errors import UnsupportedMediaType
from app.interviews import filetypes as ft
from app.interviews.formats import MAX_NEED, PARSERS, REST, Parser, Request, first_bytes_only

_REFUSED = MAX_NEED + 1


@dataclass(frozen=True)
class Verdict:
    """What a whole file is: ``sniffed`` from its first bytes; ``media`` from its whole structure, None
    when the first bytes name no type we take or the structure behind them does not hold."""

    sniffed: str | None
    media: str | None


def check_whole(kind: ft.Kind, verdict: Verdict, agreed: frozenset[ParticipationDecision]) -> str:
    """As filetypes.check_type, for the whole file: 415 when its structure does not hold as the type its
    first bytes name; then the kind and the consent for what the whole file turned out to be."""
    if verdict.sniffed is not None and verdict.media is None and verdict.sniffed in ft.ALLOWED[kind]:
        raise UnsupportedMediaType(
            "the file begins as %(media_type)s but is not a well-formed %(media_type)s file to its end",
            fields=["file"],
            params={"media_type": verdict.sniffed},
        )
    return ft.check_media(kind, verdict.media, agreed)


class Scanner:
    """Fed a file's bytes in order (``feed``), tells what the whole file is (``finish``)."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._sniffed: str | None = None
        self._parser: Parser | None = None
        self._want: Request = REST
        self._buffer = bytearray()
        self._done = False  # the parser gave its verdict (or gave up) before the end
        self._media: str | None = None

    def feed(self, data: bytes) -> None:
        if self._done or not data:
            return
        if self._parser is None:
            taken = ft.SNIFF_BYTES - len(self._head)
            self._head.extend(data[:taken])
            if len(self._head) < ft.SNIFF_BYTES:
                return
            self._start()
            self._pump(bytes(self._head))
            data = data[taken:]
        self._pump(data)

    def refusal(self) -> Verdict | None:
        """The verdict already, before the end, when the file is known not to hold together; else None."""
        return Verdict(self._sniffed, None) if self._done and self._media is None and self._parser else None

    def finish(self) -> Verdict:
        """The verdict on the whole file; call once, after the last byte."""
        if self._parser is None:
            self._start()
            self._pump(bytes(self._head))
        if not self._done:
            if self._want is REST:
                self._end(True)
            elif self._want <= 0:
                self._end(False)  # a skip the file ended before
            else:
                self._end(bytes(self._buffer))
        return Verdict(self._sniffed, self._media)

    def _start(self) -> None:
        self._sniffed = ft.sniff(bytes(self._head))
        parser = PARSERS.get(self._sniffed, first_bytes_only) if self._sniffed else None
        if parser is None:
            self._done = True
            return
        self._parser = parser(self._sniffed or "")
        self._step(None)

    def _pump(self, data: bytes) -> None:
        view = memoryview(data)
        at = 0
        while not self._done and self._want is not REST:
            want = self._want
            if want <= 0:
                take = min(-want, len(view) - at)
                at += take
                if take < -want:
                    self._want = want + take
                    return
                self._step(True)
            else:
                take = min(want - len(self._buffer), len(view) - at)
                self._buffer += view[at : at + take]
                at += take
                if len(self._buffer) < want:
                    return
                got = bytes(self._buffer)
                self._buffer.clear()
                self._step(got)

    def _step(self, value: bytes | bool | None) -> None:
        """Give the parser what it asked for (None: start it) and take its next request. A parser that
        stops before the end, or fails on what it reads, has refused the file: garbage is never a 500."""
        if self._parser is None:
            return
        try:
            want = next(self._parser) if value is None else self._parser.send(value)
        except Exception:  # StopIteration before the end too
            want = _REFUSED
        if want is not REST and want > MAX_NEED:
            self._done, self._media = True, None
            return
        self._want = want

    def _end(self, signal: bytes | bool) -> None:
        """The end of the file: the parser's answer to ``signal`` is its verdict."""
        self._done = True
        self._media = None  # unless it returns one: one that asks for more after the end could not decide
        if self._parser is None:
            return
        try:
            self._parser.send(signal)
        except StopIteration as stop:
            self._media = stop.value
        except Exception:  # a failure on what it read is a refusal
            self._media = None
