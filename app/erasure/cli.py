"""`testimony backup`, `testimony restore` and `testimony journal verify` (docs/operations.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.cli_support import console, fail, group, open_factory, out, record, recorded, refuse_existing, services
from app.consent.grant_models import ConsentWithdrawal
from app.core.config import get_settings
from app.core.db import is_sqlite, unit_of_work
from app.core.errors import ConfigError
from app.crypto.errors import KeyringError
from app.erasure import archive, snapshots
from app.erasure import backup as backups
from app.erasure.archive import BackupError
from app.erasure.carry_out import checkpoint
from app.keys import journal
from app.keys.store import open_keys, prompt_passphrase
from app.people.models import ErasedPerson

journal_cli = group("The journal of erasures and withdrawals, kept with the keys.")

NOT_INSIDE = (
    "[bold red]The keys and the journal are NOT in this backup.[/bold red] Back up {keys} and {journal} apart "
    "(with the keys, not beside the database): without the keys nothing in it opens, and without the journal a "
    "restore cannot erase again the people erased since."
)


def _stores(settings_data_dir: Path, attachments: Path) -> dict[str, Path]:
    return {"attachments": attachments, "exports": settings_data_dir / "exports"}


def backup(
    out_file: Annotated[Path, typer.Option("--out", help="The backup file to write (refused if it exists).")],
    recipient: Annotated[
        str | None,
        typer.Option(
            "--recipient", help="The age recipient (age1...) to encrypt to, else TESTIMONY_BACKUP__RECIPIENT."
        ),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="Encrypt to the passphrase in this file's first line (16 characters or more) instead of a recipient.",
        ),
    ] = None,
) -> None:
    """Snapshot the database and blobs, online, to an encrypted file.

    SQLite's backup API or pg_dump (run it as the owner on PostgreSQL), encrypted with age as it is written.
    The keys and the journal are NOT inside: back them up apart."""
    settings = get_settings()
    refuse_existing(out_file, force=False)
    url = settings.database_url
    try:
        lock = _lock(recipient or settings.backup.recipient, recipient, passphrase_file)
        archive.age_binary()
        if not is_sqlite(url):
            snapshots.tool("pg_dump")
    except BackupError as exc:
        raise fail(str(exc)) from None
    try:
        keys = open_keys(settings, prompt_passphrase)  # the backup is signed with the service's signing key
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    engine, factory = open_factory(settings)
    try:
        with recorded(factory, AuditAction.SYSTEM_BACKUP, "system"):
            with unit_of_work(factory) as session:
                latest = audit.latest_checkpoint(session)
                manifest: dict[str, object] = {
                    "taken_at": datetime.now(UTC).isoformat(),
                    "audit_entries_before": audit.size(session),
                    "last_checkpoint": latest.size if latest else None,
                }
            stores = _stores(settings.data_dir, settings.attachments_dir)
            try:
                taken = backups.take(url, stores, out_file, lock, manifest, keys.current)
            except (OSError, BackupError) as exc:
                raise fail(f"could not write the backup (nothing was written): {exc}") from None
        record(factory, AuditAction.SYSTEM_BACKUP, resource_type="system")
    finally:
        engine.dispose()
    out.print(
        f"wrote {out_file}, encrypted: the database ({taken.database_bytes} bytes) and {taken.blob_files} blob files"
    )
    console.print(NOT_INSIDE.format(keys=settings.key_file, journal=settings.journal_path))


def _lock(configured: str | None, given: str | None, passphrase_file: Path | None) -> archive.Lock:
    """A passphrase from its file, or the recipient (given, else configured); both given is a mistake."""
    if passphrase_file is None:
        return archive.recipient_of(configured)
    if given is not None:
        raise BackupError("give either --recipient or --passphrase-file, not both")
    return archive.passphrase_from(passphrase_file)


def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `testimony backup`.")],
    identity: Annotated[
        Path | None,
        typer.Option("--identity", help="The age identity file to decrypt with; else TESTIMONY_BACKUP__IDENTITY."),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option("--passphrase-file", help="For a backup encrypted to a passphrase: the file holding it."),
    ] = None,
) -> None:
    """Restore a backup into an empty place, then re-apply the journal.

    Only into an empty data directory and an empty database; a restore that fails half-way leaves nothing.
    Persons the journal erased are erased again, its withdrawals recorded again."""
    settings = get_settings()
    url = settings.database_url
    stores = _stores(settings.data_dir, settings.attachments_dir)
    try:
        if passphrase_file is not None and identity is not None:
            raise BackupError("give either --identity or --passphrase-file, not both")
        key = archive.passphrase_from(passphrase_file) if passphrase_file else identity or settings.backup.identity
        keys = open_keys(settings, prompt_passphrase)
        entries = journal.read(settings.journal_path, keys.current)
        backups.refuse_unless_empty(url, stores)
        if not is_sqlite(url):
            snapshots.tool("pg_restore")
    except (BackupError, ConfigError, KeyringError, journal.JournalBroken) as exc:
        raise fail(str(exc)) from None
    if not settings.journal_path.exists():
        console.print(f"[bold red]no journal at {settings.journal_path}[/bold red]: nothing will be brought forward")
    try:
        with backups.restoring(url, stores, backup_file, key, keys.current) as manifest:
            from app.core.migrate import upgrade

            upgrade(url, app_role=settings.database.app_role)
            with services(AuditAction.SYSTEM_RESTORE, "audit_checkpoint", keys) as (session, runtime):
                latest = audit.latest_checkpoint(session)
                audit.touch(session, resource_id=str(latest.size) if latest else "none")
                brought = backups.bring_forward(session, runtime, entries)
    except (OSError, BackupError) as exc:
        raise fail(f"could not restore (nothing of it was left behind): {exc}") from None
    if is_sqlite(url):
        checkpoint(str(snapshots.sqlite_path(url)))
    taken = manifest.get("taken_at", "an unknown time")
    out.print(f"restored the backup taken at {taken}; last checkpoint before it: {latest.size if latest else 'none'}")
    out.print(
        f"from the journal: {brought.erased} people erased again, {brought.withdrawals} withdrawals recorded again; "
        f"{brought.exports_held} ready exports held (stale: ask for them again)"
    )


@journal_cli.command("verify")
def verify() -> None:
    """Check the journal's chain and that it holds what the database holds.

    Every erasure and withdrawal the database knows of must be in it; exit 1 otherwise."""
    settings = get_settings()
    with services(AuditAction.SYSTEM_JOURNAL_VERIFY, "system") as (session, runtime):
        try:
            entries = journal.read(settings.journal_path, runtime.keys.current)
        except journal.JournalBroken as exc:
            raise fail(f"the journal does not verify: {exc}", code=1) from None
        have = {(e.event, e.person_id) for e in entries} | {(e.event, e.ref_id) for e in entries}
        missing = [
            f"erasure of {p}"
            for p in session.scalars(select(ErasedPerson.person_id).where(ErasedPerson.origin != "journal"))
            if (journal.ERASURE, p) not in have
        ] + [
            f"withdrawal {w}"
            for w in session.scalars(select(ConsentWithdrawal.id))
            if (journal.WITHDRAWAL, w) not in have
        ]
    if missing:
        listed = "".join(f"\n  - {m}" for m in missing)
        raise fail(f"the journal lacks what the database holds (lines cut off at its end?):{listed}", code=1)
    out.print(f"OK: {len(entries)} journal entries verified; every erasure and withdrawal of the database is in it")
