"""The application's routes, flattened across included routers: the API's, and the web pages'."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.main import PUBLIC_PATHS
from app.web.routes import PUBLIC_PAGES


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    dependant: Dependant


def _routes(app: FastAPI) -> list[ApiRoute]:
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and ctx.path is not None:
            found += [ApiRoute(m, ctx.path, route.dependant) for m in sorted(route.methods or ())]
    return found


def api_routes(app: FastAPI) -> list[ApiRoute]:
    found = [r for r in _routes(app) if r.path.startswith("/api/")]
    assert found, "no API routes found: the route walk itself is broken"
    return found


def protected_routes(app: FastAPI) -> list[ApiRoute]:
    return [r for r in api_routes(app) if r.path not in PUBLIC_PATHS]


def page_routes(app: FastAPI) -> list[ApiRoute]:
    """Every route outside /api/: the web interface's pages and forms."""
    found = [r for r in _routes(app) if not r.path.startswith("/api/")]
    assert found, "no page routes found: the route walk itself is broken"
    return found


def protected_pages(app: FastAPI) -> list[ApiRoute]:
    return [r for r in page_routes(app) if r.path not in PUBLIC_PAGES]
