"""Every form refuses a post without its token (missing, wrong, cut short or not ASCII): 403 and an
error page, and nothing changes but the audit log's record of the refusal. With the token the same post
by the same user is accepted (as the page matrix expects), so the refusal is the token's doing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import Base
from tests.support.pages import browser, token_in
from tests.support.routes import page_routes
from tests.support.world import World, path_of
from tests.web.test_pages import ACTORS, MATRIX, answer_of, assert_page_headers, fill, post_form

FORMS = sorted(key for key in MATRIX if key[0] == "POST")
AUDIT_TABLES = {"audit_events", "audit_checkpoints"}
REFUSED_TOKENS = [None, "", "0" * 64, "տ" * 64]


def test_every_form_is_probed(app: FastAPI) -> None:
    assert {(r.method, r.path) for r in page_routes(app) if r.method != "GET"} == set(FORMS)


def _snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    tables = sorted(set(Base.metadata.tables) - AUDIT_TABLES)
    with unit_of_work(world.app.state.sessionmaker) as s:
        return {t: sorted(map(tuple, s.execute(select(Base.metadata.tables[t])).all()), key=repr) for t in tables}


def _who(template: str) -> str:
    """The first user the matrix expects to get through, or a documenter on the team."""
    expected = MATRIX[("POST", template)][1]
    return next((a for a in ACTORS if a != "anon" and int(expected[a][:3]) < 400), "doc_in")


@pytest.mark.parametrize("template", [t for _, t in FORMS], ids=str)
def test_a_form_without_its_token_is_refused(world: World, template: str) -> None:
    fields, expected = MATRIX[("POST", template)]
    who = _who(template)
    actor = world.actors[who]
    actor.client.follow_redirects = False
    assert actor.csrf is not None
    path = path_of(template, world)
    filled = fill(fields, world, who)
    before = _snapshot(world)
    for token in REFUSED_TOKENS:
        data = filled if token is None else {**filled, "csrf_token": token}
        refused = post_form(actor.client, template, path, data)
        assert refused.status_code == 403, (token, refused.text)
        assert "This form has expired." in refused.text
        assert_page_headers(refused)
    cut = post_form(actor.client, template, path, {**filled, "csrf_token": actor.csrf[:-1]})
    assert cut.status_code == 403
    assert _snapshot(world) == before
    accepted = post_form(actor.client, template, path, {**filled, "csrf_token": actor.csrf})
    assert answer_of(accepted) == expected[who]


def test_the_login_form_needs_the_token_its_page_set(app: FastAPI) -> None:
    client = browser(app)
    fields = {"username": "nobody", "password": "wrong"}
    assert client.post("/login", data={**fields, "csrf_token": "x" * 43}).status_code == 403  # no form cookie yet
    token = token_in(client.get("/login").text)
    for wrong in REFUSED_TOKENS:
        data = fields if wrong is None else {**fields, "csrf_token": wrong}
        assert client.post("/login", data=data).status_code == 403
    assert client.post("/login", data={**fields, "csrf_token": token}).status_code == 401
    # Another browser's token is not this one's.
    other = token_in(browser(app).get("/login").text)
    assert client.post("/login", data={**fields, "csrf_token": other}).status_code == 403
