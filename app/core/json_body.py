"""JSON request bodies, read strictly before any route sees them.

Python's ``json`` module is lenient where a records system must not be: it keeps the last of two
equal keys (so a body can say one thing to a proxy or a log reader and another to us), accepts
``NaN`` and ``Infinity``, turns ``1e999`` into infinity, reads integers of any length, and nests
as deep as the interpreter's stack. Here each of those is refused with a 422 problem naming
``body`` and a short code, never repeating what was sent:

- ``json_not_utf8``: the body is not UTF-8 (RFC 8259 section 8.1);
- ``json_invalid``: not JSON at all;
- ``json_duplicate_key``: an object names a key twice;
- ``json_number``: ``NaN``, ``Infinity``, a number outside what a float holds, or an integer
  outside 64 bits (no field of ours takes more; the databases could not store it);
- ``json_too_deep``: objects and arrays nested deeper than ``MAX_DEPTH``.

A route that takes a JSON body refuses any other content type with 415 (``json_body_request``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from app.core.errors import UnsupportedMediaType, ValidationFailed

MAX_DEPTH = 32
"""Deepest nesting of objects and arrays a body may have; our deepest schema needs 5."""
MAX_INT = 2**63 - 1
MAX_INT_DIGITS = len(str(MAX_INT))


class _Refused(ValueError):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused("json_duplicate_key")
        result[key] = value
    return result


def _no_constant(_name: str) -> Any:
    raise _Refused("json_number")


def _int(text: str) -> int:
    # Checked on its length first: converting thousands of digits is itself the cost to avoid.
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused("json_number")
    value = int(text)
    if not -MAX_INT - 1 <= value <= MAX_INT:
        raise _Refused("json_number")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("json_number")
    return value


def _depth_within(value: Any, limit: int) -> bool:
    """Whether no object or array lies deeper than limit; iterative, so depth costs no stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


def _refusal(problem: str) -> ValidationFailed:
    messages = {
        "json_not_utf8": "The request body is not UTF-8 text.",
        "json_invalid": "The request body is not valid JSON.",
        "json_duplicate_key": "The request body names the same key twice in one object.",
        "json_number": "The request body holds a number this service does not accept "
        "(NaN, infinity, or outside 64 bits).",
        "json_too_deep": f"The request body nests objects and arrays deeper than {MAX_DEPTH} levels.",
    }
    return ValidationFailed(messages[problem], fields=["body"], errors=[{"field": "body", "problem": problem}])


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters aside."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def require_json_media_type(content_type: str | None) -> None:
    """415 unless the body is declared as JSON."""
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            "This endpoint takes a JSON body: send it with Content-Type: application/json.",
            fields=["content-type"],
            code="json_body_required",
        )


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON, or a 422 ValidationFailed naming what is wrong with it (see the module)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refusal("json_not_utf8") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_int, parse_float=_float
        )
    except _Refused as refused:
        raise _refusal(refused.problem) from None
    except RecursionError:
        raise _refusal("json_too_deep") from None
    except ValueError:  # JSONDecodeError, and a lone surrogate or other text json cannot read
        raise _refusal("json_invalid") from None
    if not _depth_within(value, MAX_DEPTH):
        raise _refusal("json_too_deep")
    return value
