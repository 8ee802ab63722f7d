"""Every list is a page: a cursor and a limit in, the items and the next cursor out.

Keyset pagination on a unique, ordered column: the cursor is the last key of the page, so a page
is never skipped or repeated while rows are added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.errors import ValidationFailed
from app.core.schemas import Output

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last one."""


@dataclass(frozen=True)
class PageRequest:
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


async def page_request(  # async: nothing to wait for, so no hand-off to the thread pool
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageRequest:
    return PageRequest(cursor, limit)


PageQuery = Annotated[PageRequest, Depends(page_request)]
FIRST_PAGE = PageRequest()


def every_page(fetch: Callable[[PageRequest], Page[T]]) -> list[T]:
    """All the items of a list, page by page (for the command line, which shows them whole)."""
    items: list[T] = []
    request = PageRequest(limit=MAX_LIMIT)
    while True:
        page = fetch(request)
        items += page.items
        if page.next_cursor is None:
            return items
        request = PageRequest(page.next_cursor, MAX_LIMIT)


def int_cursor(maximum: int) -> Callable[[str], int]:
    """Parse a cursor over an integer column of at most ``maximum`` (a larger one is refused, not sent on)."""

    def parse(cursor: str) -> int:
        value = int(cursor)
        if not 0 <= value <= maximum:
            raise ValueError("out of range")
        return value

    return parse


INT32 = 2**31 - 1
INT64 = 2**63 - 1


def keyset(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    key: InstrumentedAttribute[Any] | ColumnElement[Any],
    request: PageRequest,
    parse: Callable[[str], Any],
    key_of: Callable[[Any], Any],
    *,
    descending: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """One page of ``stmt`` ordered by the unique ``key``; ``key_of`` reads the key from a row."""
    if request.cursor is not None:
        try:
            after = parse(request.cursor)
        except ValueError:
            raise ValidationFailed("the cursor is not one this list gave", fields=["cursor"]) from None
        stmt = stmt.where(key < after if descending else key > after)
    limit = max(1, min(request.limit, MAX_LIMIT))
    rows = session.execute(stmt.order_by(key.desc() if descending else key).limit(limit + 1)).all()
    page = [row[0] if len(row) == 1 else tuple(row) for row in rows[:limit]]
    return page, str(key_of(page[-1])) if len(rows) > limit else None


def in_memory(items: Sequence[R], request: PageRequest) -> tuple[Sequence[R], str | None]:
    """A page of a short list held in memory (consent forms); the cursor is a position."""
    try:
        start = int(request.cursor) if request.cursor is not None else 0
    except ValueError:
        raise ValidationFailed("the cursor is not one this list gave", fields=["cursor"]) from None
    if start < 0:
        raise ValidationFailed("the cursor is not one this list gave", fields=["cursor"])
    end = start + max(1, min(request.limit, MAX_LIMIT))
    return items[start:end], str(end) if end < len(items) else None
