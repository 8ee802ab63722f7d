"""The command line calls the same services, as the system principal."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from app.access.models import CaseMember, User
from app.access.roles import Role
from app.audit.models import AuditEvent
from app.cases.models import Case
from app.cli import cli
from app.core.db import unit_of_work
from tests.support.actors import PASSWORD, actor, anonymous, code, login, make_user


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _team(app: FastAPI, code: str) -> list[str]:
    with unit_of_work(app.state.sessionmaker) as s:
        stmt = (
            select(User.username)
            .join(CaseMember, CaseMember.user_id == User.id)
            .join(Case, Case.id == CaseMember.case_id)
            .where(Case.code == code)
        )
        return sorted(s.scalars(stmt))


def _recorded(app: FastAPI, action: str) -> list[tuple[str, str, str | None]]:
    """Who did ``action``, how it ended and to which account, as the log has it."""
    with unit_of_work(app.state.sessionmaker) as s:
        stmt = select(AuditEvent.actor, AuditEvent.outcome, AuditEvent.resource_id).where(AuditEvent.action == action)
        return [tuple(row) for row in s.execute(stmt.order_by(AuditEvent.seq))]  # type: ignore[misc]


def test_users_and_cases_from_the_command_line(app: FastAPI, cli_env: dict[str, str]) -> None:
    added = run(cli_env, "users", "add", "nare", "--role", "documenter", "--display-name", "Nare")
    assert "created nare (documenter)" in added
    found = re.search(r"one-time password \(shown once\): (\S{16,})", added)
    assert found is not None
    client = anonymous(app)
    first = client.post("/api/v1/auth/login", json={"username": "nare", "password": found.group(1)})
    assert first.status_code == 200, first.text
    assert (first.json()["user"]["roles"], first.json()["user"]["must_change_password"]) == (["documenter"], True)
    # The command line is the exception to the two-admin rule, and every use of it is in the log.
    assert _recorded(app, "user.create") == [("system:cli", "allowed", first.json()["user"]["id"])]
    run(cli_env, "cases", "add", "KB-7", "Shelter interviews")
    assert "team of KB-7: nare" in run(cli_env, "cases", "members", "KB-7", "--add", "nare")
    assert _team(app, "KB-7") == ["nare"]
    listing = run(cli_env, "users", "list")
    assert "nare" in listing
    assert "documenter" in listing
    assert "revoked" in run(cli_env, "users", "revoke", "nare")
    assert client.get("/api/v1/me").status_code == 401  # the session that login opened has ended
    assert "must enrol again" in run(cli_env, "users", "reset-2fa", "nare")
    assert "disabled nare" in run(cli_env, "users", "disable", "nare")
    again = anonymous(app).post("/api/v1/auth/login", json={"username": "nare", "password": found.group(1)})
    assert again.status_code == 401
    for action in ("user.revoke_sessions", "user.reset_2fa", "user.update"):  # each names the account it changed
        assert _recorded(app, action) == [("system:cli", "allowed", first.json()["user"]["id"])], action
    assert "team of KB-7: (nobody)" in run(cli_env, "cases", "members", "KB-7", "--remove", "nare")
    assert _team(app, "KB-7") == []


def test_cli_errors_are_clear(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["users", "disable", "nobody"], env=cli_env)
    assert result.exit_code == 2
    assert "no account named nobody" in result.output
    bad = CliRunner().invoke(cli, ["users", "add", "x", "--role", "admin", "--role", "documenter"], env=cli_env)
    assert bad.exit_code == 2


def test_init_creates_the_first_admin_once(tmp_path: Path, cli_env: dict[str, str]) -> None:
    fresh = {
        **cli_env,
        "TESTIMONY_DATABASE__URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "TESTIMONY_KEYS__FILE": str(tmp_path / "fresh-keys.json"),
    }
    first = run(fresh, "init")
    assert "first admin account: admin" in first
    assert re.search(r"one-time password .*: \S{16,}", first)
    assert (tmp_path / "fresh-keys.json").stat().st_mode & 0o777 == 0o600
    second = run(fresh, "init")
    assert "one-time password" not in second
    assert "first admin" not in second


def test_reset_password_from_the_command_line_ends_sessions_and_prints_the_whole_password(
    app: FastAPI, cli_env: dict[str, str]
) -> None:
    user_id, secret = make_user(app, "arev", [Role.LEGAL])
    assert secret is not None
    before = login(app, "arev", secret)
    reset = run(cli_env, "users", "reset-password", "arev")
    assert _recorded(app, "user.reset_password") == [("system:cli", "allowed", str(user_id))]
    assert "sessions and tokens of arev ended" in reset
    found = re.search(r"one-time password \(shown once\): (\S{16,})", reset)
    assert found is not None
    assert before.get("/api/v1/me").status_code == 401
    client = anonymous(app)
    old = {"username": "arev", "password": PASSWORD, "totp": code(secret, app, steps=1)}
    assert client.post("/api/v1/auth/login", json=old).status_code == 401
    new = {"username": "arev", "password": found.group(1), "totp": code(secret, app, steps=1)}
    r = client.post("/api/v1/auth/login", json=new)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["must_change_password"] is True


def test_users_list_as_json_is_one_document_with_the_accounts_as_the_api_lists_them(
    app: FastAPI, cli_env: dict[str, str]
) -> None:
    run(cli_env, "users", "add", "nare", "--role", "documenter", "--display-name", "Nare Avetisyan")
    run(cli_env, "users", "add", "anush", "--role", "auditor")
    run(cli_env, "users", "disable", "anush")
    result = CliRunner().invoke(cli, ["users", "list", "--json"], env={**cli_env, "COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    listed = {u["username"]: u for u in json.loads(result.stdout)["users"]}
    admin = actor(app, "adm", [Role.ADMIN])
    api = {u["username"]: u for u in admin.get("/api/v1/users").json()["items"]}
    assert set(listed) == {"nare", "anush"}
    for name, user in listed.items():
        assert set(user) == {"id", "username", "display_name", "roles", "active", "totp_enabled", "created_at"}
        assert user["id"] == api[name]["id"]
        assert user["roles"] == api[name]["roles"]
        assert user["active"] == api[name]["active"]
    assert listed["nare"]["display_name"] == "Nare Avetisyan"
    assert listed["nare"]["roles"] == ["documenter"]
    assert listed["anush"]["active"] is False
