"""`testimony recipients` and `testimony deny-list`: the registry through the same services as the
API, as the system principal (which registers at once: it has shell access on the server)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.audit.vocabulary import AuditAction
from app.cli_support import SYSTEM, JsonOption, group, out, print_json, services
from app.consent.vocabulary import RecipientClass
from app.core.pagination import every_page
from app.recipients import deny_list, service
from app.recipients.schemas import RecipientCreate, RecipientRead

recipients_cli = group("The recipient registry: add and list.")
deny_list_cli = group("The deny-list: recipients and countries that receive nothing.")

CLASS_NAMES = ", ".join(c.value for c in RecipientClass)


@recipients_cli.command("add")
def recipients_add(
    recipient_class: Annotated[
        RecipientClass,
        typer.Option("--class", metavar="CLASS", show_choices=False, help=f"One of {CLASS_NAMES}."),
    ],
    jurisdiction: Annotated[
        str, typer.Option(metavar="CODE", help='An ISO 3166-1 alpha-2 country code, or "international".')
    ],
    names: Annotated[list[str], typer.Option("--name", metavar="NAME", help="Its name first; repeat for each alias.")],
    recall_contact: Annotated[
        str, typer.Option(metavar="TEXT", help="Whom to tell, and how, when a withdrawal touches what it received.")
    ],
    age_key: Annotated[
        str | None, typer.Option(metavar="KEY", help="The age public key (age1...) bundles for it are encrypted to.")
    ] = None,
) -> None:
    """Register a recipient at once (the API asks a second admin)."""
    with services(AuditAction.RECIPIENT_CREATE, "recipient") as (session, runtime):
        data = RecipientCreate(
            recipient_class=recipient_class,
            jurisdiction=jurisdiction,
            names=names,
            recall_contact=recall_contact,
            age_recipient=age_key,
        )
        change = service.create_recipient(session, runtime, SYSTEM, data)
    assert change.recipient is not None
    out.print(f"registered {change.recipient.names[0]} ({change.recipient.id})")


def recipient_json(r: RecipientRead) -> dict[str, object]:
    """The shape of one recipient in `recipients list --json` (README: the command line)."""
    return {
        "id": str(r.id),
        "recipient_class": r.recipient_class.value,
        "jurisdiction": r.jurisdiction,
        "names": r.names,
        "age_recipient": r.age_recipient,
        "recall_contact": r.recall_contact,
        "active": r.active,
    }


@recipients_cli.command("list")
def recipients_list(as_json: JsonOption = False) -> None:
    """List registered recipients, active or not."""
    with services(AuditAction.RECIPIENT_LIST, "recipient") as (session, _runtime):
        recipients = every_page(lambda page: service.list_recipients(session, SYSTEM, page))
    if as_json:
        print_json({"recipients": [recipient_json(r) for r in recipients]})
        return
    table = Table("id", "names", "class", "jurisdiction", "age key", "active")
    for r in recipients:
        table.add_row(
            str(r.id),
            "; ".join(r.names),
            r.recipient_class.value,
            r.jurisdiction,
            "yes" if r.age_recipient else "no",
            "yes" if r.active else "no",
        )
    out.print(table)


@deny_list_cli.command("show")
def deny_list_show(as_json: JsonOption = False) -> None:
    """Show the deny-list in force."""
    with services(AuditAction.DENY_LIST_READ, "deny_list") as (session, _runtime):
        listed = deny_list.get_deny_list(session, SYSTEM)
        names = {r.id: r.names[0] for r in every_page(lambda page: service.list_recipients(session, SYSTEM, page))}
    if as_json:
        print_json(
            {
                "version": listed.version,
                "recipient_ids": [str(r) for r in listed.recipient_ids],
                "jurisdictions": listed.jurisdictions,
            }
        )
        return
    out.print(f"deny-list version {listed.version}")
    for recipient_id in listed.recipient_ids:
        out.print(f"recipient {names.get(recipient_id, '?')} ({recipient_id})")
    for code in listed.jurisdictions:
        out.print(f"country {code}")
    if not listed.recipient_ids and not listed.jurisdictions:
        out.print("empty: no recipient or country is denied")
