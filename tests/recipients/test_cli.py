"""`testimony recipients` and `testimony deny-list`: the same services, as the system principal."""

from __future__ import annotations

import json

from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import unit_of_work
from tests.recipients.test_routes import AGE_KEY


def _run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


ADD = (
    "recipients",
    "add",
    "--class",
    "national_authorities",
    "--jurisdiction",
    "nl",
    "--name",
    "Team International Crimes",
    "--name",
    "TIM",
    "--recall-contact",
    "Duty officer, by the agreed channel.",
)


def test_recipients_are_added_at_once_and_listed(app: FastAPI, cli_env: dict[str, str]) -> None:
    added = _run(cli_env, *ADD, "--age-key", AGE_KEY)
    assert "registered Team International Crimes" in added
    listed = json.loads(_run(cli_env, "recipients", "list", "--json"))["recipients"]
    assert [(r["recipient_class"], r["jurisdiction"], r["names"], r["age_recipient"]) for r in listed] == [
        ("national_authorities", "NL", ["Team International Crimes", "TIM"], AGE_KEY)
    ]
    table = _run(cli_env, "recipients", "list")
    assert "jurisdiction" in table
    assert " NL " in table
    with unit_of_work(app.state.sessionmaker) as s:
        events = [
            (e.action, e.outcome) for e in s.scalars(select(AuditEvent).where(AuditEvent.actor.startswith("system")))
        ]
    assert ("recipient.create", "allowed") in events
    assert ("recipient.list", "allowed") in events


def test_a_bad_recipient_is_refused_by_the_command_line_too(app: FastAPI, cli_env: dict[str, str]) -> None:
    out = _run(cli_env, *ADD[:5], "international", *ADD[6:], code=2)
    assert "national authorities need a country" in out
    out = _run(cli_env, *ADD, "--age-key", "age1nope", code=2)
    assert "age_recipient" in out
    assert json.loads(_run(cli_env, "recipients", "list", "--json")) == {"recipients": []}


def test_the_deny_list_is_shown(app: FastAPI, cli_env: dict[str, str]) -> None:
    assert "empty" in _run(cli_env, "deny-list", "show")
    assert json.loads(_run(cli_env, "deny-list", "show", "--json")) == {
        "version": 0,
        "recipient_ids": [],
        "jurisdictions": [],
    }
