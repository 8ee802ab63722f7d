"""Separation of duties and two-person actions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from app.access.roles import Role
from app.confirmations.models import Confirmation
from app.core.db import unit_of_work
from tests.support.actors import PASSWORD, Actor, actor, anonymous, code, make_user, shift_clock

LOGIN = "/api/v1/auth/login"


def _admins(app: FastAPI) -> tuple[Actor, Actor]:
    return actor(app, "admin-one", [Role.ADMIN]), actor(app, "admin-two", [Role.ADMIN])


def _decide(admin: Actor, confirmation_id: str, decision: str = "confirm") -> Any:
    return admin.post(f"/api/v1/confirmations/{confirmation_id}", json={"decision": decision})


def _account(first: Actor, second: Actor, username: str, roles: list[str]) -> str:
    """An account made by one admin and confirmed by another; its id."""
    made = first.post("/api/v1/users", json={"username": username, "display_name": username, "roles": roles})
    assert made.status_code == 202, made.text
    assert _decide(second, made.json()["pending_confirmation"]["id"]).json()["status"] == "confirmed"
    return str(made.json()["user"]["id"])


def _login(app: FastAPI, username: str, password: str, totp: str | None = None) -> Any:
    body = {"username": username, "password": password, **({"totp": totp} if totp else {})}
    return anonymous(app).post(LOGIN, json=body)


def test_a_new_account_waits_for_a_second_admin_who_alone_sees_the_second_half(app: FastAPI) -> None:
    first, second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "newdoc", "display_name": "New", "roles": ["documenter"]})
    assert made.status_code == 202
    body = made.json()
    assert body["user"]["roles"] == []  # nothing granted yet
    assert body["one_time_password"] is None
    first_half = body["one_time_password_half"]
    assert len(first_half) == 12
    pending = body["pending_confirmation"]
    assert (pending["status"], pending["action"]) == ("pending", "user.create")
    assert pending["payload"] == {"roles": ["documenter"], "from_roles": []}
    listed = second.get("/api/v1/confirmations").json()["items"]
    assert [c["id"] for c in listed] == [pending["id"]]
    assert all(c["one_time_password_half"] is None for c in listed)
    # Names where people act: who asks, for which account, which roles.
    [shown] = listed
    assert (shown["requester"]["username"], shown["requester"]["display_name"]) == ("admin-one", "admin-one")
    assert (shown["target_user"]["username"], shown["target_user"]["display_name"]) == ("newdoc", "New")
    assert shown["roles"] == ["documenter"]

    own = _decide(first, pending["id"])
    assert own.status_code == 403
    assert own.json()["code"] == "same_person"

    done = _decide(second, pending["id"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "confirmed"
    second_half = done.json()["one_time_password_half"]
    assert second_half
    assert second_half != first_half
    users = {u["username"]: u for u in second.get("/api/v1/users").json()["items"]}
    assert users["newdoc"]["roles"] == ["documenter"]
    again = _decide(second, pending["id"])
    assert again.status_code == 409
    # Shown once: no listing, no second look, and nothing left in the database.
    for admin in (first, second):
        assert second_half not in admin.get("/api/v1/confirmations").text
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.get(Confirmation, uuid.UUID(pending["id"])).secret is None  # type: ignore[union-attr]


def test_no_single_admin_can_take_over_a_new_content_account(app: FastAPI) -> None:
    """The reviewer's takeover: the creating admin logs in as the new account before its owner."""
    first, second = _admins(app)
    case = first.post("/api/v1/cases", json={"code": "KT-1", "title": "Case"}).json()
    made = first.post("/api/v1/users", json={"username": "field", "display_name": "Field", "roles": ["documenter"]})
    first_half = made.json()["one_time_password_half"]
    # Before confirmation the half the requester holds opens nothing.
    assert _login(app, "field", first_half).status_code == 401
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.scalars(select(Confirmation).where(Confirmation.target_id == uuid.UUID(made.json()["user"]["id"])))
        sealed = row.one().secret
        assert sealed is not None
    second_half = _decide(second, made.json()["pending_confirmation"]["id"]).json()["one_time_password_half"]
    assert second_half.encode() not in sealed  # the half waited sealed, never in clear
    member = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": made.json()["user"]["id"]})
    assert _decide(second, member.json()["pending_confirmation"]["id"]).json()["status"] == "confirmed"
    # Neither admin alone holds a working password, and the roles and team are now in place.
    assert _login(app, "field", first_half).status_code == 401
    assert _login(app, "field", second_half).status_code == 401
    assert _login(app, "field", second_half + first_half).status_code == 401
    # The owner, given one half by each admin, logs in and must choose a password and enrol first.
    owner = _login(app, "field", first_half + second_half)
    assert owner.status_code == 200
    assert owner.json()["user"]["must_change_password"] is True
    assert owner.json()["user"]["must_enrol_totp"] is True


def test_an_admin_password_reset_is_split_the_same_way_and_ends_sessions(app: FastAPI) -> None:
    first, second = _admins(app)
    target = actor(app, "forgot", [Role.DOCUMENTER])
    secret = target.totp_secret
    assert secret is not None
    target_id = str(target.user_id)
    token = target.post("/api/v1/auth/tokens", json={"name": "script"}).json()["token"]
    by_token = {"authorization": f"Bearer {token}"}
    assert anonymous(app).get("/api/v1/me", headers=by_token).status_code == 200
    owner = actor(app, "forgot-owner", [Role.DOCUMENTER])  # unrelated: only the target is touched
    reset = first.post(f"/api/v1/users/{target_id}/reset-password")
    assert reset.status_code == 202, reset.text
    first_half = reset.json()["one_time_password_half"]
    assert reset.json()["pending_confirmation"]["action"] == "user.reset_password"
    # The old password stops working at once, and so does every session and token.
    assert target.get("/api/v1/me").status_code == 401
    assert anonymous(app).get("/api/v1/me", headers=by_token).status_code == 401
    shift_clock(app, timedelta(seconds=31))
    assert _login(app, "forgot", PASSWORD, code(secret, app)).status_code == 401
    assert owner.get("/api/v1/me").status_code == 200
    again = first.post(f"/api/v1/users/{target_id}/reset-password")
    assert again.status_code == 409  # one split password at a time
    second_half = _decide(second, reset.json()["pending_confirmation"]["id"]).json()["one_time_password_half"]
    shift_clock(app, timedelta(seconds=31))
    assert _login(app, "forgot", first_half, code(secret, app)).status_code == 401
    shift_clock(app, timedelta(seconds=31))
    back = _login(app, "forgot", first_half + second_half, code(secret, app))
    assert back.status_code == 200
    assert back.json()["user"]["must_change_password"] is True


def test_a_password_reset_needs_step_up_and_is_never_for_oneself(app: FastAPI) -> None:
    first, second = _admins(app)
    own = first.post(f"/api/v1/users/{first.user_id}/reset-password")
    assert own.status_code == 403
    assert own.json()["code"] == "self_change"
    token = first.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"}).json()["token"]
    by_token = anonymous(app).post(
        f"/api/v1/users/{second.user_id}/reset-password", headers={"authorization": f"Bearer {token}"}
    )
    assert by_token.status_code == 403
    assert by_token.json()["code"] == "step_up_required"


def test_re_enabling_a_content_account_needs_a_second_admin(app: FastAPI) -> None:
    first, second = _admins(app)
    doc = actor(app, "paused", [Role.DOCUMENTER])
    off = first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"active": False})
    assert off.status_code == 200
    assert doc.get("/api/v1/me").status_code == 401
    on = first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"active": True})
    assert on.status_code == 202
    assert on.json()["user"]["active"] is False
    assert on.json()["pending_confirmation"]["action"] == "user.enable"
    assert first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"active": True}).status_code == 409
    assert _decide(first, on.json()["pending_confirmation"]["id"]).status_code == 403
    assert _decide(second, on.json()["pending_confirmation"]["id"]).json()["status"] == "confirmed"
    users = {u["username"]: u for u in second.get("/api/v1/users").json()["items"]}
    assert users["paused"]["active"] is True
    # An account with no role that reads content or administers is re-enabled at once.
    bare = _account(first, second, "bare", [])
    assert first.request("PATCH", f"/api/v1/users/{bare}", json={"active": False}).status_code == 200
    assert first.request("PATCH", f"/api/v1/users/{bare}", json={"active": True}).status_code == 200


def test_changing_whether_an_account_works_needs_a_browser_session_with_step_up(app: FastAPI) -> None:
    first, _ = _admins(app)
    doc = actor(app, "toggled", [Role.DOCUMENTER])
    token = first.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"}).json()["token"]
    headers = {"authorization": f"Bearer {token}"}
    by_token = anonymous(app).patch(f"/api/v1/users/{doc.user_id}", json={"active": False}, headers=headers)
    assert by_token.status_code == 403
    assert by_token.json()["code"] == "step_up_required"
    assert doc.get("/api/v1/me").status_code == 200
    assert first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"active": False}).status_code == 200
    by_token = anonymous(app).patch(f"/api/v1/users/{doc.user_id}", json={"active": True}, headers=headers)
    assert by_token.status_code == 403
    assert by_token.json()["code"] == "step_up_required"
    shift_clock(app, timedelta(minutes=6))
    stale = first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"active": True})
    assert stale.status_code == 403
    assert stale.json()["code"] == "step_up_required"


def test_role_change_to_content_role_is_pending_but_removal_is_immediate(app: FastAPI) -> None:
    first, second = _admins(app)
    user_id = _account(first, second, "aud", ["auditor"])
    change = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["custodian"]})
    assert change.status_code == 202
    assert change.json()["user"]["roles"] == ["auditor"]
    rejected = _decide(second, change.json()["pending_confirmation"]["id"], "reject")
    assert rejected.json()["status"] == "rejected"
    removal = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": []})
    assert removal.status_code == 200
    assert removal.json()["user"]["roles"] == []


def test_expired_request_cannot_be_confirmed_and_reading_changes_nothing(app: FastAPI) -> None:
    first, _second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "late", "display_name": "L", "roles": ["legal"]})
    pending_id = made.json()["pending_confirmation"]["id"]
    shift_clock(app, timedelta(hours=25))
    second_again = actor(app, "admin-three", [Role.ADMIN])  # a fresh second factor after the clock moved
    expired = second_again.get("/api/v1/confirmations?status=expired").json()["items"]
    assert [c["id"] for c in expired] == [pending_id]
    with unit_of_work(app.state.sessionmaker) as s:  # a GET shows it expired without writing so
        assert s.get(Confirmation, uuid.UUID(pending_id)).status == "pending"  # type: ignore[union-attr]
    r = _decide(second_again, pending_id)
    assert r.status_code == 409
    assert "expired" in r.json()["detail"]


def test_an_empty_decision_is_refused_never_taken_as_confirm(app: FastAPI) -> None:
    first, second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "quiet", "display_name": "Q", "roles": ["legal"]})
    pending_id = made.json()["pending_confirmation"]["id"]
    assert second.post(f"/api/v1/confirmations/{pending_id}").status_code == 422
    assert second.post(f"/api/v1/confirmations/{pending_id}", json={}).status_code == 422
    assert [c["status"] for c in second.get("/api/v1/confirmations").json()["items"]] == ["pending"]


def test_a_new_admin_needs_a_second_admin_too(app: FastAPI) -> None:
    first, second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "puppet", "display_name": "P", "roles": ["admin"]})
    assert made.status_code == 202
    assert made.json()["user"]["roles"] == []
    assert made.json()["pending_confirmation"]["payload"] == {"roles": ["admin"], "from_roles": []}
    assert _decide(second, made.json()["pending_confirmation"]["id"]).status_code == 200


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
    assert _decide(second, r.json()["pending_confirmation"]["id"]).status_code == 403


def test_incompatible_role_pairs_are_refused(app: FastAPI) -> None:
    first, _ = _admins(app)
    for roles in (["admin", "documenter"], ["auditor", "legal"], ["admin", "custodian"], ["admin", "auditor"]):
        r = first.post(
            "/api/v1/users", json={"username": f"u{len(roles[1])}{roles[0]}", "display_name": "x", "roles": roles}
        )
        assert r.status_code == 422, roles
        assert r.json()["fields"] == ["roles"]
    ok = first.post("/api/v1/users", json={"username": "mixed", "display_name": "x", "roles": ["documenter", "legal"]})
    assert ok.status_code == 202


def test_adding_a_team_member_needs_a_second_admin(app: FastAPI) -> None:
    first, second = _admins(app)
    case = first.post("/api/v1/cases", json={"code": "KB-1", "title": "Case"}).json()
    doc = actor(app, "member", [Role.DOCUMENTER])
    asked = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": str(doc.user_id)})
    assert asked.status_code == 202
    assert doc.get("/api/v1/cases").json()["items"] == []
    # The second admin sees which case and whom, by name, before deciding; and who decided, after.
    [shown] = second.get("/api/v1/confirmations").json()["items"]
    assert (shown["action"], shown["case_code"], shown["roles"]) == ("case.add_member", "KB-1", None)
    assert (shown["target_user"]["username"], shown["requester"]["username"]) == ("member", "admin-one")
    decided = _decide(second, asked.json()["pending_confirmation"]["id"])
    assert decided.status_code == 200
    assert (decided.json()["case_code"], decided.json()["decider"]["username"]) == ("KB-1", "admin-two")
    assert [c["code"] for c in doc.get("/api/v1/cases").json()["items"]] == ["KB-1"]
    removed = first.request("DELETE", f"/api/v1/cases/{case['id']}/members/{doc.user_id}")
    assert removed.status_code == 204
    assert doc.get("/api/v1/cases").json()["items"] == []


def test_role_change_2fa_and_password_reset_need_a_fresh_second_factor(app: FastAPI) -> None:
    first, second = _admins(app)
    target = _account(first, second, "tee1", [])
    shift_clock(app, timedelta(minutes=6))
    for method, path, body in (
        ("PATCH", f"/api/v1/users/{target}", {"roles": ["auditor"]}),
        ("POST", f"/api/v1/users/{target}/reset-2fa", None),
        ("POST", f"/api/v1/users/{target}/reset-password", None),
    ):
        r = first.request(method, path, json=body)
        assert r.status_code == 403, path
        assert r.json()["code"] == "step_up_required"


def test_member_requests_are_not_duplicated_and_are_rechecked_when_confirmed(app: FastAPI) -> None:
    first, second = _admins(app)
    case = first.post("/api/v1/cases", json={"code": "KB-5", "title": "Case"}).json()
    doc = actor(app, "leaver", [Role.DOCUMENTER])
    asked = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": str(doc.user_id)})
    assert asked.status_code == 202
    again = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": str(doc.user_id)})
    assert again.status_code == 409
    assert first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"active": False}).status_code == 200
    late = _decide(second, asked.json()["pending_confirmation"]["id"])
    assert late.status_code == 200
    assert late.json()["status"] == "void"
    assert late.json()["payload"]["void_reason"] == "no active user with that id"
    assert second.get(f"/api/v1/cases/{case['id']}/members").json()["items"] == []


def test_role_requests_are_not_duplicated_and_go_void_if_the_account_changed(app: FastAPI) -> None:
    first, second = _admins(app)
    user_id = _account(first, second, "moving", [])
    asked = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["legal"]})
    assert asked.status_code == 202
    assert first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["documenter"]}).status_code == 409
    # A change that needs no second admin goes through, and the waiting request no longer fits the account.
    assert first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["auditor"]}).status_code == 200
    stale = _decide(second, asked.json()["pending_confirmation"]["id"])
    assert stale.json()["status"] == "void"
    assert stale.json()["payload"]["void_reason"] == "the account's roles changed while the request waited"
    again = first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["legal"]})
    assert again.status_code == 202
    assert first.request("PATCH", f"/api/v1/users/{user_id}", json={"active": False}).status_code == 200
    late = _decide(second, again.json()["pending_confirmation"]["id"])
    assert late.json()["status"] == "void"
    users = {u["username"]: u for u in second.get("/api/v1/users").json()["items"]}
    assert users["moving"]["roles"] == ["auditor"]


def test_a_creation_goes_void_if_roles_were_given_meanwhile_and_its_half_is_never_shown(app: FastAPI) -> None:
    first, second = _admins(app)
    made = first.post("/api/v1/users", json={"username": "racer", "display_name": "R", "roles": ["legal"]})
    user_id = made.json()["user"]["id"]
    assert first.request("PATCH", f"/api/v1/users/{user_id}", json={"roles": ["auditor"]}).status_code == 200
    late = _decide(second, made.json()["pending_confirmation"]["id"])
    assert late.json()["status"] == "void"
    assert late.json()["one_time_password_half"] is None


def test_a_disabled_account_gets_a_new_password_before_it_is_enabled_again(app: FastAPI) -> None:
    first, second = _admins(app)
    _, secret = make_user(app, "seized", [Role.DOCUMENTER])
    assert secret is not None
    doc = _login(app, "seized", PASSWORD, code(secret, app)).json()["user"]["id"]
    assert first.request("PATCH", f"/api/v1/users/{doc}", json={"active": False}).status_code == 200
    reset = first.post(f"/api/v1/users/{doc}/reset-password")
    assert reset.status_code == 202
    second_half = _decide(second, reset.json()["pending_confirmation"]["id"]).json()["one_time_password_half"]
    assert second_half
    password = reset.json()["one_time_password_half"] + second_half
    shift_clock(app, timedelta(seconds=31))
    assert _login(app, "seized", password, code(secret, app)).status_code == 401  # still disabled
    enable = first.request("PATCH", f"/api/v1/users/{doc}", json={"active": True})
    assert _decide(second, enable.json()["pending_confirmation"]["id"]).json()["status"] == "confirmed"
    assert _login(app, "seized", PASSWORD, code(secret, app, steps=1)).status_code == 401  # the old one is gone
    shift_clock(app, timedelta(seconds=31))
    assert _login(app, "seized", password, code(secret, app, steps=1)).status_code == 200


def test_an_account_that_loses_its_content_role_leaves_its_teams(app: FastAPI) -> None:
    first, second = _admins(app)
    case = first.post("/api/v1/cases", json={"code": "KL-1", "title": "Case"}).json()
    doc = actor(app, "mover", [Role.DOCUMENTER])
    asked = first.post(f"/api/v1/cases/{case['id']}/members", json={"user_id": str(doc.user_id)})
    assert _decide(second, asked.json()["pending_confirmation"]["id"]).json()["status"] == "confirmed"
    assert first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"roles": []}).status_code == 200
    assert first.get(f"/api/v1/cases/{case['id']}/members").json()["items"] == []
    # A later grant gives the role back, not the old cases.
    again = first.request("PATCH", f"/api/v1/users/{doc.user_id}", json={"roles": ["documenter"]})
    assert _decide(second, again.json()["pending_confirmation"]["id"]).json()["status"] == "confirmed"
    assert first.get(f"/api/v1/cases/{case['id']}/members").json()["items"] == []
