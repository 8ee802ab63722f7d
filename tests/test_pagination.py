"""Every list is paginated with a cursor and a bounded limit; filters are typed and unknown ones refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.roles import Role
from app.audit import service as audit
from app.core.db import unit_of_work
from app.main import OPENAPI_URL
from tests.support.actors import Actor, actor, make_user
from tests.support.consent import participation, person_in
from tests.support.world import World, path_of


def _walk(who: Actor, path: str, limit: int = 1) -> list[Any]:
    """Every item of a list, a page at a time, checking that no page repeats an item."""
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = who.get(path, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, Actor, str]:
    admin = actor(app, "adm", [Role.ADMIN])
    case_ids = [admin.post("/api/v1/cases", json={"code": f"KP-{i}", "title": "t"}).json()["id"] for i in range(3)]
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=tuple(uuid.UUID(c) for c in case_ids))
    for name in ("ani", "bagrat", "gohar"):
        make_user(app, name, [Role.LEGAL], cases=(uuid.UUID(case_ids[0]),))
    return admin, doc, case_ids[0]


def test_lists_come_in_pages_that_add_up_to_the_whole(app: FastAPI, team: tuple[Actor, Actor, str]) -> None:
    admin, doc, case_id = team
    people = [person_in(doc, case_id)["id"] for _ in range(3)]
    for _ in range(3):
        assert doc.post(f"/api/v1/people/{people[0]}/participation", json=participation(app)).status_code == 201
    for i in range(3):
        assert doc.post("/api/v1/auth/tokens", json={"name": f"t{i}"}).status_code == 201

    users = [u["username"] for u in _walk(admin, "/api/v1/users")]
    assert users == sorted(users) == ["adm", "ani", "bagrat", "doc", "gohar"]
    assert [c["code"] for c in _walk(doc, "/api/v1/cases", limit=2)] == ["KP-0", "KP-1", "KP-2"]
    members = [m["username"] for m in _walk(admin, f"/api/v1/cases/{case_id}/members", limit=2)]
    assert members == ["ani", "bagrat", "doc", "gohar"]
    assert [p["id"] for p in _walk(doc, f"/api/v1/cases/{case_id}/people")] == people
    assert [v["version"] for v in _walk(doc, f"/api/v1/people/{people[0]}/participation")] == [1, 2, 3]
    assert [t["name"] for t in _walk(doc, "/api/v1/auth/tokens", limit=2)] == ["t0", "t1", "t2"]
    assert [f["version"] for f in _walk(doc, "/api/v1/consent-forms", limit=1)] == ["v1", "v2"]

    auditor = actor(app, "aud", [Role.AUDITOR])
    for _ in range(3):
        assert admin.get("/api/v1/users").status_code == 200  # a new event: each checkpoint covers more
        with unit_of_work(app.state.sessionmaker) as s:
            assert audit.make_checkpoint(s, app.state.keys.current.signer, "pages/audit") is not None
    sizes = [c["size"] for c in _walk(auditor, "/api/v1/audit/checkpoints")]
    assert len(sizes) == 3
    assert sizes == sorted(sizes)
    assert len(_walk(auditor, "/api/v1/audit/public-key")) == 1


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=201", "limit=x", "cursor=" + "9" * 201],
)
def test_a_bad_page_request_is_422(app: FastAPI, team: tuple[Actor, Actor, str], query: str) -> None:
    admin, _, _ = team
    r = admin.get(f"/api/v1/users?{query}")
    assert r.status_code == 422


def test_a_cursor_that_no_list_gave_is_422_without_being_echoed(app: FastAPI, team: tuple[Actor, Actor, str]) -> None:
    _, doc, case_id = team
    for path in (f"/api/v1/cases/{case_id}/people", "/api/v1/auth/tokens", "/api/v1/consent-forms"):
        r = doc.get(path, params={"cursor": "not-a-cursor"})
        assert r.status_code == 422, path
        assert r.json()["fields"] == ["cursor"]
        assert "not-a-cursor" not in r.text


def test_filters_are_typed_and_unknown_ones_refused(app: FastAPI, team: tuple[Actor, Actor, str]) -> None:
    admin, _, _ = team
    auditor = actor(app, "aud", [Role.AUDITOR])
    for who, path in (
        (admin, "/api/v1/confirmations?status=bogus"),
        (admin, "/api/v1/confirmations?status_filter=pending"),
        (auditor, "/api/v1/audit/events?action=bogus.action"),
        (auditor, "/api/v1/audit/events?outcome=maybe"),
        (auditor, "/api/v1/audit/events?user=adm"),
        (admin, "/api/v1/users?role=admin"),
    ):
        r = who.get(path)
        assert r.status_code == 422, path
        for value in ("bogus", "status_filter", "maybe", "user=", "role"):
            assert value not in r.text
    assert auditor.get("/api/v1/audit/events?action=case.create&outcome=allowed").status_code == 200
    assert admin.get("/api/v1/confirmations?status=pending").status_code == 200


def test_numbers_and_times_out_of_range_are_422_not_500(app: FastAPI, team: tuple[Actor, Actor, str]) -> None:
    _, doc, case_id = team
    person = person_in(doc, case_id)["id"]
    assert doc.get(f"/api/v1/people/{person}/participation", params={"cursor": str(2**31)}).status_code == 422
    auditor = actor(app, "aud2", [Role.AUDITOR])
    for query in (
        {"cursor": "9" * 190},
        {"cursor": "-99999999999999999999"},
    ):
        assert auditor.get("/api/v1/audit/checkpoints", params=query).status_code == 422, query
    for query in (
        {"since": "2020-01-01T00:00:00"},
        {"since": "0001-01-01T00:00:00+23:59"},
        {"until": "9999-12-31T23:59:59-23:59"},
    ):
        r = auditor.get("/api/v1/audit/events", params=query)
        assert r.status_code == 422, query
        assert next(iter(query.values())) not in r.text


# The lists whose page names its items and its cursor otherwise (documented in docs/api.md).
ITEMS = {"/api/v1/audit/events": "events", "/api/v1/duplicate-reviews": "reviews"}
CURSOR = {"/api/v1/audit/events": "after"}
# Filters that match what an event recorded, whatever it is: an actor, a resource id, a credential.
FREE_TEXT = {"/api/v1/audit/events": {"actor", "resource_id", "credential"}}
GROWS = {"/api/v1/audit/events"}  # each read of the log adds an event to it
READERS = ("doc_in", "custodian", "auditor", "admin")


def _lists(world: World) -> list[tuple[str, dict[str, Any]]]:
    """Every GET operation of the OpenAPI document that answers a page."""
    document = world.actors["admin"].get(OPENAPI_URL).json()
    found = []
    for template, operations in document["paths"].items():
        get = operations.get("get")
        answer = get["responses"].get("200", {}).get("content", {}) if get else {}
        if "Page" in answer.get("application/json", {}).get("schema", {}).get("$ref", ""):
            found.append((template, {p["name"]: p["schema"] for p in get.get("parameters", []) if p["in"] == "query"}))
    return found


def test_every_list_of_the_api_pages_with_a_bounded_limit_and_types_its_filters(world: World) -> None:
    lists = _lists(world)
    assert len(lists) >= 17, [t for t, _ in lists]  # a list that stopped being a page is noticed
    for template, params in lists:
        path = path_of(template, world)
        cursor_name = CURSOR.get(template, "cursor")
        assert {cursor_name, "limit"} <= set(params), template
        assert params["limit"]["maximum"] <= 500, template
        reader = next(who for who in READERS if world.actors[who].get(path).status_code == 200)
        who = world.actors[reader]
        whole = who.get(path, params={"limit": params["limit"]["maximum"]}).json()
        key = ITEMS.get(template, "items")
        assert whole["next_cursor"] is None, template
        assert whole[key], f"{template}: the world has nothing in this list, so its pages prove nothing"
        walked: list[Any] = []
        query: dict[str, Any] = {"limit": 1}
        while True:
            page = who.get(path, params=query).json()
            assert len(page[key]) <= 1, template
            walked += page[key]
            if page["next_cursor"] is None or (template in GROWS and len(walked) == len(whole[key])):
                break
            query = {"limit": 1, cursor_name: page["next_cursor"]}
            assert len(walked) < len(whole[key]), template
        assert walked == whole[key], template
        for bad in ({"limit": params["limit"]["maximum"] + 1}, {"limit": 0}):
            assert who.get(path, params=bad).status_code == 422, (template, bad)
        # Lists keyed on a name take any text as a cursor; the others refuse what no page gave.
        assert who.get(path, params={cursor_name: "not-a-cursor"}).status_code in (200, 422), template
        for name in set(params) - {cursor_name, "limit"} - FREE_TEXT.get(template, set()):
            r = who.get(path, params={name: "bogus"})  # no filter of the API takes any text
            assert r.status_code == 422, (template, name)
            assert "bogus" not in r.text
