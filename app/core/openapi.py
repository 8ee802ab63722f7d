"""The API describes itself: every operation lists the problems it can answer, in one shared
problem+json schema, and the security schemes say how to send credentials."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, params
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from app.core.errors import PROBLEM_JSON


class ProblemError(BaseModel):
    field: str
    problem: str
    allowed: str | None = None
    """For a value outside a fixed list: that list, in words (``'main', 'child' or 'guardian'``)."""


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str
    code: str | None = None
    """Where a client must tell causes apart (csrf, step_up_required, self_change...)."""
    fields: list[str] | None = None
    """The fields at fault (names from our schemas, never the client's own keys)."""
    errors: list[ProblemError] | None = None


PROBLEMS = {
    400: "The path or query holds a NUL byte or is not UTF-8 text",
    401: "Not logged in, or the session or token has ended",
    403: "The role never allows this, or a rule forbids it now (see `code`)",
    404: "Missing, or outside what you may see; the two look alike",
    408: "The request body arrived too slowly and was cut off; nothing was saved",
    409: "Conflicts with the current state (a value taken, a request already decided...)",
    413: "The request body is over the limit",
    422: "The input is not acceptable; `fields` says where",
    429: "Too many attempts; wait `Retry-After` seconds",
    503: "Busy: no database connection free, or (health) the database does not answer",
}
PUBLIC_PROBLEMS = (400, 408, 413, 422, 429, 503)
JSON_BODY_PROBLEMS = {415: "The body is not sent as JSON (`Content-Type: application/json`)"}

UPLOAD_PROBLEMS = {
    400: "The connection ended before the whole body arrived (a resumable upload keeps what was acknowledged)",
    408: "The client sent nothing for too long; resume, or send again",
    413: "The file is over the attachment limit",
    415: "The file's type is not one its kind allows, or the file is not well formed as the type its first bytes name",
}


def upload_problems() -> dict[int | str, dict[str, Any]]:
    """The extra problems of a route that streams a file in: pass as the route's ``responses``."""
    return {code: {"model": Problem, "description": text} for code, text in UPLOAD_PROBLEMS.items()}


def declared_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """The API routes as their routers declare them (path prefixes included), included routers walked flat.

    Not through ``fastapi.routing.iter_route_contexts``: that builds each included route's per-app copy, which
    FastAPI otherwise builds lazily, at the first request a router answers; building all of them was most of the
    time create_app() took. The app includes its routers without a prefix of its own, so a declared path is the
    served one (tests/test_openapi.py checks both against iter_route_contexts)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # fastapi.routing._IncludedRouter
        if included is not None:
            yield from declared_routes(included.routes)


def describe_problems(app: FastAPI, public_paths: frozenset[str]) -> None:
    """Declare the problem responses of every operation, and the credentials it takes."""
    for route in declared_routes(app.routes):
        path = route.path
        if not path.startswith("/api/"):
            continue
        described = {code: PROBLEMS[code] for code in (PUBLIC_PROBLEMS if path in public_paths else PROBLEMS)}
        if route.body_field is not None and not isinstance(route.body_field.field_info, params.Form):
            described.update(JSON_BODY_PROBLEMS)
        for code, description in described.items():
            route.responses.setdefault(
                code, {"model": Problem, "description": description, "content": {PROBLEM_JSON: {}}}
            )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        _problem_media_type(schema)
        schema.setdefault("components", {})["securitySchemes"] = {
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "testimony_session",
                "description": "The session cookie from POST /api/v1/auth/login (`__Host-testimony_session` "
                "outside development mode). Unsafe methods also need the CSRF header.",
            },
            "csrf": {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRF-Token",
                "description": "`user.csrf_token` from the login or from GET /api/v1/me. A plain HTML form "
                "posting to POST /api/v1/interviews/{interview_id}/attachments may send it as its first field, "
                "`csrf_token`, instead; no other route takes it from a form.",
            },
            "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`tvt_...`)"},
        }
        for path, operations in schema.get("paths", {}).items():
            if path in public_paths:
                continue
            for method, operation in operations.items():
                session: dict[str, list[str]] = {"session": []}
                if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
                    session["csrf"] = []
                operation["security"] = [session, {"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_media_type(schema: dict[str, Any]) -> None:
    """FastAPI names problems application/json; they are served as application/problem+json."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if (
                    code.isdigit()
                    and (int(code) in PROBLEMS or int(code) in UPLOAD_PROBLEMS or int(code) in JSON_BODY_PROBLEMS)
                    and "application/json" in content
                ):
                    content[PROBLEM_JSON] = content.pop("application/json")
