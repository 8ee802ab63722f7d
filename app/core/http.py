"""HTTP plumbing every router shares: request ids, security headers, client addresses, problems."""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
import traceback
from typing import Protocol, TypeVar
from urllib.parse import unquote_to_bytes

from fastapi import Request, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import integrity_conflict, new_id
from app.core.errors import PROBLEM_JSON, app_error, problem_response, request_id, unexpected_error

log = logging.getLogger("testimony.http")


class _MayWait(Protocol):
    @property
    def pending_confirmation(self) -> object | None: ...


W = TypeVar("W", bound=_MayWait)


def accepted_when_pending(response: Response, change: W) -> W:
    """202 while a second person must still confirm a change; the body says what waits."""
    if change.pending_confirmation is not None:
        response.status_code = status.HTTP_202_ACCEPTED
    return change


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"cache-control", b"no-store"),
]


class RequestContextMiddleware:
    """Gives each request an id, adds security headers, and turns any escaped
    exception into a 500 problem without letting the server log its message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = str(new_id())
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        if refused := _unreadable_target(scope):
            # No database accepts NUL in text, and a byte that is not UTF-8 would be read as U+FFFD, a
            # different value from the one sent: refuse both here, for every route and parameter alike.
            await _problem(400, "Bad request", refused, rid)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
            log.error("unhandled %s in request %s\n%s", type(exc).__qualname__, rid, frames)
            if started:
                return
            detail = "Something went wrong on our side. Nothing was saved. Quote the reference when reporting it."
            await _problem(500, "Internal error", detail, rid)(scope, receive, send_with_headers)


def _unreadable_target(scope: Scope) -> str | None:
    """Why the path or query cannot be read as the client meant it (percent-decoded), or None."""
    query: bytes = scope.get("query_string", b"")
    raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    decoded = [unquote_to_bytes(raw_path), unquote_to_bytes(query)]
    if "\x00" in scope.get("path", "") or any(b"\x00" in part for part in decoded):
        return "NUL bytes are not allowed in the path or query."
    try:
        for part in decoded:
            part.decode("utf-8")
    except UnicodeDecodeError:
        return "The path or query is not UTF-8 text."
    return None


def _problem(status: int, title: str, detail: str, rid: str) -> JSONResponse:
    slug = "internal" if status == 500 else "bad-request"
    return JSONResponse(
        {
            "type": f"https://testimony-vault.invalid/problems/{slug}",
            "title": title,
            "status": status,
            "detail": detail,
            "request_id": rid,
        },
        status_code=status,
        media_type=PROBLEM_JSON,
    )


async def integrity_violation(request: Request, exc: Exception) -> Response:
    """A unique value taken by a concurrent request is a 409 naming the field; anything else is a 500."""
    assert isinstance(exc, IntegrityError)
    conflict = integrity_conflict(exc)
    if conflict is None:
        return await unexpected_error(request, exc)
    return await app_error(request, conflict)


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the
    right-most address in X-Forwarded-For that is not itself a trusted proxy."""
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if peer is None:
        return "unknown"
    if not forwarded_for or not is_trusted(peer):
        return peer
    hops = [address_of(h) for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop is None:
            # Not an address: the client cannot be told apart, so it counts as the proxy, never as a
            # name of its own choosing (which would give it a fresh throttle budget).
            return peer
        if not is_trusted(hop):
            return hop
    return hops[0] or peer if hops else peer


def address_of(text: str) -> str | None:
    """An address as the service counts it, or None: ``1.2.3.4:80`` and ``[2001:db8::1]:443`` lose the
    port, ``fe80::1%eth0`` the zone."""
    value = text.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    value = value.split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back whole, and the
same request sent again can succeed."""


TRANSIENT_SQLITE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
"""SQLite's "database is locked": another writer held the database past the busy timeout, so this
transaction never began or was rolled back; the same request sent again can succeed."""


LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's lock_not_available: a bounded wait for a lock (``lock_timeout``) ran out, as a withdrawal's wait
for a person's lock does when an export worker stalls holding it. The transaction was rolled back whole."""


def _transient(exc: OperationalError) -> bool:
    return (
        getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
        or getattr(exc.orig, "sqlite_errorcode", None) in TRANSIENT_SQLITE_CODES
    )


async def transient_failure(request: Request, exc: Exception) -> Response:
    """A transaction the database rolled back to break a deadlock (or a serialization failure), or one
    that waited past SQLite's busy timeout for the write lock, is a 503 the client may retry: nothing
    was saved. Any other operational error is a 500."""
    assert isinstance(exc, OperationalError)
    if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        log.warning("a lock wait ran out in request %s; nothing was saved", request_id(request))
        return problem_response(
            request,
            503,
            "Service busy",
            "The record is held by other work in progress; nothing was saved. Send it again shortly.",
            type_slug="busy",
            headers={"Retry-After": "10"},
        )
    if not _transient(exc):
        return await unexpected_error(request, exc)
    log.warning("a transaction was rolled back by the database in request %s; nothing was saved", request_id(request))
    return problem_response(
        request,
        503,
        "Service busy",
        "Another change to the same record met this one; nothing was saved. Send it again.",
        type_slug="busy",
        headers={"Retry-After": "1"},
    )


async def database_busy(request: Request, exc: Exception) -> Response:
    """Every database connection is in use: a 503 the client may retry, never a 500."""
    log.warning("no database connection free for request %s", request_id(request))
    return problem_response(
        request,
        503,
        "Service busy",
        "The service is busy; nothing was saved. Try again in a few seconds.",
        type_slug="busy",
        headers={"Retry-After": "5"},
    )
