"""What every `testimony` command shares: output, errors, progress, the unit of work and its audit."""

from __future__ import annotations

import getpass
import json
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.access.principal import Principal
from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.core.config import Settings, get_settings
from app.core.db import is_sqlite, make_engine, make_sessionmaker, on_failure, unit_of_work
from app.core.errors import AppError, ConfigError
from app.crypto.errors import KeyringError
from app.keys.store import Keys, open_keys, prompt_passphrase
from app.runtime import Runtime

console = Console(stderr=True)
out = Console()
SYSTEM = Principal.system()


def group(help_text: str) -> typer.Typer:
    """A command group whose --help is plain text: names the values, never types like <bool>, and
    wraps between words at any width."""
    return typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None, help=help_text)


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (README shows it).")]


def print_json(document: object) -> None:
    """One JSON document on stdout and nothing else, never wrapped or cut to the terminal's width."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def counted(n: int, one: str, many: str | None = None) -> str:
    """'1 entry', '3 entries': counts in messages."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
    return typer.Exit(code)


ForceOption = Annotated[bool, typer.Option("--force", help="Replace an output file that exists.")]


def refuse_existing(*paths: Path | None, force: bool) -> None:
    """Exit 2 before doing anything when an output file exists and --force was not given."""
    for path in paths:
        if path is not None and not force and (path.exists() or path.is_symlink()):
            raise fail(f"{path} exists; choose another file, or give --force to replace it")


def write_output(path: Path, data: bytes, *, force: bool) -> None:
    """Write a file only its owner may read (0600), whole or not at all: a new file beside it, made
    durable, then linked to its name, which refuses a name taken meanwhile, or with ``force`` renamed
    over it. Exit 2 with the reason when it cannot be written."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # unlike rename(), refuses an existing name
    except FileExistsError:
        raise fail(f"{path} exists; choose another file, or give --force to replace it") from None
    except OSError as exc:
        raise fail(f"could not write {path}: {exc.strerror or type(exc).__name__}") from None
    finally:
        try:
            os.unlink(temp)
        except OSError:
            pass  # renamed, or never made


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    )


def open_factory(
    settings: Settings, pg_settings: Mapping[str, str] | None = None
) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(settings.database_url, pool=not is_sqlite(settings.database_url), pg_settings=pg_settings)
    return engine, make_sessionmaker(engine)


def record(
    factory: sessionmaker[Session],
    action: AuditAction,
    outcome: audit.Outcome = audit.Outcome.ALLOWED,
    resource_id: str | None = None,
    resource_type: str = "keyring",
) -> None:
    """One event of an operation that spans several transactions (its start, failure or end),
    in a transaction of its own."""
    trail = audit.Trail(action=action, actor=SYSTEM.actor, resource_type=resource_type, resource_id=resource_id)
    with unit_of_work(factory) as session:
        audit.append(session, trail, outcome)


@contextmanager
def recorded(
    factory: sessionmaker[Session], action: AuditAction, resource_type: str = "keyring", *, started: bool = True
) -> Iterator[None]:
    """An operation that changes things over several transactions (or outside the database) is
    recorded as started before its first change, and as failed if it stops on an error or an
    interrupt; the caller records how it ended otherwise."""
    if started:
        record(factory, action, audit.Outcome.STARTED, resource_type=resource_type)
    try:
        yield
    except BaseException:
        record(factory, action, audit.Outcome.FAILED, resource_type=resource_type)
        raise


@contextmanager
def services(
    action: AuditAction, resource_type: str | None = None, keys: Keys | None = None, *, resource_id: str | None = None
) -> Iterator[tuple[Session, Runtime]]:
    """One unit of work for one command, audited as the system principal, with the
    runtime the services need. A failed command is recorded in a transaction of its own,
    naming the resource given here (what the services touched is rolled back with them)."""
    settings = get_settings()
    try:
        keys = keys or open_keys(settings, prompt_passphrase)
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    engine, factory = open_factory(settings)
    trail = audit.Trail(action=action, actor=SYSTEM.actor, resource_type=resource_type, resource_id=resource_id)
    try:
        with unit_of_work(factory) as session:
            audit.begin(session, trail)
            on_failure(session, lambda s: audit.append(s, trail, audit.Outcome.FAILED))
            yield session, Runtime(settings, keys)
            audit.append(session, audit.current(session) or trail, audit.Outcome.ALLOWED)
    except AppError as exc:
        raise fail(exc.detail) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail(f"invalid input: {problems}") from None
    finally:
        engine.dispose()


def new_passphrase(settings: Settings) -> str:
    if settings.keys.passphrase:
        return settings.keys.passphrase.get_secret_value()
    if not sys.stdin.isatty():
        raise fail("set TESTIMONY_KEYS__PASSPHRASE to protect the key file non-interactively")
    first = getpass.getpass("New key file passphrase: ")
    if len(first) < 12 or first != getpass.getpass("Repeat passphrase: "):
        raise fail("passphrases differ or are shorter than 12 characters")
    return first
