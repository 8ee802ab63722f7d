"""`testimony backup`, `testimony restore` and `testimony journal verify` (docs/operations.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.cli_support import console, fail, group, out, refuse_existing, services
from app.consent.grant_models import ConsentWithdrawal
from app.core.config import get_settings
from app.core.errors import ConfigError
from app.crypto.errors import KeyringError
from app.erasure import backup as backups
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
) -> None:
    """Copy the database and blob stores to one file (SQLite only).

    The keys and the journal are not inside: back them up apart."""
    settings = get_settings()
    try:
        database = backups.sqlite_path(settings.database_url)
    except backups.BackupError as exc:
        raise fail(str(exc)) from None
    refuse_existing(out_file, force=False)
    with services(AuditAction.SYSTEM_BACKUP, "system") as (session, _runtime):
        latest = audit.latest_checkpoint(session)
        manifest: dict[str, object] = {
            "taken_at": datetime.now(UTC).isoformat(),
            "audit_entries": audit.size(session),
            "last_checkpoint": latest.size if latest else None,
        }
        try:
            files = backups.take(database, _stores(settings.data_dir, settings.attachments_dir), out_file, manifest)
        except (OSError, backups.BackupError) as exc:
            raise fail(f"could not write the backup: {exc}") from None
    out.print(f"wrote {out_file}: the database and {files} blob files")
    console.print(NOT_INSIDE.format(keys=settings.key_file, journal=settings.journal_path))


def restore(backup_file: Annotated[Path, typer.Argument(help="A file written by `testimony backup`.")]) -> None:
    """Restore a backup, then re-apply the journal.

    Persons the journal erased are erased again, its withdrawals recorded again."""
    settings = get_settings()
    try:
        database = backups.sqlite_path(settings.database_url)
        keys = open_keys(settings, prompt_passphrase)
        entries = journal.read(settings.journal_path, keys.current)
    except (backups.BackupError, ConfigError, KeyringError, journal.JournalBroken) as exc:
        raise fail(str(exc)) from None
    if not settings.journal_path.exists():
        console.print(f"[bold red]no journal at {settings.journal_path}[/bold red]: nothing will be brought forward")
    try:
        manifest = backups.unpack(backup_file, database, _stores(settings.data_dir, settings.attachments_dir))
    except (OSError, backups.BackupError) as exc:
        raise fail(f"could not restore: {exc}") from None
    from app.core.migrate import upgrade

    upgrade(settings.database_url, app_role=settings.database.app_role)
    with services(AuditAction.SYSTEM_RESTORE, "audit_checkpoint", keys) as (session, runtime):
        latest = audit.latest_checkpoint(session)
        audit.touch(session, resource_id=str(latest.size) if latest else "none")
        brought = backups.bring_forward(session, runtime, entries)
    checkpoint(str(database))
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
