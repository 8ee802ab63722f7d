"""Route matching by path prefix: each of the app's top-level routes is tried only for paths it could match.

FastAPI tries the app's routes in order, and each included router tries each of its routes in turn, with
bookkeeping per route that costs more than the regular expression: a request to a route registered late
paid for every route before it (about 80 before an interview's draft). A route's path can only match a
request path that starts with the route's literal part (its path up to the first parameter), so a top-level
route none of whose paths' literal parts begins the request's path is answered "no match" at once, by one
``str.startswith`` over a tuple. The order in which routes are tried, and so which route answers, is
unchanged; so are the routes themselves, their URLs and the OpenAPI document.

The prefixes are read once, from the routes as registered, when the app is built: what the router would
compute from them anyway, not anything a request leaves behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import _EffectiveRouteContext, _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Host, Match, Mount
from starlette.types import Scope

Matcher = Callable[[Scope], tuple[Match, Scope]]


def _literal(path_format: str | None) -> str | None:
    """A path's literal part: everything before its first parameter (None: unknown, never guarded)."""
    if not isinstance(path_format, str) or not path_format.startswith("/"):
        return None
    return path_format.split("{", 1)[0]


def _prefixes(route: BaseRoute | _EffectiveRouteContext) -> list[str] | None:
    """The literal parts of every path a top-level route can match, or None when one is not known."""
    if isinstance(route, _IncludedRouter):
        found: list[str] = []
        candidates: Iterable[Any] = route.effective_candidates()
        for candidate in candidates:
            inner = _prefixes(candidate)
            if inner is None:
                return None
            found += inner
        return found
    if isinstance(route, Host):
        return None
    if isinstance(route, _EffectiveRouteContext):
        literal = _literal(route.path_format)
    elif isinstance(route, Mount):
        literal = _literal(getattr(route, "path_format", None))
        # A mount matches its path followed by "/..." (the regex's remaining path), never a longer name.
        literal = None if literal is None else literal.rstrip("/") + "/"
    else:
        literal = _literal(getattr(route, "path_format", None))
    return None if literal is None else [literal]


def _guarded(matches: Matcher, prefixes: tuple[str, ...]) -> Matcher:
    def guarded(scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and not get_route_path(scope).startswith(prefixes):
            return Match.NONE, {}
        return matches(scope)

    return guarded


def index_by_prefix(app: FastAPI) -> int:
    """Guard each top-level route of the built app by its paths' literal parts; how many were guarded.

    Call it once every route is registered: a route added after it is matched as before, unguarded."""
    guarded = 0
    for route in app.router.routes:
        prefixes = _prefixes(route)
        if not prefixes:
            continue
        # An attribute of this route object only: the router still calls ``route.matches(scope)`` in its order.
        route.matches = _guarded(route.matches, tuple(sorted(set(prefixes))))  # type: ignore[method-assign,assignment]
        guarded += 1
    return guarded
