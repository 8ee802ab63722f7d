"""`testimony people report`: the survivor's data report, printed on the server."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from app.audit.vocabulary import AuditAction
from app.cli_support import SYSTEM, JsonOption, fail, group, print_json, services
from app.exports import report, report_page
from app.people.models import Person

people_cli = group("Interviewees: their data reports.")


@people_cli.command("report")
def person_report(
    code: Annotated[str, typer.Argument(metavar="PERSON_CODE", help="The person's pseudonym code.")],
    language: Annotated[
        str | None, typer.Option("--language", metavar="LANG", help="en, hy or ru. Default: the person's language.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print a person's data report.

    What is kept about them and where their data went, as HTML (or --json), in their language."""
    if language is not None and language not in ("en", "hy", "ru"):
        raise fail("--language is one of en, hy, ru")
    with services(AuditAction.DISCLOSURE_REPORT, "person") as (session, runtime):
        person_id = session.scalar(select(Person.id).where(Person.code == code))
        if person_id is None:
            raise fail("no person has this code")
        made = report.report(session, runtime, SYSTEM, person_id, language)
    if as_json:
        print_json(made.model_dump(mode="json"))
    else:
        typer.echo(report_page.render(made))
