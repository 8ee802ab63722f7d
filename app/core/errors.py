"""One error hierarchy, mapped once to RFC 9457 problem+json and once to HTML.

Messages are written by us and never echo input, SQL or stack frames.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.error_locations import describe_all
from app.crypto.errors import DecryptionFailed

log = logging.getLogger("testimony.errors")

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        fields: list[str] | None = None,
        params: dict[str, str | list[str]] | None = None,
        **extra: Any,
    ) -> None:
        """``params`` fill a message written with ``%(name)s`` places (codes and numbers, never input): the
        API reads it filled in, in English; a page translates the message first, then fills it in."""
        self.template = detail or self.title
        self.params = params or {}
        self.detail = self.template % fill(self.params) if self.params else self.template
        self.fields = fields or []
        self.extra = extra
        super().__init__(self.detail)

    def headers(self) -> dict[str, str]:
        return {}


def fill(params: dict[str, str | list[str]]) -> dict[str, str]:
    """A message's places as written: a list as its items separated by commas."""
    return {name: ", ".join(value) if isinstance(value, list) else value for name, value in params.items()}


class ValidationFailed(AppError):
    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class Unauthenticated(AppError):
    status = 401
    title = "Authentication required"
    type_slug = "unauthenticated"


class Forbidden(AppError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class NotFound(AppError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(AppError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class UploadCut(AppError):
    """A streamed body ended before its file did (the client went away, or sent less than declared)."""

    status = 400
    title = "Upload incomplete"
    type_slug = "upload-incomplete"


class UploadStalled(AppError):
    """A streamed body sent nothing for too long."""

    status = 408
    title = "Upload stalled"
    type_slug = "upload-stalled"


class BodyTooSlow(AppError):
    """A request body kept the server waiting past its deadline (LimitSettings.body_seconds)."""

    status = 408
    title = "Request body too slow"
    type_slug = "body-too-slow"


class PayloadTooLarge(AppError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


class UnsupportedMediaType(AppError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


class TooManyRequests(AppError):
    status = 429
    title = "Too many requests"
    type_slug = "too-many-requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or "Too many attempts; try again later.")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ConfigError(Exception):
    """The service cannot start as configured; the message says what to do."""


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


_html = Environment(autoescape=select_autoescape(default=True)).from_string(
    "<!doctype html><html lang=en><meta charset=utf-8><title>{{ title }}</title>"
    "<main><h1>{{ title }}</h1><p>{{ detail }}</p>"
    "<p><small>Reference: {{ request_id }}</small></p></main></html>"
)


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    type_slug: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    rid = request_id(request)
    if _wants_html(request):
        body = _html.render(title=title, detail=detail, request_id=rid)
        return HTMLResponse(body, status_code=status, headers=headers)
    content: dict[str, Any] = {
        "type": f"https://testimony-vault.invalid/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": rid,
        **(extra or {}),
    }
    return JSONResponse(content, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    extra = dict(exc.extra)
    if exc.fields:
        extra["fields"] = exc.fields
    return problem_response(
        request, exc.status, exc.title, exc.detail, type_slug=exc.type_slug, extra=extra, headers=exc.headers()
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    # A malformed id in the path names nothing that exists: answer as for a missing object.
    if any(err.get("loc", ("",))[0] == "path" for err in errors):
        return problem_response(request, 404, NotFound.title, NotFound.title, type_slug=NotFound.type_slug)
    # Only our own names and short codes: pydantic's "input", and any key the client wrote, would echo the request.
    details = describe_all(errors, request.scope.get("route"))
    return problem_response(
        request,
        422,
        ValidationFailed.title,
        "The request did not match what this endpoint accepts.",
        type_slug=ValidationFailed.type_slug,
        extra={"fields": sorted({d["field"] for d in details}), "errors": details},
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}
    title = titles.get(exc.status_code, "Request failed")
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, title, title, type_slug="http-error", headers=headers)


async def _integrity(request: Request, exc: Exception) -> Response:
    # A sealed value that will not open was moved, altered or its key erased: never shown, always reported.
    log.error("integrity check failed in request %s", request_id(request))
    return problem_response(
        request,
        500,
        "Integrity check failed",
        "A stored record failed its integrity check and was not shown. Nothing was changed. "
        "Quote the reference when reporting it.",
        type_slug="integrity",
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Exception messages may carry bound SQL parameters or content: log only
    # the type and the frames, never str(exc).
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    log.error("unhandled %s in request %s\n%s", type(exc).__qualname__, request_id(request), frames)
    return problem_response(
        request,
        500,
        "Internal error",
        "Something went wrong on our side. Nothing was saved. Quote the reference when reporting it.",
        type_slug="internal",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DecryptionFailed, _integrity)
    app.add_exception_handler(Exception, unexpected_error)
