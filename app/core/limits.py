"""Request body limits, applied before anything reads a body.

A declared Content-Length over the limit is refused before the application runs. A body
without one (chunked) or with one that lies is counted as it arrives and cut off the moment
it passes the limit: the chunk that crosses it is never handed on, so nothing holds more
than the limit. The limit depends on the path (``LimitSettings.body_limit``), so a streamed
upload route can have a larger one of its own.

A body must also keep coming: the time spent waiting for it may not pass ``seconds`` plus one
second for every ``min_rate`` bytes received (as Apache's mod_reqtimeout does), or it is cut off
with 408. A slow-loris client that trickles a byte now and then, never idle long enough for an
idle timeout, holds a connection and a worker's attention only that long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import BodyTooSlow, PayloadTooLarge, problem_response


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a body passes its limit. An HTTPException, so that the
    framework passes it through unchanged and the unit of work records it as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=PayloadTooLarge.status)
        self.limit = limit


class BodyTimedOut(StarletteHTTPException):
    """Raised from ``receive`` when a body arrives too slowly; passed through like BodyTooLarge."""

    def __init__(self) -> None:
        super().__init__(status_code=BodyTooSlow.status)


def too_slow(request: Request) -> Response:
    detail = "The request body arrived too slowly and was cut off. Nothing was saved; send it again."
    return problem_response(
        request,
        BodyTooSlow.status,
        BodyTooSlow.title,
        detail,
        type_slug=BodyTooSlow.type_slug,
        headers={"connection": "close"},
    )


async def _body_too_slow(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTimedOut)
    return too_slow(request)


@dataclass(frozen=True)
class BodyDeadline:
    """How long a body may keep the server waiting: ``seconds``, plus one for every ``min_rate`` bytes."""

    seconds: float
    min_rate: int

    def allowed(self, received: int) -> float:
        return self.seconds + received / self.min_rate


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


Refusal = Callable[[Request, int], Response]
"""How a body over its limit is answered: ``too_large`` by default; the web pages answer browsers a page."""


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
    """Refuses or cuts off request bodies larger than the limit for their path, with a 413 problem,
    and bodies that arrive too slowly for the deadline, with a 408 problem."""

    def __init__(
        self, app: ASGIApp, limit_for: Callable[[str], int], deadline: BodyDeadline, refuse: Refusal = too_large
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.deadline = deadline
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self.refuse(Request(scope), limit)(scope, receive, send)
            return

        received = 0
        waited = 0.0
        body_done = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, waited, body_done
            if received > limit:
                raise BodyTooLarge(limit)
            if body_done:
                # The body is whole: what is left to receive is the disconnect, awaited without a deadline.
                return await receive()
            remaining = self.deadline.allowed(received) - waited
            if remaining <= 0:
                raise BodyTimedOut()
            began = anyio.current_time()
            with anyio.move_on_after(remaining) as waiting:
                message = await receive()
            waited += anyio.current_time() - began
            if waiting.cancelled_caught:
                raise BodyTimedOut()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    raise BodyTooLarge(limit)
            else:
                body_done = True
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
            await self.refuse(Request(scope), limit)(scope, receive, send)
        except BodyTimedOut:
            if started:
                raise
            await too_slow(Request(scope))(scope, receive, send)


def install_body_limits(
    app: FastAPI, limit_for: Callable[[str], int], deadline: BodyDeadline, refuse: Refusal = too_large
) -> None:
    """Add the middleware and the 413 and 408 answers (``refuse`` answers the 413s, whether the middleware or a
    route met the limit). Call before RequestContextMiddleware is added, so that the request id and the security
    headers wrap the refusal too."""

    async def body_too_large(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyTooLarge)
        return refuse(request, exc.limit)

    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(BodyTimedOut, _body_too_slow)
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for, deadline=deadline, refuse=refuse)
