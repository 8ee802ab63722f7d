"""Reading uploads as they arrive: real multipart bodies made by httpx, fed in chunks of every size;
raw bodies with their headers; the limits; file names."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import httpx2 as httpx
import pytest

from app.core.errors import AppError, PayloadTooLarge, UnsupportedMediaType, UploadCut, UploadStalled, ValidationFailed
from app.core.uploads import IncomingFile, read_upload, sanitise_file_name, take_leading_field

T = TypeVar("T")
FIELDS = ("kind", "category")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _chunks(body: bytes, seed: int) -> AsyncIterator[bytes]:
    rng = random.Random(seed)
    at = 0
    while at < len(body):
        step = rng.choice([1, 2, 7, 64, 1000, 65536])
        yield body[at : at + step]
        at += step


def _form(files: Any, data: dict[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    request = httpx.Request("POST", "https://x.invalid/", data=data, files=files)
    return dict(request.headers), request.read()


async def _read_all(headers: dict[str, str], body: bytes, seed: int = 0, **limits: Any) -> tuple[IncomingFile, bytes]:
    incoming = await read_upload(
        headers,
        _chunks(body, seed),
        field_names=FIELDS,
        max_bytes=limits.get("max_bytes", 10**9),
        idle_seconds=limits.get("idle_seconds", 10),
    )
    content = b"".join([chunk async for chunk in incoming.chunks])
    return incoming, content


@pytest.mark.parametrize("seed", range(8))
def test_an_html_form_is_read_as_it_arrives(seed: int) -> None:
    data = os.urandom(200_000) + b"\r\n--boundary-looking\r\n" + os.urandom(1000)
    headers, body = _form({"file": ("Ճ photo.jpg", data, "image/jpeg")}, {"kind": "photo", "category": "photos_other"})
    incoming, content = run(_read_all(headers, body, seed))
    assert content == data
    assert incoming.fields == {"kind": "photo", "category": "photos_other"}
    assert incoming.file_name == "Ճ photo.jpg"
    assert incoming.received[0] == len(data)


def test_a_raw_body_with_its_headers() -> None:
    data = os.urandom(5000)
    headers = {
        "content-type": "application/octet-stream",
        "content-length": str(len(data)),
        "attachment-kind": "audio",
        "content-disposition": "attachment; filename*=UTF-8''%D5%B1%D5%A1%D5%B5%D5%B6.m4a",
    }
    incoming, content = run(_read_all(headers, data))
    assert content == data
    assert incoming.fields == {"kind": "audio"}
    assert incoming.file_name == "ձայն.m4a"


def test_a_raw_body_shorter_than_declared_is_cut() -> None:
    headers = {"content-type": "application/octet-stream", "content-length": "100"}
    with pytest.raises(UploadCut):
        run(_read_all(headers, b"x" * 99))


@pytest.mark.parametrize("shape", ["raw", "raw-declared", "form"])
def test_past_the_maximum_is_413_before_more_is_read(shape: str) -> None:
    data = os.urandom(1001)
    if shape == "form":
        headers, body = _form({"file": ("a.jpg", data, "image/jpeg")}, {"kind": "photo"})
    else:
        headers, body = {"content-type": "application/octet-stream"}, data
        if shape == "raw-declared":
            headers["content-length"] = str(len(data))
    with pytest.raises(PayloadTooLarge):
        run(_read_all(headers, body, max_bytes=1000))
    run(_read_all(headers, body, max_bytes=1001))


def test_a_stalled_transfer_is_cut_off() -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield b"%PDF-"
        await asyncio.sleep(5)
        yield b"more"

    async def read() -> None:
        incoming = await read_upload({}, slow(), field_names=FIELDS, max_bytes=100, idle_seconds=0.2)
        async for _ in incoming.chunks:
            pass

    with pytest.raises(UploadStalled):
        run(read())


def _multipart(*parts: tuple[str, str], boundary: str = "xyz", end: bool = True) -> tuple[dict[str, str], bytes]:
    body = b"".join(f"--{boundary}\r\n{head}\r\n\r\n{value}\r\n".encode() for head, value in parts)
    if end:
        body += f"--{boundary}--\r\n".encode()
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, body


FILE = ('Content-Disposition: form-data; name="file"; filename="a.pdf"', "%PDF-1.7 content")
KIND = ('Content-Disposition: form-data; name="kind"', "document")


@pytest.mark.parametrize(
    ("parts", "error", "field"),
    [
        ((KIND,), ValidationFailed, "file"),  # no file at all
        ((('Content-Disposition: form-data; name="other"', "x"), FILE), ValidationFailed, "body"),
        ((KIND, KIND, FILE), ValidationFailed, "body"),  # a field twice
        ((('Content-Disposition: form-data; name="kind"', "x" * 1025), FILE), ValidationFailed, "kind"),
        ((('Content-Disposition: form-data; name="kind"', "a\x00b"), FILE), ValidationFailed, "kind"),
        ((("Content-Type: text/plain", "x"), FILE), ValidationFailed, "body"),  # no disposition
        ((('Content-Disposition: attachment; name="kind"', "x"), FILE), ValidationFailed, "body"),
        ((KIND, ('Content-Disposition: form-data; name="file"', "x")), ValidationFailed, "file"),  # no filename
    ],
)
def test_malformed_forms_are_refused_naming_the_field(parts: Any, error: type[AppError], field: str) -> None:
    headers, body = _multipart(*parts)
    with pytest.raises(error) as caught:
        run(_read_all(headers, body))
    assert caught.value.fields == [field]


def test_a_field_after_the_file_is_refused() -> None:
    headers, body = _multipart(FILE, KIND)
    with pytest.raises(ValidationFailed) as caught:
        run(_read_all(headers, body))
    assert caught.value.fields == ["body"]


def test_a_form_without_its_closing_boundary_is_cut() -> None:
    headers, body = _multipart(KIND, FILE, end=False)
    with pytest.raises(UploadCut):
        run(_read_all(headers, body))


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", f"multipart/form-data; boundary={'b' * 71}", 'a; b="'],
)
def test_a_form_without_a_usable_boundary_is_422(content_type: str) -> None:
    with pytest.raises(ValidationFailed):
        run(_read_all({"content-type": content_type}, b""))


def test_a_url_encoded_form_cannot_carry_a_file() -> None:
    with pytest.raises(UnsupportedMediaType):
        run(_read_all({"content-type": "application/x-www-form-urlencoded"}, b"kind=photo"))


@pytest.mark.parametrize(
    "name",
    ["photo.jpg", "Ճանապարհ 2023.jpg", "Горис — интервью.m4a", "IMG_0001 (1).HEIC", ".hidden", "a..b.pdf", "x" * 255],
)
def test_plain_names_are_kept(name: str) -> None:
    assert sanitise_file_name(f"  {name} ") == name


def test_names_are_nfc() -> None:
    assert sanitise_file_name("e\u0301.jpg") == "\u00e9.jpg"


@pytest.mark.parametrize(
    "name",
    ["", "  ", ".", "..", "../a", "a/../b", "..\\a", "a\\b", "/etc/passwd", "C:a.jpg", "a.jpg:stream", "a\x00b",
     "a\tb", "a\u202eb", "a\u2066b", "aux", "COM1.txt", "lpt9.jpg", "a.", "%2e%2e%2fa", "a%2Fb", "a%5cb",
     "a%00", "x" * 256, "Ճ" * 128, "\ud800.jpg"],
)  # fmt: skip
def test_path_tricks_are_refused_without_repeating_the_name(name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        sanitise_file_name(name)
    assert caught.value.fields == ["file_name"]
    assert name.strip() in ("", ".") or name not in caught.value.detail


# A form's leading field (the CSRF token of a plain HTML form) ----------------------------------------------


TOKEN = "ab" * 32


async def _leading(headers: dict[str, str], body: AsyncIterator[bytes]) -> tuple[str | None, IncomingFile, bytes]:
    value, rest = await take_leading_field(headers, body, "csrf_token", idle_seconds=10)
    incoming = await read_upload(headers, rest, field_names=FIELDS, max_bytes=10**9, idle_seconds=10)
    return value, incoming, b"".join([chunk async for chunk in incoming.chunks])


@pytest.mark.parametrize("seed", range(8))
def test_a_leading_field_is_taken_out_and_the_rest_is_read_as_before(seed: int) -> None:
    data = os.urandom(200_000) + b"\r\n--boundary-looking\r\n" + os.urandom(1000)
    fields = {"csrf_token": TOKEN, "kind": "photo", "category": "photos_other"}
    headers, body = _form({"file": ("a.jpg", data, "image/jpeg")}, fields)
    value, incoming, content = run(_leading(headers, _chunks(body, seed)))
    assert value == TOKEN
    assert incoming.fields == {"kind": "photo", "category": "photos_other"}
    assert content == data


def test_a_leading_field_is_read_without_reading_on_into_the_file() -> None:
    headers, body = _form({"file": ("a.jpg", os.urandom(200_000), "image/jpeg")}, {"csrf_token": TOKEN})
    pulled = [0]

    async def counted() -> AsyncIterator[bytes]:
        for at in range(0, len(body), 16):
            pulled[0] = at + 16
            yield body[at : at + 16]

    async def take() -> str | None:
        value, _rest = await take_leading_field(headers, counted(), "csrf_token", idle_seconds=10)
        return value

    assert run(take()) == TOKEN
    assert pulled[0] < body.index(b'name="file"')


@pytest.mark.parametrize(
    ("fields", "files"),
    [
        ({"kind": "photo", "csrf_token": TOKEN}, {"file": ("a.jpg", b"x" * 5000, "image/jpeg")}),  # late
        ({"kind": "photo"}, {"file": ("a.jpg", b"x" * 5000, "image/jpeg")}),  # missing
        ({}, {"csrf_token": ("token.txt", TOKEN.encode(), "text/plain"), "file": ("a.jpg", b"x", "image/jpeg")}),
        ({"csrf_token": "t" * 5000}, {"file": ("a.jpg", b"x" * 5000, "image/jpeg")}),  # too long
    ],
    ids=["late", "missing", "a-file-part", "too-long"],
)
def test_no_leading_field_is_none_and_the_body_is_handed_on_whole(fields: dict[str, str], files: Any) -> None:
    headers, body = _form(files, fields)

    async def take() -> tuple[str | None, bytes]:
        value, rest = await take_leading_field(headers, _chunks(body, 1), "csrf_token", idle_seconds=10)
        return value, b"".join([chunk async for chunk in rest])

    assert run(take()) == (None, body)


def test_a_body_that_is_not_a_form_has_no_leading_field() -> None:
    async def take() -> tuple[str | None, bytes]:
        headers = {"content-type": "application/octet-stream"}
        value, rest = await take_leading_field(headers, _chunks(b"csrf_token", 0), "csrf_token", idle_seconds=10)
        return value, b"".join([chunk async for chunk in rest])

    assert run(take()) == (None, b"csrf_token")
