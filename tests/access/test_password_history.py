"""After an admin reset, the owner may not choose again the password the reset replaced."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.access.models import User
from app.access.roles import Role
from app.core.db import unit_of_work
from tests.access.test_cli import run
from tests.access.test_separation import _admins, _decide, _login
from tests.support.actors import PASSWORD, Actor, actor, anonymous, code, make_user, shift_clock

ANOTHER = "quite another passphrase 7"


def _kept(app: FastAPI, user_id: uuid.UUID) -> str | None:
    with unit_of_work(app.state.sessionmaker) as s:
        user = s.get(User, user_id)
        assert user is not None
        return user.replaced_password_hash


def _reset_through_api(first: Actor, second: Actor, user_id: uuid.UUID) -> str:
    """A reset asked by one admin and confirmed by another; the whole one-time password."""
    reset = first.post(f"/api/v1/users/{user_id}/reset-password")
    assert reset.status_code == 202, reset.text
    second_half = _decide(second, reset.json()["pending_confirmation"]["id"]).json()["one_time_password_half"]
    return f"{reset.json()['one_time_password_half']}{second_half}"


def _owner(app: FastAPI, username: str, password: str, secret: str) -> tuple[TestClient, dict[str, str]]:
    """The owner's browser, logged in with the one-time password; and its CSRF header."""
    shift_clock(app, timedelta(seconds=31))
    client = anonymous(app)
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password, "totp": code(secret, app)})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["must_change_password"] is True
    return client, {"x-csrf-token": r.json()["user"]["csrf_token"]}


def _change(client: TestClient, csrf: dict[str, str], current: str, new: str) -> Any:
    return client.post("/api/v1/me/password", headers=csrf, json={"current_password": current, "new_password": new})


def _refused_as_reuse(answer: Any) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"] == ["new_password"]
    assert "reset replaced" in answer.json()["detail"]
    assert PASSWORD not in answer.text


def test_the_password_an_admin_reset_replaced_cannot_be_chosen_again(app: FastAPI) -> None:
    first, second = _admins(app)
    user_id, secret = make_user(app, "leaked", [Role.DOCUMENTER])
    assert secret is not None
    assert _kept(app, user_id) is None
    password = _reset_through_api(first, second, user_id)
    assert _kept(app, user_id) is not None
    client, csrf = _owner(app, "leaked", password, secret)

    _refused_as_reuse(_change(client, csrf, password, PASSWORD))
    assert client.get("/api/v1/me").json()["must_change_password"] is True  # nothing changed
    changed = _change(client, csrf, password, ANOTHER)
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False
    assert _kept(app, user_id) is None  # kept no longer than needed
    shift_clock(app, timedelta(seconds=31))
    assert _login(app, "leaked", ANOTHER, code(secret, app)).status_code == 200


def test_a_second_reset_still_refuses_the_owners_password_not_the_first_one_time_password(app: FastAPI) -> None:
    first, second = _admins(app)
    user_id, secret = make_user(app, "twice", [Role.LEGAL])
    assert secret is not None
    earlier = _reset_through_api(first, second, user_id)
    password = _reset_through_api(first, second, user_id)
    client, csrf = _owner(app, "twice", password, secret)
    _refused_as_reuse(_change(client, csrf, password, PASSWORD))
    assert _change(client, csrf, password, earlier).status_code == 200


def test_the_command_line_reset_refuses_the_replaced_password_too(app: FastAPI, cli_env: dict[str, str]) -> None:
    user_id, secret = make_user(app, "shell", [Role.CUSTODIAN])
    assert secret is not None
    found = re.search(r"one-time password \(shown once\): (\S{16,})", run(cli_env, "users", "reset-password", "shell"))
    assert found is not None
    client, csrf = _owner(app, "shell", found.group(1), secret)
    _refused_as_reuse(_change(client, csrf, found.group(1), PASSWORD))
    assert _change(client, csrf, found.group(1), ANOTHER).status_code == 200
    assert _kept(app, user_id) is None


def test_a_change_without_a_reset_keeps_no_history(app: FastAPI) -> None:
    doc = actor(app, "plain", [Role.DOCUMENTER])
    changed = doc.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": ANOTHER})
    assert changed.status_code == 200, changed.text
    assert _kept(app, doc.user_id) is None
    # Only a reset's replaced password is refused: going back to an earlier one of one's own is allowed.
    back = _change(doc.client, {"x-csrf-token": changed.json()["csrf_token"]}, ANOTHER, PASSWORD)
    assert back.status_code == 200, back.text


def test_guessing_the_replaced_password_spends_the_login_budget(app: FastAPI) -> None:
    # The refusal says a guess was the owner's old password; whoever holds the one-time password
    # may not use it to guess freely.
    first, second = _admins(app)
    user_id, secret = make_user(app, "guessed", [Role.DOCUMENTER])
    assert secret is not None
    password = _reset_through_api(first, second, user_id)
    client, csrf = _owner(app, "guessed", password, secret)
    limit = app.state.runtime.settings.throttle.per_account_address
    answers = [_change(client, csrf, password, PASSWORD) for _ in range(limit)]
    for answer in answers:
        _refused_as_reuse(answer)
    refused = _change(client, csrf, password, PASSWORD)
    assert refused.status_code == 429, refused.text
    assert PASSWORD not in refused.text
    # The budget is the account's: a right password is refused too until the window passes.
    assert _change(client, csrf, password, ANOTHER).status_code == 429
