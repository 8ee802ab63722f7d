"""Where a validation error lies, said only in our own words.

Pydantic's error locations mix our field names with what the client sent: an unknown key, a
dict key, a union member's tag. An error body keeps a location part only when it is a list
index or a name from the route's own parameters and schemas, so nothing of the input (however
long, whatever it says) is ever echoed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, get_args

from fastapi.routing import APIRoute
from pydantic import BaseModel

SOURCES = frozenset({"body", "query", "path", "header", "cookie"})
UNKNOWN_FIELD = "unknown_field"
_CHOICES = frozenset({"enum", "literal_error"})


def _collect(annotation: Any, names: set[str], seen: set[int]) -> None:
    if id(annotation) in seen:
        return
    seen.add(id(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            names.add(name)
            names.update(a for a in (info.alias, info.validation_alias) if isinstance(a, str))
            _collect(info.annotation, names, seen)
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        # Our vocabulary; it shows up in a location only as a valid dict key.
        names.update(str(member.value) for member in annotation)
    for arg in get_args(annotation):
        _collect(arg, names, seen)


def schema_names(route: object) -> frozenset[str]:
    """Every parameter name, field name and alias the route's own schemas declare."""
    if not isinstance(route, APIRoute):
        return frozenset()
    names: set[str] = set()
    seen: set[int] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        pending.extend(dependant.dependencies)
        params = (
            dependant.path_params
            + dependant.query_params
            + dependant.header_params
            + dependant.cookie_params
            + dependant.body_params
        )
        for param in params:
            names.update({param.name, param.alias})
            _collect(param.field_info.annotation, names, seen)
    return frozenset(names)


def describe(error: Mapping[str, Any], names: frozenset[str]) -> dict[str, str]:
    """One error as {"field", "problem"}: the field path without any part the client wrote."""
    loc = tuple(error.get("loc", ()))
    problem = str(error.get("type", "invalid"))
    if problem == "extra_forbidden":
        # The last part is the unknown key itself: report where it was, not what it was.
        loc, problem = loc[:-1], UNKNOWN_FIELD
    parts: list[str] = []
    for i, part in enumerate(loc[1:], start=1):
        if isinstance(part, int) and not isinstance(part, bool):
            parts.append(str(part))
        elif i + 1 < len(loc) and loc[i + 1] == "[key]":
            continue  # an invalid dict key: the client's, whatever it says
        elif isinstance(part, str) and part in names:
            parts.append(part)
    source = str(loc[0]) if loc and loc[0] in SOURCES else "body"
    described = {"field": ".".join(parts) or source, "problem": problem}
    expected = error.get("ctx", {}).get("expected")
    if problem in _CHOICES and isinstance(expected, str):
        # Pydantic builds this from the schema's own choices (our vocabulary), never from the input.
        described["allowed"] = expected
    return described


def describe_all(errors: Iterable[Mapping[str, Any]], route: object) -> list[dict[str, str]]:
    """Every distinct error, in order (a thousand unknown keys are one error)."""
    names = schema_names(route)
    seen: set[tuple[str, str]] = set()
    described: list[dict[str, str]] = []
    for error in errors:
        item = describe(error, names)
        if (key := (item["field"], item["problem"])) not in seen:
            seen.add(key)
            described.append(item)
    return described
