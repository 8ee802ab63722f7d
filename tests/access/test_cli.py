"""The command line calls the same services, as the system principal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support.database import ProvisionedDatabase


@pytest.fixture
def env(database: ProvisionedDatabase, key_file: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "TESTIMONY_DEVELOPMENT": "true",
        "TESTIMONY_DATA_DIR": str(tmp_path / "var"),
        "TESTIMONY_DATABASE__URL": database.url,
        "TESTIMONY_KEYS__FILE": str(key_file),
        "TESTIMONY_PASSWORDS__TIME_COST": "1",
        "TESTIMONY_PASSWORDS__MEMORY_KIB": "256",
        "TESTIMONY_PASSWORDS__PARALLELISM": "1",
        "COLUMNS": "200",
    }


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_users_and_cases_from_the_command_line(env: dict[str, str]) -> None:
    added = run(env, "users", "add", "nare", "--role", "documenter", "--display-name", "Nare")
    assert "created nare (documenter)" in added
    assert re.search(r"one-time password \(shown once\): \S{16,}", added)
    run(env, "cases", "add", "KB-7", "Shelter interviews")
    assert "team of KB-7: nare" in run(env, "cases", "members", "KB-7", "--add", "nare")
    listing = run(env, "users", "list")
    assert "nare" in listing
    assert "documenter" in listing
    assert "revoked" in run(env, "users", "revoke", "nare")
    assert "must enrol again" in run(env, "users", "reset-2fa", "nare")
    assert "disabled nare" in run(env, "users", "disable", "nare")
    assert "team of KB-7: (nobody)" in run(env, "cases", "members", "KB-7", "--remove", "nare")


def test_cli_errors_are_clear(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["users", "disable", "nobody"], env=env)
    assert result.exit_code == 2
    assert "no account named nobody" in result.output
    bad = CliRunner().invoke(cli, ["users", "add", "x", "--role", "admin", "--role", "documenter"], env=env)
    assert bad.exit_code == 2


def test_init_creates_the_first_admin_once(tmp_path: Path, env: dict[str, str]) -> None:
    fresh = {
        **env,
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
