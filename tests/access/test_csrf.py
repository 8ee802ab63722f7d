"""Every unsafe route refuses a session cookie without the right X-CSRF-Token: 403 `csrf`, and
nothing changes but the audit log's record of the refusal. With the right header, the same request
by the same user succeeds (as the matrix expects), so the refusal is the header's doing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import Base
from tests.access.test_matrix import MATRIX, SESSION_ACTORS
from tests.support.routes import protected_routes
from tests.support.world import World, body_of, path_of

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ROUTES = sorted(key for key in MATRIX if key[0] in UNSAFE)
AUDIT_TABLES = {"audit_events", "audit_checkpoints"}  # a refusal is recorded there, by design
READS_BY_POST = {("POST", "/api/v1/consents/lookup"), ("POST", "/api/v1/exports/preview")}
"""Reads sent as a POST so that what they carry stays out of the URL: a success changes nothing but the log."""


def test_every_unsafe_route_is_probed(app: FastAPI) -> None:
    walked = {(r.method, r.path) for r in protected_routes(app) if r.method in UNSAFE}
    assert walked == set(ROUTES)
    assert len(walked) > 15


def _snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    tables = sorted(set(Base.metadata.tables) - AUDIT_TABLES)
    with unit_of_work(world.app.state.sessionmaker) as s:
        return {t: sorted(map(tuple, s.execute(select(Base.metadata.tables[t])).all()), key=repr) for t in tables}


def _who(method: str, template: str) -> str:
    """The first session user the matrix expects to succeed, or an admin where none does."""
    expected = MATRIX[(method, template)][1]
    return next((a for a in SESSION_ACTORS if 200 <= expected[a] < 300), "admin")


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=lambda v: str(v))
def test_csrf_is_required(world: World, method: str, template: str) -> None:
    body, expected = MATRIX[(method, template)]
    who = _who(method, template)
    actor = world.actors[who]
    assert actor.csrf is not None
    path = path_of(template, world)
    before = _snapshot(world)
    for header in ({}, {"x-csrf-token": "0" * 64}, {"x-csrf-token": actor.csrf[:-1]}):
        r = actor.client.request(method, path, **body_of(body(world, who), header))
        assert (r.status_code, r.json()["code"]) == (403, "csrf"), r.text
    assert _snapshot(world) == before
    allowed = actor.request(method, path, **body_of(body(world, who)))
    assert allowed.status_code == expected[who], allowed.text
    if (method, template) in READS_BY_POST:
        assert _snapshot(world) == before
    elif allowed.status_code < 300:
        assert _snapshot(world) != before  # the snapshot sees what this route changes


def test_a_csrf_header_with_non_ascii_characters_is_403_not_500(world: World) -> None:
    """hmac.compare_digest refuses a str holding non-ASCII characters; a header is compared as bytes."""
    actor = world.actors["admin"]
    assert actor.csrf is not None
    for value in ("é".encode(), "токен".encode(), actor.csrf[:-1].encode() + b"\xff", b"\x80" * 64):
        r = actor.client.post("/api/v1/auth/tokens", json={"name": "t"}, headers={b"x-csrf-token": value})
        assert (r.status_code, r.headers["content-type"]) == (403, "application/problem+json"), r.text
        assert r.json()["code"] == "csrf"
