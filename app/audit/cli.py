"""`testimony audit`: checkpoints, export and verification of the log."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from sqlalchemy.orm import Session, sessionmaker

from app.audit import note
from app.audit import service as audit
from app.audit.models import AuditCheckpoint
from app.audit.verify import Report, verify_dump
from app.audit.vocabulary import AuditAction
from app.cli_support import console, out, progress, record
from app.core.config import get_settings
from app.core.db import make_engine, make_sessionmaker, unit_of_work
from app.core.errors import ConfigError
from app.crypto.keyring import Keyring
from app.keys.store import load_keyring, prompt_passphrase

audit_cli = typer.Typer(no_args_is_help=True, help="The tamper-evident log: checkpoints, export, verification.")


@contextmanager
def _open() -> Iterator[tuple[Keyring, sessionmaker[Session], str]]:
    settings = get_settings()
    try:
        keyring = load_keyring(settings, prompt_passphrase)
    except ConfigError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    try:
        yield keyring, make_sessionmaker(engine), settings.audit.origin
    finally:
        engine.dispose()


def checkpoint_once(factory: sessionmaker[Session], keyring: Keyring, origin: str) -> AuditCheckpoint | None:
    """Record the checkpointing, then sign the tree including that record."""
    record(factory, AuditAction.AUDIT_CHECKPOINT, resource_type="audit_log")
    with progress() as bar, unit_of_work(factory) as session:
        task = bar.add_task("hashing the log", total=audit.size(session))
        row = audit.make_checkpoint(session, keyring.signer, origin, lambda n: bar.advance(task, n))
    return row


@audit_cli.command("checkpoint")
def checkpoint(
    out_file: Annotated[Path | None, typer.Option("--out", help="Save the note for off-server keeping.")] = None,
) -> None:
    """Sign a checkpoint of the log now, and optionally save the latest one to a file."""
    with _open() as (keyring, factory, origin):
        row = checkpoint_once(factory, keyring, origin)
        with unit_of_work(factory) as session:
            latest = audit.latest_checkpoint(session)
        if latest is None:
            console.print("the log is empty; nothing to sign")
            raise typer.Exit(1)
        if out_file is not None:
            out_file.write_text(latest.note)
        made = "signed" if row is not None else "already current:"
        out.print(f"{made} checkpoint of {latest.size} entries, root {audit.b64(latest.root_hash)}")


@audit_cli.command("checkpointer")
def checkpointer(
    every_events: Annotated[int | None, typer.Option(min=1)] = None,
    every_seconds: Annotated[float | None, typer.Option(min=0.1)] = None,
    max_runs: Annotated[int | None, typer.Option(min=1, help="Stop after this many checkpoints.")] = None,
) -> None:
    """The one named process that signs checkpoints every N events or T seconds."""
    settings = get_settings()
    n = every_events or settings.audit.checkpoint_every_events
    t = every_seconds or float(settings.audit.checkpoint_every_seconds)
    with _open() as (keyring, factory, origin):
        made = 0
        last = time.monotonic()
        while max_runs is None or made < max_runs:
            with unit_of_work(factory) as session:
                latest = audit.latest_checkpoint(session)
                pending = audit.size(session) - (latest.size if latest else 0)
            if pending > 0 and (pending >= n or time.monotonic() - last >= t):
                if checkpoint_once(factory, keyring, origin) is not None:
                    made += 1
                last = time.monotonic()
            time.sleep(min(t, 1.0))


@audit_cli.command("export")
def export(out_file: Annotated[Path, typer.Option("--out")]) -> None:
    """Write every stored entry, one per line, for verification elsewhere."""
    with _open() as (_keyring, factory, _origin):
        record(factory, AuditAction.AUDIT_EXPORT, resource_type="audit_log")
        with unit_of_work(factory) as session, out_file.open("wb") as fh, progress() as bar:
            task = bar.add_task("exporting", total=audit.size(session))
            for entry in audit.iter_entries(session):
                fh.write(entry + b"\n")
                bar.advance(task)
        out.print(f"wrote {out_file}")


def pinned_key(key: str, keyring: Keyring, origin: str) -> tuple[bytes, str]:
    """A vkey, or a fingerprint matched against the local key history; never the first key offered."""
    if ":" in key or "+" in key:
        name, public = note.parse_vkey(key)
        return public, name
    for entry in keyring.public_keys():
        if entry["fingerprint"] == key.lower():
            return base64.b64decode(entry["public_key"]), origin
    raise typer.BadParameter("no signing key with that fingerprint: the log was not signed by the pinned key")


def verify_database(session: Session, public_key: bytes, key_name: str, external: list[Path]) -> Report:
    stored = audit.all_checkpoints(session)
    notes = [c.note for c in stored] + [p.read_text() for p in external]
    labels = [f"stored checkpoint {c.size}" for c in stored] + [f"external {p.name}" for p in external]
    with progress() as bar:
        task = bar.add_task("verifying", total=audit.size(session))
        report = verify_dump(
            audit.iter_entries(session),
            notes,
            public_key,
            key_name,
            labels=labels,
            on_entry=lambda _n: bar.advance(task),
        )
    report.problems.extend(audit.column_problems(session))
    return report


@audit_cli.command("verify")
def verify(
    key: Annotated[str, typer.Option("--key", help="The pinned key: a C2SP vkey or a SHA-256 fingerprint.")],
    checkpoint_files: Annotated[
        list[Path] | None, typer.Option("--checkpoint", help="A checkpoint kept off the server.")
    ] = None,
) -> None:
    """Check every entry, every stored checkpoint and any external checkpoint against a pinned key."""
    with _open() as (keyring, factory, origin):
        try:
            public_key, key_name = pinned_key(key, keyring, origin)
        except note.NoteError as exc:
            console.print(f"error: --key: {exc}", markup=False)
            raise typer.Exit(2) from None
        with unit_of_work(factory) as session:
            report = verify_database(session, public_key, key_name, checkpoint_files or [])
        for problem in report.problems:
            out.print(Text.assemble(("FAIL ", "red"), problem), soft_wrap=True)
        if not report.ok:
            record(factory, AuditAction.AUDIT_VERIFY, audit.Outcome.FAILED, resource_type="audit_log")
            raise typer.Exit(1)
        record(factory, AuditAction.AUDIT_VERIFY, resource_type="audit_log")
        out.print(
            f"OK: {report.entries} entries, {len(report.checkpoints)} checkpoints verified with key "
            f"{key_name}; {report.uncovered} newer entries not yet covered by a checkpoint"
        )
