"""The `testimony` command line. Commands call the same services as the API."""

from __future__ import annotations

import os
import uuid
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from app.access.principal import Principal
from app.access.roles import Role
from app.accounts import service as access_service
from app.accounts.schemas import UserCreate, UserUpdate
from app.audit.cli import audit_cli
from app.audit.vocabulary import AuditAction
from app.cases import service as case_service
from app.cases.schemas import CaseCreate, MemberAdd
from app.cli_support import SYSTEM, console, fail, new_passphrase, out, services
from app.consent.forms_cli import forms_cli
from app.core.config import get_settings
from app.core.errors import ConfigError
from app.crypto import keyring as kr
from app.crypto.errors import KeyringError
from app.keys.cli import keys_cli
from app.keys.store import open_keys, prompt_passphrase, write_private_file

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Testimony Vault administration.")
users_cli = typer.Typer(no_args_is_help=True, help="Accounts: add, list, disable, reset 2FA, revoke sessions.")
cases_cli = typer.Typer(no_args_is_help=True, help="Cases and their teams.")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(users_cli, name="users")
cli.add_typer(cases_cli, name="cases")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(forms_cli, name="forms")


@cli.callback()
def _fresh_settings() -> None:
    """Read settings from the environment of this invocation."""
    get_settings.cache_clear()


@cli.command()
def init(
    protect: Annotated[bool, typer.Option(help="Protect a new key file with a passphrase.")] = False,
) -> None:
    """Create the data directory, the key file and the database schema (idempotent)."""
    from app.core.migrate import upgrade

    settings = get_settings()
    try:
        settings.refuse_unready()  # before any passphrase is asked for or any file written
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not settings.development and not protect and not settings.keys.provider and not settings.keys.material:
        if not settings.key_file.exists():
            raise fail("outside development mode the key file must be protected: run `testimony init --protect`")
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    passphrase: str | None = None
    if not (settings.keys.provider or settings.keys.material) and not settings.key_file.exists():
        if protect:
            passphrase = new_passphrase(settings)
        write_private_file(settings.key_file, kr.dumps(kr.generate(), passphrase))
        console.print(f"created key file {settings.key_file} (mode 0600). Back it up apart from the database.")
    known = passphrase
    try:
        # Refuses before anything is migrated; a passphrase just chosen is not asked for again.
        keys = open_keys(settings, (lambda: known) if known else prompt_passphrase)
    except (KeyringError, ConfigError) as exc:
        raise fail(str(exc)) from None
    upgrade(settings.database_url, app_role=settings.database.app_role)
    console.print("database schema is up to date")
    with services(AuditAction.SYSTEM_INIT, "user", keys) as (session, runtime):
        first = access_service.create_first_admin(session, runtime, Principal.system("init"))
    if first is not None:
        out.print(f"first admin account: [bold]{first.user.username}[/bold]")
        out.print(f"one-time password (shown once, change it at first login): [bold]{first.one_time_password}[/bold]")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the API (one process; see README for production workers)."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    try:
        keys = open_keys(settings, prompt_passphrase)
        app = create_app(settings, keys)
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        # As in the production command: the service alone reads X-Forwarded-For, from TESTIMONY_TRUSTED_PROXIES.
        proxy_headers=False,
    )


def _user_id(session: Session, username: str) -> uuid.UUID:
    return access_service.user_id_by_name(session, SYSTEM, username)


@users_cli.command("add")
def users_add(
    username: str,
    roles: Annotated[list[Role], typer.Option("--role", help="Repeat for several roles.")],
    display_name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create an account; prints its one-time password once."""
    with services(AuditAction.USER_CREATE, "user") as (session, runtime):
        data = UserCreate(username=username, display_name=display_name or username, roles=roles)
        change = access_service.create_user(session, runtime, SYSTEM, data)
    out.print(f"created {change.user.username} ({', '.join(change.user.roles) or 'no roles'})")
    out.print(f"one-time password (shown once): [bold]{change.one_time_password}[/bold]")


@users_cli.command("list")
def users_list() -> None:
    """List accounts (never any content)."""
    with services(AuditAction.USER_LIST, "user") as (session, _runtime):
        users = access_service.list_users(session, SYSTEM)
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
def users_disable(username: str) -> None:
    """Disable an account and end its sessions and tokens."""
    with services(AuditAction.USER_UPDATE, "user") as (session, runtime):
        access_service.update_user(session, runtime, SYSTEM, _user_id(session, username), UserUpdate(active=False))
    out.print(f"disabled {username}; its sessions and tokens are revoked")


@users_cli.command("reset-password")
def users_reset_password(username: str) -> None:
    """End every session and token of an account and print a new one-time password once."""
    with services(AuditAction.USER_RESET_PASSWORD, "user") as (session, runtime):
        change = access_service.reset_password(session, runtime, SYSTEM, _user_id(session, username))
    out.print(f"sessions and tokens of {username} ended; it must choose a new password at next login")
    out.print(f"one-time password (shown once): [bold]{change.one_time_password}[/bold]")


@users_cli.command("reset-2fa")
def users_reset_2fa(username: str) -> None:
    """Remove an account's second factor; the user enrols again at next login."""
    with services(AuditAction.USER_RESET_2FA, "user") as (session, _runtime):
        access_service.reset_second_factor(session, SYSTEM, _user_id(session, username))
    out.print(f"second factor of {username} removed; it must enrol again at next login")


@users_cli.command("revoke")
def users_revoke(username: str) -> None:
    """End every session and token of an account (a lost or seized device)."""
    with services(AuditAction.USER_REVOKE, "user") as (session, _runtime):
        access_service.revoke_sessions(session, SYSTEM, _user_id(session, username))
    out.print(f"all sessions and tokens of {username} are revoked")


@cases_cli.command("add")
def cases_add(code: str, title: str) -> None:
    """Create a case."""
    with services(AuditAction.CASE_CREATE, "case") as (session, _runtime):
        case = case_service.create_case(session, SYSTEM, CaseCreate(code=code, title=title))
    out.print(f"created case {case.code} ({case.id})")


@cases_cli.command("members")
def cases_members(
    code: str,
    add: Annotated[list[str] | None, typer.Option("--add", help="Username to add.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Username to remove.")] = None,
) -> None:
    """Show a case team, adding or removing members (one kind of change per command)."""
    if add and remove:
        raise fail("add and remove members in separate commands, so each is recorded as what it is")
    action = (
        AuditAction.CASE_MEMBER_ADD
        if add
        else AuditAction.CASE_MEMBER_REMOVE
        if remove
        else AuditAction.CASE_MEMBERS_READ
    )
    system = SYSTEM
    with services(action, "case") as (session, runtime):
        case_id = case_service.case_id_by_code(session, system, code)
        for name in add or []:
            case_service.add_member(session, runtime, system, case_id, MemberAdd(user_id=_user_id(session, name)))
        for name in remove or []:
            case_service.remove_member(session, system, case_id, _user_id(session, name))
        members = case_service.list_members(session, system, case_id)
        names = access_service.usernames(session, system, [m.user_id for m in members])
    out.print(f"team of {code}: {', '.join(sorted(names)) or '(nobody)'}")


def main() -> None:
    os.umask(0o077)
    cli()


if __name__ == "__main__":
    main()
