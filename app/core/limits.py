"""Request body limits, applied before anything reads a body.

A declared Content-Length over the limit is refused before the application runs. A body
without one (chunked) or with one that lies is counted as it arrives and cut off the moment
it passes the limit: the chunk that crosses it is never handed on, so nothing holds more
than the limit. The limit depends on the path (``LimitSettings.body_limit``), so a streamed
upload route can have a larger one of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PayloadTooLarge, problem_response


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a body passes its limit. An HTTPException, so that the
    framework passes it through unchanged and the unit of work records it as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=PayloadTooLarge.status)
        self.limit = limit


def too_large(request: Request, limit: int) -> Response:
    detail = f"The request body is larger than the {limit} bytes this endpoint accepts. Nothing was saved."
    # Close the connection rather than read (and throw away) the rest of the body to keep it open.
    return problem_response(
        request,
        PayloadTooLarge.status,
        PayloadTooLarge.title,
        detail,
        type_slug=PayloadTooLarge.type_slug,
        headers={"connection": "close"},
    )


async def _body_too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return too_large(request, exc.limit)


def _declared_length(scope: Scope) -> int | None:
    """The largest Content-Length declared; None when there is none or it is not a number
    (the body is then counted as it arrives)."""
    lengths = []
    for value in Headers(scope=scope).getlist("content-length"):
        try:
            lengths.append(int(value))
        except ValueError:
            continue
    return max(lengths) if lengths else None


class BodyLimitMiddleware:
    """Refuses or cuts off request bodies larger than the limit for their path, with a 413 problem."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await too_large(Request(scope), limit)(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            if received > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            # Routes answer it through the exception handler; this covers whatever read the body outside one.
            if started:
                raise
            await too_large(Request(scope), limit)(scope, receive, send)


def install_body_limits(app: FastAPI, limit_for: Callable[[str], int]) -> None:
    """Add the middleware and the 413 answer. Call before RequestContextMiddleware is added,
    so that the request id and the security headers wrap the refusal too."""
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
