"""Need-to-know: documenters and legal see only their cases."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from app.access.roles import Role
from tests.support.actors import actor, make_user


def test_members_see_only_their_cases(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    one = admin.post("/api/v1/cases", json={"code": "KB-1", "title": "One"}).json()
    two = admin.post("/api/v1/cases", json={"code": "KB-2", "title": "Two"}).json()
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(one["id"]),))
    legal = actor(app, "lee", [Role.LEGAL], cases=(uuid.UUID(two["id"]),))
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    assert [c["code"] for c in doc.get("/api/v1/cases").json()["items"]] == ["KB-1"]
    assert [c["code"] for c in legal.get("/api/v1/cases").json()["items"]] == ["KB-2"]
    assert [c["code"] for c in custodian.get("/api/v1/cases").json()["items"]] == ["KB-1", "KB-2"]
    assert doc.get(f"/api/v1/cases/{two['id']}").status_code == 404
    assert doc.get("/api/v1/cases/00000000-0000-7000-8000-00000000abcd").status_code == 404
    assert doc.get("/api/v1/cases/not-an-id").status_code == 404


def test_case_input_is_validated(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    bad = admin.post("/api/v1/cases", json={"code": "lower case", "title": "x"})
    assert bad.status_code == 422
    assert bad.json()["fields"] == ["code"]
    nul = admin.post("/api/v1/cases", json={"code": "KB-9", "title": "a\u0000b"})
    assert nul.status_code == 422
    assert nul.json()["fields"] == ["title"]
    assert admin.post("/api/v1/cases", json={"code": "KB-9", "title": "ok"}).status_code == 201
    dup = admin.post("/api/v1/cases", json={"code": "KB-9", "title": "again"})
    assert dup.status_code == 409
    assert [c["code"] for c in admin.get("/api/v1/cases").json()["items"]] == ["KB-9"]


def test_lone_surrogates_are_refused_not_stored(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    body = b'{"code": "KB-3", "title": "a\\ud800b"}'
    r = admin.client.post(
        "/api/v1/cases", content=body, headers={**admin.headers(), "content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["fields"] == ["title"]
    assert admin.get("/api/v1/cases").json()["items"] == []


def test_a_team_list_names_each_member_by_username_and_display_name(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    case_id = admin.post("/api/v1/cases", json={"code": "KB-3", "title": "Three"}).json()["id"]
    ani, _ = make_user(app, "ani", [Role.LEGAL], cases=(uuid.UUID(case_id),), display_name="Ani Petrosyan")
    members = admin.get(f"/api/v1/cases/{case_id}/members").json()["items"]
    assert [(m["user_id"], m["username"], m["display_name"]) for m in members] == [(str(ani), "ani", "Ani Petrosyan")]
