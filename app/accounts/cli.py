"""`testimony users`: accounts, through the same services as the API, as the system principal."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from app.access.roles import Role
from app.accounts import service as accounts
from app.accounts.schemas import UserCreate, UserRead, UserUpdate
from app.audit.vocabulary import AuditAction
from app.cli_support import SYSTEM, JsonOption, group, out, print_json, services
from app.core.pagination import every_page

users_cli = group("Accounts: add, list, disable, reset password or 2FA, revoke.")

Username = Annotated[str, typer.Argument(metavar="USERNAME", show_default=False)]
ROLE_NAMES = ", ".join(r.value for r in Role)


def user_id(session: Session, username: str) -> uuid.UUID:
    """The id of an account named on the command line; 404 (an error message) when there is none."""
    return accounts.user_id_by_name(session, SYSTEM, username)


@users_cli.command("add")
def users_add(
    username: Username,
    roles: Annotated[
        list[Role],
        typer.Option("--role", metavar="ROLE", show_choices=False, help=f"One of {ROLE_NAMES}; repeat for several."),
    ],
    display_name: Annotated[
        str | None, typer.Option(metavar="NAME", help="Shown to other users. Default: the username.")
    ] = None,
) -> None:
    """Create an account; prints its one-time password once."""
    with services(AuditAction.USER_CREATE, "user") as (session, runtime):
        data = UserCreate(username=username, display_name=display_name or username, roles=roles)
        change = accounts.create_user(session, runtime, SYSTEM, data)
    out.print(f"created {change.user.username} ({', '.join(change.user.roles) or 'no roles'})")
    out.print(f"one-time password (shown once): [bold]{change.one_time_password}[/bold]")


def user_json(user: UserRead) -> dict[str, object]:
    """The shape of one account in `users list --json` (README: the command line)."""
    return {
        "id": str(user.id),
        "username": user.username,
        "display_name": user.display_name,
        "roles": [str(r) for r in user.roles],
        "active": user.active,
        "totp_enabled": user.totp_enabled,
        "created_at": user.created_at.isoformat(),
    }


@users_cli.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """List accounts (never any content)."""
    with services(AuditAction.USER_LIST, "user") as (session, _runtime):
        users = every_page(lambda page: accounts.list_users(session, SYSTEM, page))
    if as_json:
        print_json({"users": [user_json(u) for u in users]})
        return
    table = Table("username", "display name", "roles", "active", "2FA")
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            ", ".join(u.roles),
            "yes" if u.active else "no",
            "yes" if u.totp_enabled else "no",
        )
    out.print(table)


@users_cli.command("disable")
def users_disable(username: Username) -> None:
    """Disable an account and end its sessions and tokens."""
    with services(AuditAction.USER_UPDATE, "user") as (session, runtime):
        accounts.update_user(session, runtime, SYSTEM, user_id(session, username), UserUpdate(active=False))
    out.print(f"disabled {username}; its sessions and tokens are revoked")


@users_cli.command("reset-password")
def users_reset_password(username: Username) -> None:
    """Print a new one-time password and end all sessions. Shown once; every token ends too."""
    with services(AuditAction.USER_RESET_PASSWORD, "user") as (session, runtime):
        change = accounts.reset_password(session, runtime, SYSTEM, user_id(session, username))
    out.print(f"sessions and tokens of {username} ended; it must choose a new password at next login")
    out.print(f"one-time password (shown once): [bold]{change.one_time_password}[/bold]")


@users_cli.command("reset-2fa")
def users_reset_2fa(username: Username) -> None:
    """Remove an account's second factor. The user enrols again at next login."""
    with services(AuditAction.USER_RESET_2FA, "user") as (session, _runtime):
        accounts.reset_second_factor(session, SYSTEM, user_id(session, username))
    out.print(f"second factor of {username} removed; it must enrol again at next login")


@users_cli.command("revoke")
def users_revoke(username: Username) -> None:
    """End every session and token of an account. For a lost or seized device."""
    with services(AuditAction.USER_REVOKE, "user") as (session, _runtime):
        accounts.revoke_sessions(session, SYSTEM, user_id(session, username))
    out.print(f"all sessions and tokens of {username} are revoked")
