"""The application's API routes, flattened across included routers."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.main import PUBLIC_PATHS


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    dependant: Dependant


def api_routes(app: FastAPI) -> list[ApiRoute]:
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and ctx.path is not None:
            found += [ApiRoute(m, ctx.path, route.dependant) for m in sorted(route.methods or ())]
    assert found, "no API routes found: the route walk itself is broken"
    return found


def protected_routes(app: FastAPI) -> list[ApiRoute]:
    return [r for r in api_routes(app) if r.path not in PUBLIC_PATHS]
