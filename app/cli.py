"""The `testimony` command line. Commands call the same services as the API."""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.access import service as access_service
from app.access.principal import Principal
from app.access.roles import Role
from app.access.schemas import UserCreate, UserUpdate
from app.audit import note
from app.audit import service as audit
from app.audit.cli import audit_cli
from app.audit.vocabulary import AuditAction
from app.cases import service as case_service
from app.cases.schemas import CaseCreate, MemberAdd
from app.config import Settings, get_settings
from app.consent.forms_cli import forms_cli
from app.crypto import keyring as kr
from app.crypto.errors import KeyringError
from app.crypto.signing import fingerprint
from app.db import is_sqlite, make_engine, make_sessionmaker, on_failure, unit_of_work
from app.errors import AppError, ConfigError
from app.keys import service as keys_service
from app.keys.store import FileKeyStore, open_keys, open_keystore, prompt_passphrase, write_private_file
from app.runtime import Runtime

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Testimony Vault administration.")
keys_cli = typer.Typer(no_args_is_help=True, help="Key custody: status, rotation, protection.")
users_cli = typer.Typer(no_args_is_help=True, help="Accounts: add, list, disable, reset 2FA, revoke sessions.")
cases_cli = typer.Typer(no_args_is_help=True, help="Cases and their teams.")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(users_cli, name="users")
cli.add_typer(cases_cli, name="cases")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(forms_cli, name="forms")

console = Console(stderr=True)
out = Console()


@cli.callback()
def _fresh_settings() -> None:
    """Read settings from the environment of this invocation."""
    get_settings.cache_clear()


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
    return typer.Exit(code)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    )


@cli.command()
def init(
    protect: Annotated[bool, typer.Option(help="Protect a new key file with a passphrase.")] = False,
) -> None:
    """Create the data directory, the key file and the database schema (idempotent)."""
    from app.migrate import upgrade

    settings = get_settings()
    if not settings.development and not protect and not settings.keys.provider and not settings.keys.material:
        if not settings.key_file.exists():
            raise _fail("outside development mode the key file must be protected: run `testimony init --protect`")
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (settings.keys.provider or settings.keys.material) and not settings.key_file.exists():
        passphrase = None
        if protect:
            passphrase = _new_passphrase(settings)
        write_private_file(settings.key_file, kr.dumps(kr.generate(), passphrase))
        console.print(f"created key file {settings.key_file} (mode 0600). Back it up apart from the database.")
    try:
        open_keys(settings, prompt_passphrase)  # refuses before anything is migrated
    except (KeyringError, ConfigError) as exc:
        raise _fail(str(exc)) from None
    upgrade(settings.database_url, app_role=settings.database.app_role)
    console.print("database schema is up to date")
    with _services(AuditAction.SYSTEM_INIT, "user") as (session, runtime):
        first = access_service.create_first_admin(session, runtime, Principal.system("init"))
    if first is not None:
        out.print(f"first admin account: [bold]{first.user.username}[/bold]")
        out.print(f"one-time password (shown once, change it at first login): [bold]{first.one_time_password}[/bold]")


def _new_passphrase(settings: Settings) -> str:
    if settings.keys.passphrase:
        return settings.keys.passphrase.get_secret_value()
    if not sys.stdin.isatty():
        raise _fail("set TESTIMONY_KEYS__PASSPHRASE to protect the key file non-interactively")
    first = getpass.getpass("New key file passphrase: ")
    if len(first) < 12 or first != getpass.getpass("Repeat passphrase: "):
        raise _fail("passphrases differ or are shorter than 12 characters")
    return first


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
        raise _fail(str(exc)) from None
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )


def _factory(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(settings.database_url, pool=not is_sqlite(settings.database_url))
    return engine, make_sessionmaker(engine)


SYSTEM = Principal.system()


def _system_trail(action: AuditAction, resource_id: str | None = None) -> audit.Trail:
    return audit.Trail(action=action, actor=SYSTEM.actor, resource_type="keyring", resource_id=resource_id)


def _record(
    factory: sessionmaker[Session], action: AuditAction, outcome: audit.Outcome, resource_id: str | None = None
) -> None:
    """A key operation that spans several transactions is recorded once, at its end."""
    with unit_of_work(factory) as session:
        audit.append(session, _system_trail(action, resource_id), outcome)


@contextmanager
def _services(action: AuditAction, resource_type: str | None = None) -> Iterator[tuple[Session, Runtime]]:
    """One unit of work for one command, audited as the system principal, with the
    runtime the services need. A failed command is recorded in a transaction of its own."""
    settings = get_settings()
    try:
        keys = open_keys(settings, prompt_passphrase)
    except (ConfigError, KeyringError) as exc:
        raise _fail(str(exc)) from None
    engine, factory = _factory(settings)
    trail = audit.Trail(action=action, actor=SYSTEM.actor, resource_type=resource_type)
    try:
        with unit_of_work(factory) as session:
            audit.begin(session, trail)
            on_failure(session, lambda s: audit.append(s, trail, audit.Outcome.FAILED))
            yield session, Runtime(settings, keys)
            audit.append(session, audit.current(session) or trail, audit.Outcome.ALLOWED)
    except AppError as exc:
        raise _fail(exc.detail) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _fail(f"invalid input: {problems}") from None
    finally:
        engine.dispose()


def _user_id(session: Session, username: str) -> uuid.UUID:
    return access_service.user_id_by_name(session, Principal.system(), username)


@users_cli.command("add")
def users_add(
    username: str,
    roles: Annotated[list[Role], typer.Option("--role", help="Repeat for several roles.")],
    display_name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create an account; prints its one-time password once."""
    with _services(AuditAction.USER_CREATE, "user") as (session, runtime):
        data = UserCreate(username=username, display_name=display_name or username, roles=roles)
        change = access_service.create_user(session, runtime, Principal.system(), data)
    out.print(f"created {change.user.username} ({', '.join(change.user.roles) or 'no roles'})")
    out.print(f"one-time password (shown once): [bold]{change.one_time_password}[/bold]")


@users_cli.command("list")
def users_list() -> None:
    """List accounts (never any content)."""
    with _services(AuditAction.USER_LIST, "user") as (session, _runtime):
        users = access_service.list_users(session, Principal.system())
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
    with _services(AuditAction.USER_UPDATE, "user") as (session, runtime):
        access_service.update_user(
            session, runtime, Principal.system(), _user_id(session, username), UserUpdate(active=False)
        )
    out.print(f"disabled {username}; its sessions and tokens are revoked")


@users_cli.command("reset-2fa")
def users_reset_2fa(username: str) -> None:
    """Remove an account's second factor; the user enrols again at next login."""
    with _services(AuditAction.USER_RESET_2FA, "user") as (session, _runtime):
        access_service.reset_second_factor(session, Principal.system(), _user_id(session, username))
    out.print(f"second factor of {username} removed; it must enrol again at next login")


@users_cli.command("revoke")
def users_revoke(username: str) -> None:
    """End every session and token of an account (a lost or seized device)."""
    with _services(AuditAction.USER_REVOKE, "user") as (session, _runtime):
        access_service.revoke_sessions(session, Principal.system(), _user_id(session, username))
    out.print(f"all sessions and tokens of {username} are revoked")


@cases_cli.command("add")
def cases_add(code: str, title: str) -> None:
    """Create a case."""
    with _services(AuditAction.CASE_CREATE, "case") as (session, _runtime):
        case = case_service.create_case(session, Principal.system(), CaseCreate(code=code, title=title))
    out.print(f"created case {case.code} ({case.id})")


@cases_cli.command("members")
def cases_members(
    code: str,
    add: Annotated[list[str] | None, typer.Option("--add", help="Username to add.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Username to remove.")] = None,
) -> None:
    """Show a case team, adding or removing members (one kind of change per command)."""
    if add and remove:
        raise _fail("add and remove members in separate commands, so each is recorded as what it is")
    action = (
        AuditAction.CASE_MEMBER_ADD
        if add
        else AuditAction.CASE_MEMBER_REMOVE
        if remove
        else AuditAction.CASE_MEMBERS_READ
    )
    system = Principal.system()
    with _services(action, "case") as (session, runtime):
        case_id = case_service.case_id_by_code(session, system, code)
        for name in add or []:
            case_service.add_member(session, runtime, system, case_id, MemberAdd(user_id=_user_id(session, name)))
        for name in remove or []:
            case_service.remove_member(session, system, case_id, _user_id(session, name))
        members = case_service.list_members(session, system, case_id)
        names = access_service.usernames(session, system, [m.user_id for m in members])
    out.print(f"team of {code}: {', '.join(sorted(names)) or '(nobody)'}")


@keys_cli.command("status")
def keys_status() -> None:
    """Show key versions and how many data keys each KEK wraps."""
    settings = get_settings()
    try:
        keyring = open_keystore(settings, prompt_passphrase).load()
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    engine, factory = _factory(settings)
    with unit_of_work(factory) as session:
        st = keys_service.status(session, SYSTEM, keyring)
        audit.append(session, _system_trail(AuditAction.KEYS_STATUS), audit.Outcome.ALLOWED)
    engine.dispose()
    table = Table(title="Keyring")
    table.add_column("item")
    table.add_column("value")
    table.add_row("KEK versions", ", ".join(map(str, st.kek_versions)))
    table.add_row("primary KEK", str(st.kek_primary))
    table.add_row("retired KEKs", ", ".join(map(str, st.kek_retired)) or "-")
    table.add_row("derivation root", f"version {st.root_primary}")
    table.add_row("signing key id", st.signing_key_id)
    signer = keyring.signer
    table.add_row("signing key fingerprint", fingerprint(signer.public_key))
    table.add_row("verifier key (pin this)", note.vkey(settings.audit.origin, signer.public_key))
    for version, count in sorted(st.data_keys_by_version.items()):
        table.add_row(f"data keys under KEK {version}", str(count))
    table.add_row("pending re-wrap", str(st.pending_rewrap))
    out.print(table)


@keys_cli.command("rotate")
def keys_rotate(batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Make a new primary KEK and re-wrap every data key; resumes if interrupted."""
    settings = get_settings()
    try:
        store = open_keystore(settings, prompt_passphrase)
        store.load()
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    engine, factory = _factory(settings)
    with _progress() as progress:
        task = progress.add_task("re-wrapping data keys", total=None)
        try:
            result = keys_service.rotate(
                SYSTEM,
                factory,
                store,
                batch_size=batch_size,
                on_start=lambda total: progress.update(task, total=total),
                on_batch=lambda n: progress.advance(task, n),
            )
        except KeyringError as exc:
            _record(factory, AuditAction.KEYS_ROTATE, audit.Outcome.FAILED)
            raise _fail(str(exc)) from None
    _record(factory, AuditAction.KEYS_ROTATE, audit.Outcome.ALLOWED, str(result.kek_primary))
    engine.dispose()
    verb = "resumed rotation to" if result.resumed else "rotated to"
    out.print(
        f"{verb} KEK {result.kek_primary}; re-wrapped {result.rewrapped} data keys; "
        f"retired KEK versions: {', '.join(map(str, result.retired)) or 'none'}"
    )
    out.print("Back up the key file now; running workers pick up the new KEK on their own.")


@keys_cli.command("rewrap")
def keys_rewrap(batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Re-wrap data keys still under an older KEK (after all workers reloaded); no new KEK is made."""
    settings = get_settings()
    try:
        store = open_keystore(settings, prompt_passphrase)
        store.load()
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    engine, factory = _factory(settings)
    with _progress() as progress:
        task = progress.add_task("re-wrapping data keys", total=None)
        result = keys_service.rewrap(
            SYSTEM,
            factory,
            store,
            batch_size=batch_size,
            on_start=lambda total: progress.update(task, total=total),
            on_batch=lambda n: progress.advance(task, n),
        )
    _record(factory, AuditAction.KEYS_ROTATE, audit.Outcome.ALLOWED, str(result.kek_primary))
    engine.dispose()
    out.print(f"re-wrapped {result.rewrapped} data keys under KEK {result.kek_primary}")


@keys_cli.command("prune")
def keys_prune(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: backups older than now cannot be restored.")] = False,
) -> None:
    """Destroy retired KEKs that wrap no data key. Backups that still need them become unreadable."""
    if not yes:
        raise _fail("pass --yes once every backup taken before the last rotation has expired")
    settings = get_settings()
    try:
        store = open_keystore(settings, prompt_passphrase)
        store.load()
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    engine, factory = _factory(settings)
    removed = keys_service.prune(SYSTEM, factory, store)
    _record(factory, AuditAction.KEYS_PRUNE, audit.Outcome.ALLOWED, ",".join(map(str, removed)) or None)
    engine.dispose()
    out.print(f"destroyed KEK versions: {', '.join(map(str, removed)) or 'none'}")


@keys_cli.command("protect")
def keys_protect() -> None:
    """Wrap a plain key file under a passphrase (scrypt + AES-256-GCM)."""
    settings = get_settings()
    path = settings.key_file
    try:
        keyring = FileKeyStore(path, None).load()
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    passphrase = _new_passphrase(settings)
    write_private_file(path, kr.dumps(keyring, passphrase))
    engine, factory = _factory(settings)
    _record(factory, AuditAction.KEYS_PROTECT, audit.Outcome.ALLOWED)
    engine.dispose()
    out.print(f"{path} is now passphrase-protected. Keep the passphrase apart from the file.")


def main() -> None:
    os.umask(0o077)
    cli()


if __name__ == "__main__":
    main()
