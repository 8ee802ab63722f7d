"""Request bodies are bounded before anything reads them: a declared length over the limit is
refused before the application runs, and a streamed body is cut off as soon as it passes it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.access.models import AuthFailure
from app.access.roles import Role
from app.audit.models import AuditEvent
from app.cases.models import Case
from app.core.config import UPLOAD_FRAMING_BYTES, LimitSettings, Settings
from app.core.db import unit_of_work
from app.keys.store import Keys
from app.main import create_app
from tests.support.actors import PASSWORD, actor, anonymous, make_user
from tests.support.server import serve

LOGIN = "/api/v1/auth/login"
LIMIT = 4096
PROBLEM_KEYS = {"type", "title", "status", "detail", "request_id"}


@pytest.fixture
def small_app(settings: Settings, keys: Keys) -> Iterator[FastAPI]:
    application = create_app(settings.model_copy(update={"limits": LimitSettings(body_bytes=LIMIT)}), keys)
    yield application
    application.state.engine.dispose()


def _rows(app: FastAPI, model: Any) -> int:
    with app.state.sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _events(app: FastAPI) -> list[AuditEvent]:
    with unit_of_work(app.state.sessionmaker) as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def _assert_too_large(r: Any) -> None:
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) == PROBLEM_KEYS
    assert body["type"].endswith("/payload-too-large")
    assert body["title"] == "Payload too large"
    assert body["status"] == 413
    assert body["request_id"] == r.headers["x-request-id"]
    assert r.headers["x-content-type-options"] == "nosniff"


def _chunks(total: int, size: int = 1024) -> Iterator[bytes]:
    yield b'{"username": "someone", "password": "'
    for _ in range(total // size):
        yield b"a" * size


def test_declared_length_over_the_default_limit_is_refused_before_login(app: FastAPI) -> None:
    assert app.state.settings.limits.body_bytes == 1024 * 1024
    events_before = _events(app)
    r = anonymous(app).post(LOGIN, content=b" " * (1024 * 1024 + 1), headers={"content-type": "application/json"})
    _assert_too_large(r)
    assert "1048576 bytes" in r.json()["detail"]
    # Refused before any route ran: nothing written, not even a failed-login count.
    assert _events(app) == events_before
    assert _rows(app, AuthFailure) == 0


def test_chunked_body_over_the_limit_is_refused_and_only_its_audit_event_is_written(small_app: FastAPI) -> None:
    r = anonymous(small_app).post(LOGIN, content=_chunks(LIMIT * 4), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    _assert_too_large(r)
    # The login route is audited: its attempt is recorded as failed with 413, and nothing else is written.
    [event] = _events(small_app)
    assert (event.action, event.outcome, event.status) == ("auth.login_failed", "failed", 413)
    assert event.request_id == r.json()["request_id"]
    assert _rows(small_app, AuthFailure) == 0


def test_chunked_body_over_the_limit_creates_no_domain_row(small_app: FastAPI) -> None:
    admin = actor(small_app, "adm", [Role.ADMIN])
    padded = json.dumps({"code": "KB-1", "title": "t" * (LIMIT * 2)}).encode()
    r = admin.post(
        "/api/v1/cases", content=iter([padded[:1000], padded[1000:]]), headers={"content-type": "application/json"}
    )
    _assert_too_large(r)
    assert _rows(small_app, Case) == 0
    last = _events(small_app)[-1]
    assert (last.action, last.outcome, last.status) == ("case.create", "failed", 413)
    # The same request within the limit creates the case.
    assert admin.post("/api/v1/cases", json={"code": "KB-1", "title": "One"}).status_code == 201
    assert _rows(small_app, Case) == 1


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_not(small_app: FastAPI) -> None:
    make_user(small_app, "doc", [Role.DOCUMENTER], with_totp=False)
    body = json.dumps({"username": "doc", "password": PASSWORD}).encode()
    exact = body + b" " * (LIMIT - len(body))
    assert len(exact) == LIMIT
    client = anonymous(small_app)
    assert client.post(LOGIN, content=exact, headers={"content-type": "application/json"}).status_code == 200
    _assert_too_large(client.post(LOGIN, content=exact + b" ", headers={"content-type": "application/json"}))
    # Within the limit, a body is refused only for what it says.
    wrong = json.dumps({"username": "doc", "password": "not the password"}).encode()
    assert (
        client.post(LOGIN, content=wrong.ljust(LIMIT), headers={"content-type": "application/json"}).status_code == 401
    )


def test_a_prefix_may_have_a_limit_of_its_own(settings: Settings, keys: Keys) -> None:
    limits = LimitSettings(body_bytes=LIMIT, body_bytes_by_prefix={"/api/v1/auth": 64})
    application = create_app(settings.model_copy(update={"limits": limits}), keys)
    with TestClient(application, raise_server_exceptions=False) as client:
        r = client.post(LOGIN, content=b" " * 65, headers={"content-type": "application/json"})
        _assert_too_large(r)
        assert "64 bytes" in r.json()["detail"]
        cases = client.post("/api/v1/cases", content=b" " * 65, headers={"content-type": "application/json"})
        assert cases.status_code == 422  # within the default limit: refused for what it is, not its size
    application.state.engine.dispose()


class CountingBody:
    """A request body that records how many bytes the server pulled from it."""

    def __init__(self, total: int, size: int = 1024) -> None:
        self.total, self.size, self.pulled = total, size, 0

    def chunks(self) -> Iterator[bytes]:
        while self.pulled < self.total:
            self.pulled += self.size
            yield b" " * self.size

    async def async_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk


async def _post_through_asgi(app: FastAPI, body: CountingBody, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        return await client.post(
            LOGIN, content=body.async_chunks(), headers={"content-type": "application/json", **headers}
        )


@pytest.mark.parametrize(
    ("declared", "pulled_at_most"),
    [
        (None, LIMIT + 1024),  # chunked: cut off at the chunk that crosses the limit
        (str(LIMIT // 2), LIMIT + 1024),  # a Content-Length that lies
        (str(LIMIT * 10_000), 0),  # a declared length over the limit: not one byte is read
    ],
)
def test_body_is_not_pulled_past_the_limit(small_app: FastAPI, declared: str | None, pulled_at_most: int) -> None:
    # TestClient reads a whole generator before calling the app, so this goes through httpx's ASGI transport,
    # which pulls a chunk only when the app asks for one.
    body = CountingBody(total=64 * 1024 * 1024)
    headers = {"content-length": declared} if declared else {}
    r = asyncio.run(_post_through_asgi(small_app, body, headers))
    _assert_too_large(r)
    assert body.pulled <= pulled_at_most


@pytest.fixture
def served(small_app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn server on a free loopback port, in this process."""
    with serve(small_app) as url:
        yield url


def test_real_server_cuts_off_a_chunked_body(served: str, small_app: FastAPI) -> None:
    body = CountingBody(total=256 * 1024 * 1024, size=16 * 1024)
    with httpx.Client(base_url=served, timeout=30) as client:
        r = client.post(LOGIN, content=body.chunks(), headers={"content-type": "application/json"})
    assert r.request.headers["transfer-encoding"] == "chunked"
    _assert_too_large(r)
    # The server stopped reading: what was pulled is the limit plus what the socket buffers held.
    assert body.pulled < 32 * 1024 * 1024
    assert _rows(small_app, AuthFailure) == 0


def test_upload_routes_take_the_attachment_limit(settings: Settings) -> None:
    assert settings.body_limit("/api/v1/interviews/0190f1a2-0000-7000-8000-0000000000c1/attachments") == (
        settings.attachments.max_bytes + UPLOAD_FRAMING_BYTES
    )
    assert settings.body_limit("/api/v1/uploads/0190f1a2-0000-7000-8000-0000000000c1") > 2 * 1024**3
    for path in ["/api/v1/interviews/x", "/api/v1/interviews//attachments", "/api/v1/uploadsx", "/api/v1/people/x"]:
        assert settings.body_limit(path) == settings.limits.body_bytes
    configured = settings.limits.model_copy(update={"body_bytes_by_prefix": {"/api/v1/interviews/*/attachments": 5}})
    assert settings.model_copy(update={"limits": configured}).body_limit("/api/v1/interviews/a/attachments") == 5
