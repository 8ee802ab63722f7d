"""`testimony cases`: cases and their teams, through the same services as the API, as the system principal."""

from __future__ import annotations

from typing import Annotated

import typer

from app.accounts import service as accounts
from app.accounts.cli import user_id
from app.audit.vocabulary import AuditAction
from app.cases import service as case_service
from app.cases.schemas import CaseCreate, MemberAdd
from app.cli_support import SYSTEM, fail, group, out, services
from app.core.pagination import every_page

cases_cli = group("Cases and their teams.")

Code = Annotated[str, typer.Argument(metavar="CODE", help="The case code, e.g. KB-7.", show_default=False)]


@cases_cli.command("add")
def cases_add(
    code: Code,
    title: Annotated[str, typer.Argument(metavar="TITLE", help="A working title (no names).", show_default=False)],
) -> None:
    """Create a case."""
    with services(AuditAction.CASE_CREATE, "case") as (session, _runtime):
        case = case_service.create_case(session, SYSTEM, CaseCreate(code=code, title=title))
    out.print(f"created case {case.code} ({case.id})")


@cases_cli.command("members")
def cases_members(
    code: Code,
    add: Annotated[
        list[str] | None, typer.Option("--add", metavar="USERNAME", help="Add this account; repeat for several.")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", metavar="USERNAME", help="Remove this account; repeat for several.")
    ] = None,
) -> None:
    """Show a case team, adding or removing members. One kind of change per command."""
    if add and remove:
        raise fail("add and remove members in separate commands, so each is recorded as what it is")
    action = (
        AuditAction.CASE_MEMBER_ADD
        if add
        else AuditAction.CASE_MEMBER_REMOVE
        if remove
        else AuditAction.CASE_MEMBERS_READ
    )
    with services(action, "case") as (session, runtime):
        case_id = case_service.case_id_by_code(session, SYSTEM, code)
        for name in add or []:
            case_service.add_member(session, runtime, SYSTEM, case_id, MemberAdd(user_id=user_id(session, name)))
        for name in remove or []:
            case_service.remove_member(session, SYSTEM, case_id, user_id(session, name))
        members = every_page(lambda page: case_service.list_members(session, SYSTEM, case_id, page))
        names = accounts.usernames(session, SYSTEM, [m.user_id for m in members])
    out.print(f"team of {code}: {', '.join(sorted(names)) or '(nobody)'}")
