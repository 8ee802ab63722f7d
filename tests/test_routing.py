"""Route matching by prefix (app/core/routing.py) answers every path as the routes themselves would."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from app.access.roles import Role
from tests.support.actors import actor, anonymous

_PARAM = re.compile(r"{[^}]*}")


def _scope(path: str, method: str = "GET", root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "headers": [],
        "query_string": b"",
    }


def _sample_paths(app: FastAPI) -> list[str]:
    """Every registered path with its parameters filled, with and without a trailing slash, and near misses."""
    paths = {"/", "/nowhere", "/api", "/api/v1", "/api/v1/", "/static", "/static/web", "/static/web/x.css"}
    for route in app.routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        for filler in (str(uuid.uuid4()), "a/b"):
            full = _PARAM.sub(filler, path) if "{" in path else path
            paths |= {full, full.rstrip("/") or "/", full + "/", full + "/more", full[:-1] or "/"}
    return sorted(paths)


def _unguarded(route: BaseRoute, scope: dict[str, Any]) -> Match:
    match, _ = type(route).matches(route, dict(scope))
    return match


def test_a_guarded_route_answers_no_match_only_where_it_would_not_match(app: FastAPI) -> None:
    guarded = [route for route in app.router.routes if "matches" in vars(route)]
    assert len(guarded) > 30  # the API's and pages' routers, the mounts
    skipped = 0
    for path in _sample_paths(app):
        for method in ("GET",):  # the guard reads the path alone; a method mismatch is the route's PARTIAL
            for root_path in ("", "/behind-proxy"):
                scope = _scope(path, method, root_path)
                for route in guarded:
                    match, _ = route.matches(dict(scope))
                    assert match == _unguarded(route, scope), (path, method, root_path, route)
                    skipped += match is Match.NONE
    assert skipped > 0


def test_requests_reach_the_routes_they_reached_before(app: FastAPI) -> None:
    doc = actor(app, "doc", [Role.DOCUMENTER])
    missing = uuid.uuid4()
    # A late API route, an unknown interview: the draft route answers (404 problem), not the router.
    saved = doc.request("PUT", f"/api/v1/interviews/{missing}/draft", json={"text": "x"})
    assert saved.status_code == 404
    assert saved.headers["content-type"].startswith("application/problem+json")
    assert doc.get("/api/v1/nowhere").status_code == 404
    # A method the route does not take is still 405, found by the same route.
    assert doc.request("DELETE", f"/api/v1/interviews/{missing}/draft").status_code == 405
    # Public and page routes, and a static file mounted after every router.
    assert anonymous(app).get("/api/v1/health").status_code == 200
    assert anonymous(app).get("/login").status_code == 200
    assert doc.get("/cases").status_code == 200
    assert anonymous(app).get("/static/web/style.css").status_code == 200
