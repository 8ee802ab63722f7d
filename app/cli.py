"""The `testimony` command line. Commands call the same services as the API."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from app.config import Settings, get_settings
from app.crypto import keyring as kr
from app.crypto.errors import KeyringError
from app.db import is_sqlite, make_engine, make_sessionmaker, unit_of_work
from app.errors import ConfigError
from app.keys import service as keys_service
from app.keys.store import FileKeyStore, open_keystore, write_private_file

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Testimony Vault administration.")
keys_cli = typer.Typer(no_args_is_help=True, help="Key custody: status, rotation, protection.")
cli.add_typer(keys_cli, name="keys")

console = Console(stderr=True)
out = Console()


@cli.callback()
def _fresh_settings() -> None:
    """Read settings from the environment of this invocation."""
    get_settings.cache_clear()


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
    return typer.Exit(code)


def _prompt_passphrase() -> str:
    if not sys.stdin.isatty():
        raise KeyringError("the key file is passphrase-protected and no TESTIMONY_KEYS__PASSPHRASE is set")
    return getpass.getpass("Key file passphrase: ")


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
        keys_store = open_keystore(settings, _prompt_passphrase)
        keys_store.load().check_not_placeholder()
    except (KeyringError, ConfigError) as exc:
        raise _fail(str(exc)) from None
    upgrade(settings.database_url, app_role=settings.database.app_role)
    console.print("database schema is up to date")


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

    from app.keys.store import Keys, load_keyring
    from app.main import create_app

    settings = get_settings()
    try:
        keys = Keys(open_keystore(settings, _prompt_passphrase), load_keyring(settings, _prompt_passphrase))
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


def _factory(settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url, pool=not is_sqlite(settings.database_url))
    return engine, make_sessionmaker(engine)


@keys_cli.command("status")
def keys_status() -> None:
    """Show key versions and how many data keys each KEK wraps."""
    settings = get_settings()
    try:
        keyring = open_keystore(settings, _prompt_passphrase).load()
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    engine, factory = _factory(settings)
    with unit_of_work(factory) as session:
        st = keys_service.status(session, keyring)
    engine.dispose()
    table = Table(title="Keyring")
    table.add_column("item")
    table.add_column("value")
    table.add_row("KEK versions", ", ".join(map(str, st.kek_versions)))
    table.add_row("primary KEK", str(st.kek_primary))
    table.add_row("retired KEKs", ", ".join(map(str, st.kek_retired)) or "-")
    table.add_row("derivation root", f"version {st.root_primary}")
    table.add_row("signing key id", st.signing_key_id)
    for version, count in sorted(st.data_keys_by_version.items()):
        table.add_row(f"data keys under KEK {version}", str(count))
    table.add_row("pending re-wrap", str(st.pending_rewrap))
    out.print(table)


@keys_cli.command("rotate")
def keys_rotate(batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Make a new primary KEK and re-wrap every data key; resumes if interrupted."""
    settings = get_settings()
    try:
        store = open_keystore(settings, _prompt_passphrase)
        store.load()
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    engine, factory = _factory(settings)
    with _progress() as progress:
        task = progress.add_task("re-wrapping data keys", total=None)
        try:
            result = keys_service.rotate(
                factory,
                store,
                batch_size=batch_size,
                on_start=lambda total: progress.update(task, total=total),
                on_batch=lambda n: progress.advance(task, n),
            )
        except KeyringError as exc:
            raise _fail(str(exc)) from None
    engine.dispose()
    verb = "resumed rotation to" if result.resumed else "rotated to"
    out.print(
        f"{verb} KEK {result.kek_primary}; re-wrapped {result.rewrapped} data keys; "
        f"retired KEK versions: {', '.join(map(str, result.retired)) or 'none'}"
    )
    out.print("Back up the key file now; running workers pick up the new KEK on their own.")


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
    out.print(f"{path} is now passphrase-protected. Keep the passphrase apart from the file.")


def main() -> None:
    os.umask(0o077)
    cli()


if __name__ == "__main__":
    main()
