"""Reading an uploaded file from a request body as it arrives, never holding it whole or spooling it.

Two shapes are accepted:

- a raw body: the bytes of the file, its name in ``Content-Disposition: attachment; filename*=UTF-8''...``
  (RFC 6266 and 8187) or ``filename="..."``, and each form field ``F`` in a header ``Attachment-F``;
- ``multipart/form-data`` as a plain HTML form sends it: text fields first, then the file part
  (the form puts its file input last), parsed by python-multipart's low-level streaming parser.

A form may also lead with one field taken out before it is read (``take_leading_field``): the CSRF
token a plain HTML form sends in place of a header (app/access/deps.py).

Either way the caller gets the text fields and the file's name before any byte of the file, then
the file's bytes as an async iterator. The file is counted as it arrives and refused with 413 the
moment it passes ``max_bytes``; a transfer that sends nothing for ``idle_seconds`` is cut off
(408); a body that ends before the file does is 400. Nothing here writes anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser
from starlette.requests import ClientDisconnect

from app.core.errors import (
    PayloadTooLarge,
    UnsupportedMediaType,
    UploadCut,
    UploadStalled,
    ValidationFailed,
)

FIELD_HEADER_PREFIX = "attachment-"
MAX_FIELDS = 16
MAX_FIELD_BYTES = 1024
MAX_FILE_NAME_BYTES = 255
MAX_BOUNDARY = 70  # RFC 2046
MAX_LEADING_PART = 4096
"""How far into a form its leading field is looked for: its delimiter, headers and value."""


@dataclass
class IncomingFile:
    fields: dict[str, str]
    """Text fields: those before the file (a form), or the Attachment-* headers (a raw body)."""
    file_name: str | None
    """Sanitised; None when none was given."""
    chunks: AsyncIterator[bytes]
    """The file's bytes as they arrive; raises 413, 408 or 400 (and 422 for a form broken after the file)."""
    declared_length: int | None = None
    """A raw body's Content-Length; None for a form or a chunked body."""
    received: list[int] = field(default_factory=lambda: [0])
    """Bytes of the file handed out so far (one cell, so the iterator can update it)."""


# File names -----------------------------------------------------------------------------------------------

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)(\..*)?", re.IGNORECASE)
_ENCODED_TRICK = re.compile(r"%(2f|5c|00|2e%2e)", re.IGNORECASE)
NAME_REFUSED = "the file name must be a plain name: no folders, control or direction characters, or device names"


def sanitise_file_name(name: str) -> str:
    """A file name fit to keep and to offer back on download, or 422 naming ``file_name``.

    Path tricks are refused rather than repaired: separators, ``.`` and ``..``, drive letters and
    streams (``:``), percent-encoded separators, Windows device names, and trailing dots or spaces
    (which Windows drops). So are control characters and the direction marks that disguise an
    extension (``photo<U+202E>gpj.exe``). The name is NFC-normalised and trimmed; blobs are never
    stored under it. The message never repeats the name.
    """
    name = unicodedata.normalize("NFC", name).strip()
    refused = (
        not name
        or any(c in "/\\:" or c in _BIDI or unicodedata.category(c) in ("Cc", "Cs", "Co", "Zl", "Zp") for c in name)
        or len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES
        or name in (".", "..")
        or name.endswith((".", " "))
        or _RESERVED.fullmatch(name) is not None
        or _ENCODED_TRICK.search(name) is not None
    )
    if refused:
        raise ValidationFailed(NAME_REFUSED, fields=["file_name"])
    return name


def _split_params(value: str) -> tuple[str, dict[str, str]]:
    """``type; a=b; c="d"`` -> (type, {a: b, c: d}); names lower-cased, quoted strings unescaped."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for c in value:
        if escaped:
            current.append(c)
            escaped = False
        elif quoted and c == "\\":
            current.append(c)
            escaped = True
        elif c == '"':
            quoted = not quoted
            current.append(c)
        elif c == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    if quoted:
        raise ValueError("an unterminated quoted string")
    parts.append("".join(current))
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, val = part.strip().partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        if key in params:
            raise ValueError("a repeated parameter")
        params[key] = val
    return parts[0].strip().lower(), params


def _name_from_params(params: Mapping[str, str], *, extended: bool) -> str | None:
    """The file name from Content-Disposition parameters (``filename*`` first, where allowed)."""
    if extended and "filename*" in params:
        charset, _, rest = params["filename*"].partition("'")
        _lang, _, encoded = rest.partition("'")
        if charset.lower() != "utf-8":
            raise ValidationFailed("a file name must be sent as UTF-8", fields=["file_name"])
        try:
            return unquote_to_bytes(encoded).decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed(NAME_REFUSED, fields=["file_name"]) from None
    return params.get("filename")


# Reading the body -----------------------------------------------------------------------------------------


async def next_chunk(body: AsyncIterator[bytes], idle_seconds: float) -> bytes | None:
    """The next chunk, None at the end; 408 after idle_seconds without one, 400 when the client left."""
    try:
        with anyio.fail_after(idle_seconds):
            return await anext(body)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        raise UploadStalled("nothing arrived for too long; resume the upload") from None
    except ClientDisconnect:
        raise UploadCut("the connection ended before the file did; nothing of this request was kept") from None


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        "the file is larger than the %(n)s bytes allowed; nothing was kept",
        fields=["file"],
        params={"n": str(max_bytes)},
    )


def _field_value(raw: bytes, name: str) -> str:
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("a form field is not UTF-8 text", fields=[name]) from None
    if "\x00" in value:
        raise ValidationFailed("a form field holds a NUL character", fields=[name])
    return value


async def read_upload(
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    *,
    field_names: Collection[str],
    max_bytes: int,
    idle_seconds: float,
    file_field: str = "file",
) -> IncomingFile:
    """Read a raw or multipart upload up to the start of the file; see the module's docstring.

    ``field_names`` are the text fields taken; any other is 422. ``headers`` are the request's
    (case-insensitive, as Starlette gives them).
    """
    content_type = headers.get("content-type", "")
    try:
        media, params = _split_params(content_type)
    except ValueError:
        raise ValidationFailed("the Content-Type header is malformed", fields=["content-type"]) from None
    if media == "multipart/form-data":
        return await _Multipart(params, field_names, max_bytes, idle_seconds, file_field).start(body)
    if media == "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send a form with a file as multipart/form-data", fields=["content-type"])
    return _raw(headers, body, field_names, max_bytes, idle_seconds)


async def take_leading_field(
    headers: Mapping[str, str], body: AsyncIterator[bytes], name: str, *, idle_seconds: float
) -> tuple[str | None, AsyncIterator[bytes]]:
    """The value of a form's first part when that part is the text field ``name``, and the body with that
    part taken out; otherwise None and the body as it was. Reads no further than the end of that part
    (and the chunk it ends in, and at most MAX_LEADING_PART bytes), so the file behind it is not read.

    Only the shape a browser sends is recognised: no preamble, ``Content-Disposition: form-data;
    name="..."`` and no file name. A field anywhere else is not this field, and read_upload refuses it.
    """
    try:
        media, params = _split_params(headers.get("content-type", ""))
    except ValueError:
        return None, body
    boundary = params.get("boundary", "")
    if media != "multipart/form-data" or not 1 <= len(boundary) <= MAX_BOUNDARY or not boundary.isascii():
        return None, body
    delimiter = b"--" + boundary.encode("ascii")
    held = bytearray()
    while True:
        found = _leading_part(bytes(held), delimiter, name)
        if found is not _MORE or len(held) > MAX_LEADING_PART:
            break
        chunk = await next_chunk(body, idle_seconds)
        if chunk is None:
            break
        held.extend(chunk)
    if isinstance(found, tuple):
        value, end = found
        return value, _replay(bytes(held[end:]), body)
    return None, _replay(bytes(held), body)


_MORE = object()
"""_leading_part's answer when it needs more of the body to decide."""


def _leading_part(held: bytes, delimiter: bytes, name: str) -> tuple[str, int] | object | None:
    """(value, where the rest of the body begins) for a leading field ``name``; _MORE; or None."""
    opening = delimiter + b"\r\n"
    if len(held) < len(opening):
        return _MORE if opening.startswith(held) else None
    if not held.startswith(opening):
        return None
    headers_end = held.find(b"\r\n\r\n", len(opening))
    if headers_end < 0:
        return _MORE
    disposition = None
    for line in held[len(opening) : headers_end].split(b"\r\n"):
        header, sep, header_value = line.partition(b":")
        if not sep:
            return None
        if header.strip().lower() == b"content-disposition":
            disposition = header_value
    if disposition is None:
        return None
    try:
        kind, params = _split_params(disposition.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if kind != "form-data" or params.get("name") != name or "filename" in params or "filename*" in params:
        return None
    value_end = held.find(b"\r\n" + delimiter, headers_end + 4)
    if value_end < 0:
        return _MORE
    if value_end - (headers_end + 4) > MAX_FIELD_BYTES:
        return None
    try:
        value = held[headers_end + 4 : value_end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return value, value_end + 2  # the CRLF before a delimiter belongs to it: the rest begins at the delimiter


async def _replay(held: bytes, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """What was read ahead, then the rest of the body."""
    if held:
        yield held
    async for chunk in body:
        yield chunk


def _raw(
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    field_names: Collection[str],
    max_bytes: int,
    idle_seconds: float,
) -> IncomingFile:
    fields = {}
    for name in field_names:
        value = headers.get(f"{FIELD_HEADER_PREFIX}{name}")
        if value is not None:
            fields[name] = _field_value(value.encode("latin-1"), name)
    file_name = None
    disposition = headers.get("content-disposition")
    if disposition is not None:
        try:
            _kind, params = _split_params(disposition.encode("latin-1").decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed(NAME_REFUSED, fields=["file_name"]) from None
        found = _name_from_params(params, extended=True)
        file_name = sanitise_file_name(found) if found is not None else None
    declared = None
    if "content-length" in headers:
        try:
            declared = int(headers["content-length"])
        except ValueError:
            raise ValidationFailed("Content-Length is not a number", fields=["content-length"]) from None
        if declared > max_bytes:
            raise _too_large(max_bytes)
    incoming = IncomingFile(fields, file_name, _empty(), declared)
    incoming.chunks = _raw_chunks(body, incoming, max_bytes, idle_seconds)
    return incoming


async def _empty() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _raw_chunks(
    body: AsyncIterator[bytes], incoming: IncomingFile, max_bytes: int, idle_seconds: float
) -> AsyncIterator[bytes]:
    while (chunk := await next_chunk(body, idle_seconds)) is not None:
        if not chunk:
            continue
        incoming.received[0] += len(chunk)
        if incoming.received[0] > max_bytes:
            raise _too_large(max_bytes)
        yield chunk
    if incoming.declared_length is not None and incoming.received[0] != incoming.declared_length:
        raise UploadCut("the body ended before its declared length; nothing of this request was kept")


class _Multipart:
    """A streaming multipart/form-data reader over python-multipart's callback parser.

    The parser's callbacks only queue events; this class walks them in order after each write,
    so that nothing larger than one received chunk is ever held.
    """

    def __init__(
        self,
        params: Mapping[str, str],
        field_names: Collection[str],
        max_bytes: int,
        idle_seconds: float,
        file_field: str,
    ) -> None:
        boundary = params.get("boundary", "")
        if not 1 <= len(boundary) <= MAX_BOUNDARY or not boundary.isascii():
            raise ValidationFailed("the form has no usable boundary", fields=["content-type"])
        self.field_names = field_names
        self.max_bytes = max_bytes
        self.idle_seconds = idle_seconds
        self.file_field = file_field
        self.events: list[tuple[str, bytes]] = []
        self._header_field = bytearray()
        self._header_value = bytearray()
        self.parser = MultipartParser(
            boundary.encode("ascii"),
            callbacks={
                "on_part_begin": lambda: self.events.append(("begin", b"")),
                "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self.events.append(("headers", b"")),
                "on_part_data": lambda d, s, e: self.events.append(("data", bytes(d[s:e]))),
                "on_part_end": lambda: self.events.append(("end", b"")),
                "on_end": lambda: self.events.append(("done", b"")),
            },
        )
        self.part_headers: dict[str, bytes] = {}
        self.fields: dict[str, str] = {}
        self.body: AsyncIterator[bytes] | None = None
        self.ended = False

    def _header_end(self) -> None:
        # Queued like the rest: the part's headers are taken in order with its "begin".
        self.events.append(("header", bytes(self._header_field) + b"\x00" + bytes(self._header_value)))
        self._header_field.clear()
        self._header_value.clear()

    async def _events(self) -> AsyncIterator[tuple[str, bytes]]:
        """Every parser event, reading more of the body whenever the queue runs dry."""
        assert self.body is not None
        while True:
            while self.events:
                yield self.events.pop(0)
            if self.ended:
                return
            chunk = await next_chunk(self.body, self.idle_seconds)
            if chunk is None:
                raise UploadCut("the form ended before its closing boundary; nothing of this request was kept")
            try:
                self.parser.write(chunk)
            except MultipartParseError:
                raise ValidationFailed("the form is malformed", fields=["body"]) from None

    def _disposition(self) -> tuple[str, str | None]:
        raw = self.part_headers.get("content-disposition")
        if raw is None:
            raise ValidationFailed("a form part has no Content-Disposition", fields=["body"])
        try:
            kind, params = _split_params(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("a form part's Content-Disposition is malformed", fields=["body"]) from None
        if kind != "form-data" or "name" not in params:
            raise ValidationFailed("a form part is not a named form-data part", fields=["body"])
        # HTML's form encoding writes a quote, CR and LF in a name as %22, %0D and %0A (so the sanitiser
        # sees, and refuses, the line breaks); "filename*" is not allowed here.
        file_name = params.get("filename")
        if file_name is not None:
            file_name = file_name.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
        return params["name"], file_name

    async def start(self, body: AsyncIterator[bytes]) -> IncomingFile:
        self.body = body
        events = self._events()
        value = bytearray()
        current = ""
        async for kind, data in events:
            if kind == "begin":
                self.part_headers = {}
                value.clear()
            elif kind == "header":
                header, _, raw = data.partition(b"\x00")
                self.part_headers[header.decode("latin-1").strip().lower()] = raw
            elif kind == "headers":
                name, file_name = self._disposition()
                if name == self.file_field:
                    if file_name is None:
                        raise ValidationFailed("the file part carries no file", fields=["file"])
                    clean = sanitise_file_name(file_name) if file_name else None
                    incoming = IncomingFile(dict(self.fields), clean, _empty())
                    incoming.chunks = self._file_chunks(events, incoming)
                    return incoming
                if name not in self.field_names or name in self.fields or file_name is not None:
                    raise ValidationFailed("the form has a field this upload does not take", fields=["body"])
                if len(self.fields) >= MAX_FIELDS:
                    raise ValidationFailed("the form has too many fields", fields=["body"])
                current = name
            elif kind == "data":
                value.extend(data)
                if len(value) > MAX_FIELD_BYTES:
                    raise ValidationFailed("a form field is too long", fields=[current])
            elif kind == "end":
                self.fields[current] = _field_value(bytes(value), current)
            elif kind == "done":
                break
        raise ValidationFailed("the form carries no file", fields=["file"])

    async def _file_chunks(
        self, events: AsyncIterator[tuple[str, bytes]], incoming: IncomingFile
    ) -> AsyncIterator[bytes]:
        in_file = True
        async for kind, data in events:
            if kind == "data" and in_file:
                incoming.received[0] += len(data)
                if incoming.received[0] > self.max_bytes:
                    raise _too_large(self.max_bytes)
                if data:
                    yield data
            elif kind == "end" and in_file:
                in_file = False
            elif kind == "done":
                self.ended = True
                return
            else:
                raise ValidationFailed("the file must be the form's last part", fields=["body"])
        raise UploadCut("the form ended before its closing boundary; nothing of this request was kept")
