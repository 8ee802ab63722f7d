"""Separation of duties and two-person actions."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from app.access.roles import Role
from tests.support.actors import Actor, actor, shift_clock


def _admins(app: FastAPI) -> tuple[Actor, Actor]:
    return actor(app, "admin-one", [Role.ADMIN]), actor(app, "admin-two", [Role.ADMIN])


def test_content_role_waits_for_a_second_admin(app: FastAPI) -> None:
    first, second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "newdoc", "display_name": "New", "roles": ["documenter"]})
    assert made.status_code == 201
    body = made.json()
    assert body["user"]["roles"] == []  # nothing granted yet
    pending = body["pending_confirmation"]
    assert pending["status"] == "pending"
    assert pending["action"] == "user.grant_roles"
    listed = second.get("/api/v1/confirmations").json()
    assert [c["id"] for c in listed] == [pending["id"]]

    own = first.post(f"/api/v1/confirmations/{pending['id']}")
    assert own.status_code == 403
    assert own.json()["code"] == "same_person"

    done = second.post(f"/api/v1/confirmations/{pending['id']}")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "confirmed"
    users = {u["username"]: u for u in second.get("/api/v1/users").json()}
    assert users["newdoc"]["roles"] == ["documenter"]
    assert second.post(f"/api/v1/confirmations/{pending['id']}").status_code == 409


def test_role_change_to_content_role_is_pending_but_removal_is_immediate(app: FastAPI) -> None:
    first, second = _admins(app)
    target = first.post("/api/v1/users", json={"username": "aud", "display_name": "A", "roles": ["auditor"]})
    user_id = target.json()["user"]["id"]
    assert target.json()["pending_confirmation"] is None  # auditor reads no content
    change = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["custodian"]})
    assert change.status_code == 202
    assert change.json()["user"]["roles"] == ["auditor"]
    rejected = second.post(
        f"/api/v1/confirmations/{change.json()['pending_confirmation']['id']}", json={"decision": "reject"}
    )
    assert rejected.json()["status"] == "rejected"
    removal = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": []})
    assert removal.status_code == 200
    assert removal.json()["user"]["roles"] == []


def test_expired_request_cannot_be_confirmed(app: FastAPI) -> None:
    first, _second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "late", "display_name": "L", "roles": ["legal"]})
    pending_id = made.json()["pending_confirmation"]["id"]
    shift_clock(app, timedelta(hours=25))
    second_again = actor(app, "admin-three", [Role.ADMIN])  # a fresh second factor after the clock moved
    r = second_again.post(f"/api/v1/confirmations/{pending_id}")
    assert r.status_code == 409
    assert "expired" in r.json()["detail"]
    expired = second_again.get("/api/v1/confirmations?status_filter=expired").json()
    assert [c["id"] for c in expired] == [pending_id]


def test_a_new_admin_needs_a_second_admin_too(app: FastAPI) -> None:
    first, second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "puppet", "display_name": "P", "roles": ["admin"]})
    assert made.status_code == 201
    assert made.json()["user"]["roles"] == []
    assert made.json()["pending_confirmation"]["payload"] == {"roles": ["admin"], "from_roles": []}
    assert second.post(f"/api/v1/confirmations/{made.json()['pending_confirmation']['id']}").status_code == 200


def test_no_one_changes_their_own_roles(app: FastAPI) -> None:
    first, _ = _admins(app)
    r = first.request("PATCH", f"/api/v1/users/{first.user_id}", json={"roles": ["admin", "auditor"]})
    assert r.status_code == 403
    assert r.json()["code"] == "self_change"
    disable = first.request("PATCH", f"/api/v1/users/{first.user_id}", json={"active": False})
    assert disable.status_code == 403


def test_no_one_confirms_a_grant_to_themselves(app: FastAPI) -> None:
    first, second = _admins(app)
    # An admin asks for the second admin to become a custodian too (also an incompatible pair).
    r = first.request("PATCH", f"/api/v1/users/{second.user_id}", json={"roles": ["custodian"]})
    assert r.status_code == 202
    assert second.post(f"/api/v1/confirmations/{r.json()['pending_confirmation']['id']}").status_code == 403


def test_incompatible_role_pairs_are_refused(app: FastAPI) -> None:
    first, _ = _admins(app)
    for roles in (["admin", "documenter"], ["auditor", "legal"], ["admin", "custodian"], ["admin", "auditor"]):
        r = first.post(
            "/api/v1/users", json={"username": f"u{len(roles[1])}{roles[0]}", "display_name": "x", "roles": roles}
        )
        assert r.status_code == 422, roles
        assert r.json()["fields"] == ["roles"]
    ok = first.post("/api/v1/users", json={"username": "mixed", "display_name": "x", "roles": ["documenter", "legal"]})
    assert ok.status_code == 201


def test_adding_a_team_member_needs_a_second_admin(app: FastAPI) -> None:
    first, second = _admins(app)
    case = first.post("/api/v1/cases", json={"code": "KB-1", "title": "Case"}).json()
    doc = actor(app, "member", [Role.DOCUMENTER], with_totp=False)
    asked = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": str(doc.user_id)})
    assert asked.status_code == 202
    assert doc.get("/api/v1/cases").json() == []
    assert second.post(f"/api/v1/confirmations/{asked.json()['pending_confirmation']['id']}").status_code == 200
    assert [c["code"] for c in doc.get("/api/v1/cases").json()] == ["KB-1"]
    removed = first.request("DELETE", f"/api/v1/cases/{case['id']}/members/{doc.user_id}")
    assert removed.status_code == 204
    assert doc.get("/api/v1/cases").json() == []


def test_role_change_and_2fa_reset_need_a_fresh_second_factor(app: FastAPI) -> None:
    first, _ = _admins(app)
    target = first.post("/api/v1/users", json={"username": "tee1", "display_name": "T", "roles": []}).json()["user"]
    shift_clock(app, timedelta(minutes=6))
    r = first.request("PATCH", f"/api/v1/users/{target['id']}", json={"roles": ["auditor"]})
    assert r.status_code == 403
    assert r.json()["code"] == "step_up_required"
    reset = first.post(f"/api/v1/users/{target['id']}/reset-2fa")
    assert reset.status_code == 403
    assert reset.json()["code"] == "step_up_required"


def test_member_requests_are_not_duplicated_and_are_rechecked_when_confirmed(app: FastAPI) -> None:
    first, second = _admins(app)
    case = first.post("/api/v1/cases", json={"code": "KB-5", "title": "Case"}).json()
    doc = actor(app, "leaver", [Role.DOCUMENTER], with_totp=False)
    asked = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": str(doc.user_id)})
    assert asked.status_code == 202
    again = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": str(doc.user_id)})
    assert again.status_code == 409
    assert first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"active": False}).status_code == 200
    late = second.post(f"/api/v1/confirmations/{asked.json()['pending_confirmation']['id']}")
    assert late.status_code == 200
    assert late.json()["status"] == "void"
    assert late.json()["payload"]["void_reason"] == "no active user with that id"
    assert second.get(f"/api/v1/cases/{case['id']}/members").json() == []


def test_role_requests_are_not_duplicated_and_go_void_if_the_account_changed(app: FastAPI) -> None:
    first, second = _admins(app)
    target = first.post("/api/v1/users", json={"username": "moving", "display_name": "M", "roles": []}).json()
    user_id = target["user"]["id"]
    asked = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["legal"]})
    assert asked.status_code == 202
    assert first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["documenter"]}).status_code == 409
    # A change that needs no second admin goes through, and the waiting request no longer fits the account.
    assert first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["auditor"]}).status_code == 200
    stale = second.post(f"/api/v1/confirmations/{asked.json()['pending_confirmation']['id']}")
    assert stale.json()["status"] == "void"
    assert stale.json()["payload"]["void_reason"] == "the account's roles changed while the request waited"
    again = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["legal"]})
    assert again.status_code == 202
    assert first.request("PATCH", f"/api/v1/users/{user_id}", json={"active": False}).status_code == 200
    late = second.post(f"/api/v1/confirmations/{again.json()['pending_confirmation']['id']}")
    assert late.json()["status"] == "void"
    users = {u["username"]: u for u in second.get("/api/v1/users").json()}
    assert users["moving"]["roles"] == ["auditor"]
