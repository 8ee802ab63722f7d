"""A person's lock held from another connection, as a worker stalled mid-build would hold it, while a test
sends a request that needs it; and what that request must answer once its bounded wait ran out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx
from fastapi import FastAPI

from app.core.db import make_engine, make_sessionmaker
from app.people.models import Person
from app.people.records import hold


@contextmanager
def person_held(url: str, person: str) -> Iterator[None]:
    """Hold the person's row on a connection of its own, doing nothing, until the block ends."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as holder:
            row = holder.get(Person, uuid.UUID(person))
            assert row is not None
            hold(holder, row)
            try:
                yield
            finally:
                holder.rollback()
    finally:
        engine.dispose()


def refused_after_the_wait(app: FastAPI, answer: httpx.Response, waited: float) -> None:
    """503 problem+json with Retry-After, answered once ``exports.lock_wait_seconds`` ran out, not a hang."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "10"
    limit = app.state.runtime.settings.exports.lock_wait_seconds
    assert limit <= waited < limit + 10
