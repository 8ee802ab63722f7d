"""Hostile input, through the real app: every case is refused with a clear 4xx problem that repeats nothing
of what was sent and shows no traceback, and leaves every table (the audit log aside, which records the
refusal), the blob store and the temp directory as they were.

The slow-loris cases need a real server and a real socket: the app runs in a uvicorn subprocess on a free
loopback port, and a client trickles its body a few bytes at a time, never idle long enough for an idle
timeout, until the body deadline (LimitSettings.body_seconds and body_min_rate) cuts it off.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app import models as _models  # noqa: F401 - every table in the metadata, so that every table is counted
from app.access.roles import Role
from app.audit.models import AuditCheckpoint, AuditEvent
from app.core.config import AttachmentSettings, DatabaseSettings, KeySettings, Settings
from app.core.db import Base, unit_of_work
from app.core.json_body import MAX_DEPTH
from app.crypto import keyring as kr
from app.keys.store import FileKeyStore, Keys, write_private_file
from app.main import create_app
from tests.support.actors import PASSWORD, Actor, actor, code
from tests.support.attachments import MAX, interview_for, sample
from tests.support.cheap import CHEAP_ARGON2, CHEAP_SCRYPT
from tests.support.consent import documenter_team
from tests.support.database import Templates

CANARY = "canary-Գրիգորյան-5b1e"
"""Written into every hostile request where it can go; it must never come back."""
PROBLEM_KEYS = {"type", "title", "status", "detail", "request_id"}
MIB = 1024 * 1024
AUDIT_TABLES = {AuditEvent.__tablename__, AuditCheckpoint.__tablename__}


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process's temp directory, private to this test: whatever spools a body to disk lands here."""
    folder = tmp_path / "systemp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def app(settings: Settings, keys: Keys, private_temp: Path) -> Iterator[FastAPI]:
    application = create_app(settings.model_copy(update={"attachments": AttachmentSettings(max_bytes=MAX)}), keys)
    yield application
    application.state.engine.dispose()


@dataclass
class Scene:
    app: FastAPI
    admin: Actor
    doc: Actor
    interview_id: uuid.UUID
    temp: Path


@pytest.fixture(scope="module")
def scene(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """One app for the whole table, with a documenter recording an interview: every case must leave it as it
    was (which each test checks), so the next case meets the same state."""
    folder = tmp_path_factory.mktemp("hostile")
    key_file = folder / "var" / "keyring.json"
    write_private_file(key_file, kr.dumps(kr.generate(), None))
    temp = folder / "systemp"
    temp.mkdir()
    with templates.database(folder) as database, pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(temp))
        settings = Settings(
            development=True,
            data_dir=folder / "var",
            database=DatabaseSettings(url=database.url),
            keys=KeySettings(file=key_file),
            passwords=CHEAP_ARGON2,
            attachments=AttachmentSettings(max_bytes=MAX),
        )
        store = FileKeyStore(key_file, None, CHEAP_SCRYPT)
        application = create_app(settings, Keys(store, store.load()))
        try:
            doc, case_id = documenter_team(application)
            interview_id, _person = interview_for(application, doc, case_id)
            admin = actor(application, "adm2", [Role.ADMIN])
            yield Scene(application, admin, doc, interview_id, temp)
        finally:
            application.state.engine.dispose()


# What must not change ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    rows: dict[str, int]
    files: list[str]
    temp: list[str]
    last_event: int


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def state(app: FastAPI, temp: Path) -> State:
    settings: Settings = app.state.settings
    with unit_of_work(app.state.sessionmaker) as s:
        rows = {
            table.name: int(s.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
            if table.name not in AUDIT_TABLES
        }
        last = int(s.scalar(select(func.max(AuditEvent.seq))) or 0)
    stores = [settings.attachments_dir, settings.data_dir / "exports"]
    return State(rows, [f for root in stores for f in _files(root)], _files(temp), last)


def assert_unchanged(app: FastAPI, temp: Path, before: State) -> None:
    after = state(app, temp)
    assert after.rows == before.rows
    assert after.files == before.files
    assert after.temp == before.temp == []
    # The refusal itself is recorded (on an audited route); nothing was recorded as done.
    with unit_of_work(app.state.sessionmaker) as s:
        outcomes = set(s.scalars(select(AuditEvent.outcome).where(AuditEvent.seq > before.last_event)))
    assert outcomes <= {"failed", "denied"}


def assert_problem(r: Any, status: int, *, problem: str | None = None, field: str | None = None) -> None:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["request_id"] == r.headers["x-request-id"]
    assert body["title"]
    assert body["detail"]
    text = r.text.lower()
    assert "canary" not in text
    assert "traceback" not in text
    assert 'file "' not in text
    if problem is not None:
        assert {"field": "body", "problem": problem} in body["errors"]
    if field is not None:
        assert field in body.get("fields", [])


# The table -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    name: str
    send: Callable[[Scene], Any]
    status: int
    problem: str | None = None
    field: str | None = None


JSON = {"content-type": "application/json"}
CASES_PATH = "/api/v1/cases"


def _case_body(title: str = CANARY, **extra: Any) -> dict[str, Any]:
    return {"code": "KB-9", "title": title, **extra}


def _post_case(content: Any, headers: dict[str, str] | None = None) -> Callable[[Scene], Any]:
    return lambda s: s.admin.post(CASES_PATH, content=content, headers=JSON if headers is None else headers)


def _raw_case(fragment: bytes) -> bytes:
    return b'{"code": "KB-9", "title": ' + fragment + b"}"


def _statement(version: bytes) -> Callable[[Scene], Any]:
    body = b'{"version": ' + version + b', "draft_revision": 1, "confirmed_by_interviewee": true, "read_back_in": "hy"}'
    return lambda s: s.doc.post(f"/api/v1/interviews/{s.interview_id}/statements", content=body, headers=JSON)


def _chunked(total: int, head: bytes = b'{"code": "KB-9", "title": "') -> Iterator[bytes]:
    yield head + CANARY.encode()
    for _ in range(total // 65536 + 1):
        yield b"a" * 65536


def _nested(depth: int) -> bytes:
    return _raw_case(b"[" * depth + b'"' + CANARY.encode() + b'"' + b"]" * depth)


def _upload(headers: dict[str, str | bytes], content: Any = None) -> Callable[[Scene], Any]:
    def send(s: Scene) -> Any:
        base: dict[str, str | bytes] = {
            "content-type": "application/octet-stream",
            "attachment-kind": "photo",
            "attachment-category": "photos_other",
        }
        data = sample("jpeg", 20_000) if content is None else content
        path = f"/api/v1/interviews/{s.interview_id}/attachments"
        return s.doc.post(path, content=data, headers={**base, **headers})

    return send


def _named(name: str) -> Callable[[Scene], Any]:
    return _upload({"content-disposition": f"attachment; filename*=UTF-8''{name}"})


BOUNDARY = "hostile-boundary-7c1f"


def _form(parts: list[tuple[bytes, bytes]], file_name: bytes = b"scan.jpg") -> Callable[[Scene], Any]:
    """A multipart form: the given text parts (raw name, raw value), then the file."""
    body = b""
    for name, value in parts:
        body += b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="' + name + b'"\r\n\r\n'
        body += value + b"\r\n"
    body += b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="file"; filename="' + file_name
    body += b'"\r\nContent-Type: image/jpeg\r\n\r\n' + sample("jpeg", 20_000)
    body += b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    return lambda s: s.doc.post(f"/api/v1/interviews/{s.interview_id}/attachments", content=body, headers=headers)


KIND = (b"kind", b"photo")
CATEGORY = (b"category", b"photos_other")

CASES = [
    # Oversized bodies: refused by their declared length, or cut off as they arrive.
    Hostile("json-over-the-limit-declared", _post_case(json.dumps(_case_body(CANARY + "a" * MIB))), 413),
    Hostile("json-over-the-limit-chunked", _post_case(_chunked(MIB)), 413),
    Hostile("upload-over-the-limit-declared", _upload({}, sample("jpeg", MAX + 1)), 413),
    Hostile("upload-over-the-limit-chunked", _upload({}, (c for c in [sample("jpeg", MIB)] * 4)), 413),
    # Not UTF-8, and NUL: in JSON strings, form fields, file names and query strings.
    Hostile("json-string-not-utf8", _post_case(_raw_case(b'"' + CANARY.encode() + b'\xff\xfe"')), 422, "json_not_utf8"),
    Hostile("json-string-escaped-nul", _post_case(json.dumps(_case_body(CANARY + "\u0000"))), 422, field="title"),
    Hostile("json-string-raw-nul", _post_case(_raw_case(b'"' + CANARY.encode() + b'\x00"')), 422, "json_invalid"),
    Hostile("json-string-lone-surrogate", _post_case(_raw_case(b'"\\ud800' + CANARY.encode() + b'"')), 422),
    Hostile("form-field-not-utf8", _form([(b"kind", b"ph\xff\xfeoto"), CATEGORY]), 422, field="kind"),
    Hostile("form-field-nul", _form([(b"kind", b"photo\x00" + CANARY.encode()), CATEGORY]), 422, field="kind"),
    Hostile("header-field-not-utf8", _upload({"attachment-kind": b"ph\xff\xfeoto"}), 422, field="kind"),
    Hostile("file-name-not-utf8", _named("canary%FF%FE.jpg"), 422, field="file_name"),
    Hostile("file-name-nul", _named("canary%00.jpg"), 422, field="file_name"),
    Hostile("form-file-name-nul", _form([KIND, CATEGORY], b"canary\x00.jpg"), 422, field="file_name"),
    Hostile("form-file-name-not-utf8", _form([KIND, CATEGORY], b"canary\xff.jpg"), 422),
    Hostile("query-nul", lambda s: s.admin.get(f"{CASES_PATH}?limit=5%00{CANARY}"), 400),
    Hostile("query-not-utf8", lambda s: s.admin.get(f"{CASES_PATH}?cursor=%FF%FE{quote(CANARY)}"), 400),
    Hostile("path-not-utf8", lambda s: s.admin.get(f"{CASES_PATH}/%FF%FE{quote(CANARY)}"), 400),
    # Deeply nested JSON: past the interpreter's recursion, and past our own limit within it.
    Hostile("json-nested-100000-deep", _post_case(_nested(100_000)), 422, "json_too_deep"),
    Hostile("json-nested-past-the-limit", _post_case(_nested(MAX_DEPTH + 1)), 422, "json_too_deep"),
    # Huge numbers.
    Hostile("json-integer-of-5000-digits", _statement(b"1" + b"0" * 5000), 422, "json_number"),
    Hostile("json-integer-past-64-bits", _statement(str(2**64).encode()), 422, "json_number"),
    Hostile("json-integer-past-its-field", _statement(str(2**40).encode()), 422, field="version"),
    Hostile("json-float-overflow", _statement(b"1e999"), 422, "json_number"),
    Hostile("json-nan", _statement(b"NaN"), 422, "json_number"),
    Hostile("json-infinity", _statement(b"-Infinity"), 422, "json_number"),
    Hostile("query-huge-number", lambda s: s.admin.get(f"{CASES_PATH}?limit=1{'0' * 5000}"), 422, field="limit"),
    # Wrong content types.
    Hostile("json-as-text-plain", _post_case(json.dumps(_case_body()), {"content-type": "text/plain"}), 415),
    Hostile(
        "json-as-form",
        _post_case(f"code=KB-9&title={quote(CANARY)}", {"content-type": "application/x-www-form-urlencoded"}),
        415,
    ),
    Hostile(
        "json-as-multipart",
        _post_case(f"--x\r\n\r\n{CANARY}\r\n--x--\r\n", {"content-type": "multipart/form-data; boundary=x"}),
        415,
    ),
    Hostile("json-without-content-type", _post_case(json.dumps(_case_body()), {}), 415),
    Hostile("json-as-xml", _post_case(f"<case>{CANARY}</case>", {"content-type": "application/xml"}), 415),
    Hostile(
        "upload-as-urlencoded-form",
        _upload({"content-type": "application/x-www-form-urlencoded"}, f"file={CANARY}"),
        415,
    ),
    Hostile("upload-content-type-malformed", _upload({"content-type": 'multipart/form-data; boundary="x'}), 422),
    # Path traversal in file names (and in the path itself).
    Hostile("file-name-dot-dot-slash", _named(quote("../../etc/canary.jpg", safe="")), 422, field="file_name"),
    Hostile("file-name-backslashes", _named(quote("..\\..\\canary.jpg", safe="")), 422, field="file_name"),
    Hostile("file-name-absolute", _named(quote("/etc/canary", safe="")), 422, field="file_name"),
    Hostile("file-name-encoded-slash", _named(quote("..%2fcanary.jpg", safe="")), 422, field="file_name"),
    Hostile("file-name-dot-dot", _named(".."), 422, field="file_name"),
    Hostile("file-name-drive", _named(quote("C:canary.jpg", safe="")), 422, field="file_name"),
    Hostile("file-name-device", _named("NUL.jpg"), 422, field="file_name"),
    Hostile("form-file-name-dot-dot-slash", _form([KIND, CATEGORY], b"../../canary.jpg"), 422, field="file_name"),
    Hostile("path-traversal", lambda s: s.admin.get(f"{CASES_PATH}/..%2F..%2Fetc%2F{quote(CANARY)}"), 404),
    # Duplicate keys: the same body must not mean one thing to a proxy or a reader and another to us.
    Hostile(
        "json-duplicate-key",
        _post_case(b'{"code": "KB-9", "title": "' + CANARY.encode() + b'", "code": "KB-8"}'),
        422,
        "json_duplicate_key",
    ),
    Hostile(
        "json-duplicate-key-nested",
        lambda s: s.doc.request(
            "PUT",
            f"/api/v1/interviews/{s.interview_id}/draft",
            content=b'{"answers": [{"question": "q", "state": "answered", "state": "skipped"}], "text": "t"}',
            headers=JSON,
        ),
        422,
        "json_duplicate_key",
    ),
    # Unknown fields, at the top and nested.
    Hostile("json-unknown-field", _post_case(json.dumps(_case_body("One", **{CANARY: CANARY}))), 422, field="body"),
    Hostile("form-unknown-field", _form([KIND, CATEGORY, (CANARY.encode(), b"x")]), 422, field="body"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_refused_and_changes_nothing(scene: Scene, case: Hostile) -> None:
    before = state(scene.app, scene.temp)
    r = case.send(scene)
    assert_problem(r, case.status, problem=case.problem, field=case.field)
    assert_unchanged(scene.app, scene.temp, before)


def test_the_same_requests_done_right_are_accepted(scene: Scene) -> None:
    """The table's refusals are for what each case does wrong: the same requests, well formed, go through."""
    r = scene.admin.post(CASES_PATH, json=_case_body("One"))
    assert r.status_code == 201, r.text
    r = scene.admin.post(CASES_PATH, content=json.dumps({"code": "KB-10", "title": "Two"}), headers=JSON)
    assert r.status_code == 201, r.text
    r = _named("scan.jpg")(scene)
    assert r.status_code == 201, r.text
    r = _form([KIND, CATEGORY], "Ереван.jpg".encode())(scene)
    assert r.status_code == 201, r.text
    vendor = {"content-type": "application/vnd.x+json"}
    assert scene.admin.post(CASES_PATH, json={"code": "KB-11", "title": "Three"}, headers=vendor).status_code == 201


# Slow-loris: a real server on a real socket --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(cli_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """uvicorn serving the app (with a one-second body deadline) in a subprocess; (base URL, its temp dir)."""
    port = _free_port()
    temp = tmp_path / "server-temp"
    temp.mkdir()
    env = {
        **os.environ,
        **cli_env,
        "TESTIMONY_LIMITS__BODY_SECONDS": "1",
        "TESTIMONY_LIMITS__BODY_MIN_RATE": "500",
        "TESTIMONY_ATTACHMENTS__MAX_BYTES": str(MAX),
        "TMPDIR": str(temp),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:app_factory", "--no-proxy-headers"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                assert process.stderr is not None
                pytest.fail(f"the server did not start: {process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer within 30 s")
        yield base, temp
    finally:
        process.terminate()
        process.communicate(timeout=20)


def _trickle(base: str, head: bytes, body: bytes, *, every: float, budget: float = 15) -> tuple[bytes, float]:
    """Send the request head, then the body a byte at a time every ``every`` seconds; what the server
    answered (all of it, to the close) and how long the body was being sent when it did."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=budget) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        started = time.monotonic()
        answer = b""
        answered_at = None
        for byte in body:
            assert time.monotonic() - started < budget, "the server never cut the body off"
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # the server closed the connection
            time.sleep(every)
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            if answered_at is None:
                answered_at = time.monotonic() - started
            answer += chunk
            if not chunk:
                break
        sock.setblocking(True)
        sock.settimeout(5)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer, answered_at if answered_at is not None else time.monotonic() - started


def _parse(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body)


def _assert_cut_off(answer: bytes, elapsed: float) -> None:
    status, headers, problem = _parse(answer)
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert problem["type"].endswith("/body-too-slow")
    assert problem["status"] == 408
    assert "canary" not in answer.decode("utf-8", "replace").lower()
    # One second of waiting, and a little more for the bytes that did arrive; well before the body's end.
    assert 0.9 < elapsed < 6


def test_a_slow_loris_json_body_is_cut_off_by_the_body_deadline(server: tuple[str, Path]) -> None:
    base, temp = server
    body = json.dumps({"username": CANARY, "password": "x" * 40}).encode()
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    answer, elapsed = _trickle(base, head, body, every=0.1)
    _assert_cut_off(answer, elapsed)
    assert _files(temp) == []
    # The server is still there for everyone else.
    assert httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200


def test_a_slow_loris_upload_is_cut_off_and_leaves_nothing(
    server: tuple[str, Path], app: FastAPI, private_temp: Path
) -> None:
    base, server_temp = server
    doc, case_id = documenter_team(app)
    interview_id, _person = interview_for(app, doc, case_id)
    assert doc.totp_secret is not None
    # Log in to the server as that documenter (the next time step: the one in this process was used).
    login = {"username": doc.username, "password": PASSWORD, "totp": code(doc.totp_secret, app, steps=1)}
    r = httpx.post(f"{base}/api/v1/auth/login", json=login, timeout=10)
    assert r.status_code == 200, r.text
    cookie = "; ".join(f"{k}={v}" for k, v in r.cookies.items())
    csrf = r.json()["user"]["csrf_token"]
    before = state(app, private_temp)

    data = sample("jpeg", 200_000)
    head = (
        f"POST /api/v1/interviews/{interview_id}/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/octet-stream\r\nAttachment-Kind: photo\r\nAttachment-Category: photos_other\r\n"
        f"Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    answer, elapsed = _trickle(base, head, data, every=0.05)
    _assert_cut_off(answer, elapsed)
    assert_unchanged(app, private_temp, before)
    assert _files(server_temp) == []
    with unit_of_work(app.state.sessionmaker) as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert (last.action, last.outcome, last.status) == ("attachment.upload", "failed", 408)
