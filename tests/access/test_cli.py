"""The command line calls the same services, as the system principal."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_users_and_cases_from_the_command_line(cli_env: dict[str, str]) -> None:
    added = run(cli_env, "users", "add", "nare", "--role", "documenter", "--display-name", "Nare")
    assert "created nare (documenter)" in added
    assert re.search(r"one-time password \(shown once\): \S{16,}", added)
    run(cli_env, "cases", "add", "KB-7", "Shelter interviews")
    assert "team of KB-7: nare" in run(cli_env, "cases", "members", "KB-7", "--add", "nare")
    listing = run(cli_env, "users", "list")
    assert "nare" in listing
    assert "documenter" in listing
    assert "revoked" in run(cli_env, "users", "revoke", "nare")
    assert "must enrol again" in run(cli_env, "users", "reset-2fa", "nare")
    assert "disabled nare" in run(cli_env, "users", "disable", "nare")
    assert "team of KB-7: (nobody)" in run(cli_env, "cases", "members", "KB-7", "--remove", "nare")


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
