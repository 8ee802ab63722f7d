"""HTTP plumbing shared by every router: the unit of work, request ids, headers."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import FAILURE_HOOKS, new_id, rollback_and_record
from app.errors import PROBLEM_JSON

log = logging.getLogger("testimony.http")


def get_session(request: Request) -> Iterator[Session]:
    """The request's session. UnitOfWorkRoute commits it before the response is sent;
    this exit code (which FastAPI runs after the response) only cleans up."""
    session: Session = request.app.state.sessionmaker()
    request.state.db_session = session
    try:
        yield session
    finally:
        if session.in_transaction():
            session.rollback()
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


class UnitOfWorkRoute(APIRoute):
    """Commits the request's transaction after the endpoint returns and before the
    response leaves; rolls back if the endpoint or the commit fails."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except BaseException:
                await _finish(request, commit=False)
                raise
            await _finish(request, commit=response.status_code < 400)
            return response

        return run


async def _finish(request: Request, *, commit: bool) -> None:
    session: Session | None = getattr(request.state, "db_session", None)
    if session is None:
        return
    if commit:
        session.info.pop(FAILURE_HOOKS, None)
        await run_in_threadpool(session.commit)
    else:
        await run_in_threadpool(rollback_and_record, session)


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

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
            log.error("unhandled %s in request %s\n%s", type(exc).__qualname__, rid, frames)
            if started:
                return
            response = JSONResponse(
                {
                    "type": "https://testimony-vault.invalid/problems/internal",
                    "title": "Internal error",
                    "status": 500,
                    "detail": "Something went wrong on our side. Nothing was saved. "
                    "Quote the reference when reporting it.",
                    "request_id": rid,
                },
                status_code=500,
                media_type=PROBLEM_JSON,
            )
            await response(scope, receive, send_with_headers)
