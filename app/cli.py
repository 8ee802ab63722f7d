"""The `testimony` command line: the root, `init` and `serve`. Each domain adds its own commands,
which call the same services as the API."""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Annotated

import typer

from app.access.principal import Principal
from app.accounts import service as accounts
from app.accounts.cli import users_cli
from app.audit.cli import audit_cli, background_checkpointer
from app.audit.vocabulary import AuditAction
from app.cases.cli import cases_cli
from app.cli_support import console, counted, fail, group, new_passphrase, out, services
from app.consent.forms_cli import forms_cli
from app.core.config import get_settings
from app.core.errors import ConfigError
from app.crypto.errors import KeyringError
from app.erasure.cli import backup, journal_cli, restore
from app.exports import reasons
from app.exports.cli import exports_cli
from app.exports.report_cli import people_cli
from app.exports.worker_cli import worker
from app.interviews.custody_cli import custody_cli
from app.interviews.guides_cli import guides_cli
from app.keys.cli import keys_cli
from app.keys.store import create_key_file, custody_problems, open_keys, prompt_passphrase
from app.recipients.cli import deny_list_cli, recipients_cli
from app.retention.cli import retention_cli

cli = group("Testimony Vault administration.")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(users_cli, name="users")
cli.add_typer(cases_cli, name="cases")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(forms_cli, name="forms")
cli.add_typer(custody_cli, name="custody")
cli.add_typer(guides_cli, name="guides")
cli.add_typer(recipients_cli, name="recipients")
cli.add_typer(deny_list_cli, name="deny-list")
cli.command("worker")(worker)
cli.add_typer(exports_cli, name="exports")
cli.add_typer(retention_cli, name="retention")
cli.add_typer(people_cli, name="people")
cli.command("backup")(backup)
cli.command("restore")(restore)
cli.add_typer(journal_cli, name="journal")


@cli.callback()
def _fresh_settings() -> None:
    """Read settings from the environment of this invocation; a value that cannot be read stops every command."""
    get_settings.cache_clear()
    try:
        get_settings()
    except ConfigError as exc:
        raise fail(str(exc)) from None


@cli.command()
def init(
    protect: Annotated[bool, typer.Option("--protect", help="Protect a new key file with a passphrase.")] = False,
) -> None:
    """Create the data directory, key file and database schema. Safe to run again.

    Also seals the reasons an earlier version stored in the clear (docs/exports.md, "Reasons at rest").
    """
    from app.core.migrate import upgrade

    settings = get_settings()
    try:
        # Everything that is missing, in one message, before any passphrase is asked for or any file written.
        settings.refuse_unready(custody_problems(settings, will_protect=protect))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    passphrase: str | None = None
    if not (settings.keys.provider or settings.keys.material) and not settings.key_file.exists():
        if protect:
            passphrase = new_passphrase(settings)
        if create_key_file(settings.key_file, passphrase):
            console.print(f"created key file {settings.key_file} (mode 0600). Back it up apart from the database.")
        else:
            # Another `testimony init` made it meanwhile, under the same lock: use that one, with its own protection.
            console.print(f"{settings.key_file} was made meanwhile by another `testimony init`; it is used as it is")
            passphrase = None
    known = passphrase
    try:
        # Refuses before anything is migrated; a passphrase just chosen is not asked for again.
        keys = open_keys(settings, (lambda: known) if known else prompt_passphrase)
    except (KeyringError, ConfigError) as exc:
        raise fail(str(exc)) from None
    upgrade(settings.database_url, app_role=settings.database.app_role)
    console.print("database schema is up to date")
    with services(AuditAction.SYSTEM_INIT, "user", keys) as (session, runtime):
        # Reasons written in the clear by an earlier version: only the owner may change export_approvals.
        sealed = reasons.seal_clear(session, runtime)
        first = accounts.create_first_admin(session, runtime, Principal.system("init"))
    if sealed:
        console.print(f"sealed {counted(sealed, 'reason')} stored in the clear by an earlier version")
    if first is not None:
        out.print(f"first admin account: [bold]{first.user.username}[/bold]")
        out.print(f"one-time password (shown once, change it at first login): [bold]{first.one_time_password}[/bold]")


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Default: TESTIMONY_HOST, else 127.0.0.1.")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Default: TESTIMONY_PORT, else 8000.")] = None,
    checkpoints: Annotated[
        bool | None,
        typer.Option(
            "--checkpoints/--no-checkpoints",
            help="Sign audit checkpoints from this process, as TESTIMONY_AUDIT__CHECKPOINT_EVERY_* say. "
            "Default: on in development mode only.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the API (one process; README: production workers)."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    try:
        keys = open_keys(settings, prompt_passphrase)
        app = create_app(settings, keys)
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    # In production the one named checkpointer runs beside the workers; a lone development server signs its own.
    signing = settings.development if checkpoints is None else checkpoints
    with background_checkpointer(app.state.sessionmaker, keys, settings) if signing else nullcontext():
        uvicorn.run(
            app,
            host=host or settings.host,
            port=port or settings.port,
            # As in the production command: the service alone reads X-Forwarded-For, from TESTIMONY_TRUSTED_PROXIES.
            proxy_headers=False,
        )


def main() -> None:
    os.umask(0o077)
    cli(prog_name="testimony")


if __name__ == "__main__":
    main()
