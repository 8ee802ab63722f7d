"""The `testimony` root: help that reads at 80 columns, one message for an unready start, and `serve`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.access.roles import Role
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import unit_of_work


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(cli)))


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "testimony")
def test_every_help_reads_at_80_columns(path: tuple[str, ...]) -> None:
    text = _help(path)
    for line in text.splitlines():
        assert len(line) <= 80, line
    # Values are named (ROLE, FILE, N), never as Python types, and flags carry no type at all.
    for placeholder in ("<bool>", "<list[", "<Path>", "<int range>", "<float range>", "<dir>", "[default: ("):
        assert placeholder not in text
    # Listings show each command's first sentence whole, not cut with an ellipsis.
    if "Commands:" in text:
        assert "..." not in text.split("Commands:")[1]


def test_the_commands_are_the_documented_ones() -> None:
    groups = {p[0] for p in ALL_COMMANDS if p}
    assert groups == {
        "init",
        "serve",
        "keys",
        "users",
        "cases",
        "audit",
        "forms",
        "custody",
        "guides",
        "recipients",
        "deny-list",
        "worker",
        "exports",
        "retention",
        "people",
        "backup",
        "restore",
        "journal",
    }
    assert {p[1] for p in ALL_COMMANDS if len(p) == 2 and p[0] == "users"} == {
        "add",
        "list",
        "disable",
        "reset-password",
        "reset-2fa",
        "revoke",
    }


def test_role_choices_are_listed_whole() -> None:
    text = _help(("users", "add"))
    words = text.replace(",", " ").replace(";", " ").split()
    for role in Role:
        assert role.value in words
    assert "--role ROLE" in text


def _events(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_an_unready_production_start_names_everything_missing_at_once(
    app: FastAPI, cli_env: dict[str, str], key_file: Path
) -> None:
    before = _events(app)
    env = {**cli_env, "TESTIMONY_DEVELOPMENT": "false"}  # plain key file, placeholder origin, cheap argon2id
    for command in (["users", "list"], ["keys", "status"], ["audit", "checkpoint"], ["serve"]):
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 2, result.output
        message = result.output
        assert message.count("error:") == 1
        assert "TESTIMONY_AUDIT__ORIGIN" in message
        assert f"the key file {key_file} is not passphrase-protected" in message
        assert "OWASP's argon2id minimum" in message
        assert "TESTIMONY_DEVELOPMENT=true" in message
    assert _events(app) == before  # refused before any work, recorded or not


def test_a_setting_that_cannot_be_read_is_named_with_the_others_never_with_its_value(
    app: FastAPI, cli_env: dict[str, str]
) -> None:
    before = _events(app)
    env = {**cli_env, "TESTIMONY_DEVELOPMENT": "", "TESTIMONY_DATABASE__BUSY_TIMEOUT_MS": "hunter2"}
    for command in (["users", "list"], ["keys", "status"], ["serve"]):
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
        assert result.output.count("error:") == 1
        assert "TESTIMONY_DEVELOPMENT: Input should be a valid boolean" in result.output
        assert "TESTIMONY_DATABASE__BUSY_TIMEOUT_MS: Input should be a valid integer" in result.output
        assert "hunter2" not in result.output
    assert _events(app) == before


def test_init_outside_development_names_the_missing_key_file_and_the_rest_and_writes_nothing(
    tmp_path: Path,
) -> None:
    env = {"TESTIMONY_DATA_DIR": str(tmp_path / "prod"), "TESTIMONY_DEVELOPMENT": "false", "COLUMNS": "80"}
    result = CliRunner().invoke(cli, ["init"], env=env)
    assert result.exit_code == 2
    assert "no key file at" in result.output
    assert "testimony init --protect" in result.output
    assert "TESTIMONY_AUDIT__ORIGIN" in result.output
    assert "TESTIMONY_DEVELOPMENT=true" in result.output
    assert not (tmp_path / "prod").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_in_development_mode_signs_checkpoints(app: FastAPI, cli_env: dict[str, str]) -> None:
    added = CliRunner().invoke(cli, ["users", "add", "nare", "--role", "documenter"], env=cli_env)
    assert added.exit_code == 0, added.output  # an event waiting to be signed
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.latest_checkpoint(s) is None
    env = {**os.environ, **cli_env, "TESTIMONY_AUDIT__CHECKPOINT_EVERY_SECONDS": "1"}
    port = str(_free_port())
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", port],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        signed = None
        deadline = time.monotonic() + 30
        while signed is None and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)
            with unit_of_work(app.state.sessionmaker) as s:
                signed = audit.latest_checkpoint(s)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert signed is not None, err.decode(errors="replace")
    assert signed.size >= 1
