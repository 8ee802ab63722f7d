"""`testimony retention`: what comes due, and the run that deletes it."""

from __future__ import annotations

from typing import Annotated

import typer

from app.audit.vocabulary import AuditAction
from app.cli_support import SYSTEM, JsonOption, console, counted, fail, group, out, print_json, services
from app.core.config import get_settings
from app.core.errors import ConfigError
from app.crypto.errors import KeyringError
from app.keys.store import open_keys, prompt_passphrase
from app.retention import run as retention
from app.retention.schemas import DueItem, State

retention_cli = group("Retention: what is due, and deleting what custodians reviewed.")


def _show(items: list[DueItem]) -> None:
    for i in items:
        out.print(f"{i.due_on}  {i.person_code}  {i.category.value:<18} {i.state.value:<10} {i.person_id}")


@retention_cli.command("due")
def due(as_json: JsonOption = False) -> None:
    """List what is due today or earlier.

    Ids, person code, category, due date, and what the run does with each; never content."""
    with services(AuditAction.RETENTION_DUE, "retention_item") as (session, runtime):
        items = retention.due_now(session, runtime, SYSTEM)
    if as_json:
        print_json([i.model_dump(mode="json") for i in items])
        return
    _show(items)
    console.print(counted(len(items), "item") + " due")


@retention_cli.command("run")
def run(
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking.")] = False,
) -> None:
    """Delete what is due and reviewed for deletion.

    Lists what is due, asks (unless --yes), then deletes, one transaction per person. Items under legal
    hold, kept by a custodian or not yet reviewed are left."""
    try:
        keys = open_keys(get_settings(), prompt_passphrase)
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    with services(AuditAction.RETENTION_RUN, "retention_item", keys) as (session, runtime):
        items = retention.due_now(session, runtime, SYSTEM)
    _show(items)
    going = sorted({i.person_id for i in items if i.state is State.DELETE})
    console.print(f"{counted(len(items), 'item')} due; {counted(len(going), 'person', 'people')} with items to delete")
    if not going:
        return
    if not yes and not typer.confirm("Delete the items marked delete?", default=False):
        raise fail("nothing deleted", code=1)
    deleted = 0
    for person_id in going:
        with services(AuditAction.RETENTION_DELETE, "person", keys, resource_id=str(person_id)) as (session, runtime):
            result = retention.delete_due(session, runtime, SYSTEM, person_id)
        deleted += len(result.deleted)
        out.print(f"{result.person_code}: deleted {', '.join(c.value for c in result.deleted) or 'nothing'}")
    console.print(f"deleted {counted(deleted, 'item')}")
