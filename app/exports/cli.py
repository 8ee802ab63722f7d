"""`testimony exports`: listing exports, running a failed build again, offline verification of bundles, and the
standalone verifier for recipients."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from app.audit.vocabulary import AuditAction
from app.cli_support import (
    SYSTEM,
    JsonOption,
    console,
    counted,
    fail,
    group,
    open_factory,
    out,
    print_json,
    progress,
    services,
)
from app.core.config import get_settings
from app.core.errors import ConfigError
from app.core.pagination import MAX_LIMIT, PageRequest
from app.crypto.errors import KeyringError
from app.exports import expiry, rebuild, service, verify_bundle
from app.exports.schemas import ExportRead, ExportStatus
from app.exports.verifier import verifier_sha256, verifier_source
from app.exports.worker import Worker
from app.keys.store import open_keys, prompt_passphrase
from app.runtime import Runtime

exports_cli = group("Consented exports: list, rebuild, verify, sweep spent bundles.")


def _summary(e: ExportRead) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "status": e.status.value,
        "purpose": e.purpose.value,
        "recipient_id": str(e.recipient_id),
        "people": e.people_count,
        "excluded": e.excluded_count,
        "levels": e.level_counts,
    }


@exports_cli.command("list")
def list_exports(as_json: JsonOption = False) -> None:
    """List exports: id, status, purpose, recipient, counts.

    Every export, oldest first. Never any content: no justification, names or records.
    """
    rows: list[dict[str, Any]] = []
    with services(AuditAction.EXPORT_LIST, "export") as (session, runtime):
        cursor: str | None = None
        while True:
            page = service.list_exports(session, runtime, SYSTEM, PageRequest(cursor, MAX_LIMIT))
            rows.extend(_summary(e) for e in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no exports")
        return
    out.print(f"{'id':<36}  {'status':<24}  {'purpose':<24}  {'recipient':<36}  {'people':>6}  {'excluded':>8}")
    for r in rows:
        people = "" if r["people"] is None else r["people"]
        excluded = "" if r["excluded"] is None else r["excluded"]
        line = f"{r['id']:<36}  {r['status']:<24}  {r['purpose']:<24}  {r['recipient_id']:<36}"
        out.print(f"{line}  {people:>6}  {excluded:>8}", soft_wrap=True, highlight=False)


@exports_cli.command("build")
def build_again(
    export_id: Annotated[uuid.UUID, typer.Argument(metavar="EXPORT_ID", help="The export whose build failed.")],
) -> None:
    """Run a failed build of an approved export again.

    With a progress bar. Never approves: any export other than an approved one whose build failed is
    refused. The build resumes where the failed one stopped. Exit status 0 when the export is ready, 1 when
    the build failed again.
    """
    settings = get_settings()
    try:
        keys = open_keys(settings, prompt_passphrase)
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    with services(AuditAction.EXPORT_BUILD, "export", keys, resource_id=str(export_id)) as (session, runtime):
        rebuild.queue_again(session, runtime, SYSTEM, export_id)
    engine, factory = open_factory(settings)
    try:
        runner = Worker(factory, Runtime(settings, keys))
        with progress() as bar:
            deciding = bar.add_task("deciding", total=None)
            writing = bar.add_task("writing the bundle", total=1, start=False)

            def tell(stage: str, done: int, total: int) -> None:
                if stage == "decide":
                    bar.update(deciding, completed=done, total=total)
                else:
                    bar.start_task(writing)
                    bar.update(writing, completed=done, total=total)

            status = runner.build_one(export_id, tell)
    finally:
        engine.dispose()
    if status is None:
        out.print("queued again; a running worker took the job")
    elif status is ExportStatus.READY:
        out.print("ready")
    else:
        out.print("the build failed again")
        raise typer.Exit(1)


@exports_cli.command("verify")
def verify(
    bundle: Annotated[
        Path, typer.Argument(metavar="BUNDLE", help="The bundle's ZIP file (decrypted), or its extracted folder.")
    ],
    key: Annotated[
        str,
        typer.Option(
            "--key",
            metavar="KEY_OR_FINGERPRINT",
            help="The pinned signing key: 64-hex-digit fingerprint, base64 Ed25519 key, or C2SP verifier key.",
        ),
    ],
) -> None:
    """Verify a bundle against a pinned signing key.

    Checks the signature, every file, SHA256SUMS and every custody proof: the same checks as the
    standalone `verify_bundle.py` (it is the same code). Exit status 0 when all hold, 1 when any does
    not, 2 for a usage error.
    """
    try:
        pinned = verify_bundle.read_key(key)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not bundle.exists():
        raise fail(f"{bundle} does not exist")
    report = verify_bundle.verify_bundle(bundle, pinned)
    raise typer.Exit(verify_bundle.print_report(report, bundle, sys.stdout))


@exports_cli.command("sweep")
def sweep() -> None:
    """Delete the bundles nobody may download any more.

    A ready export whose downloads are used up or whose download period ended loses its bundle file and
    data key, and is marked (bundle_removed_at). The export worker does the same before each job.
    """
    with services(AuditAction.EXPORT_SWEEP, "export") as (session, runtime):
        swept = expiry.sweep_bundles(session, runtime)
    for export_id in swept:
        out.print(str(export_id))
    console.print(f"deleted the bundles of {counted(len(swept), 'export')}")


@exports_cli.command("verifier")
def verifier() -> None:
    """Write the standalone bundle verifier to standard output.

    One Python file that needs only the standard library and cryptography.
    `testimony exports verifier > verify_bundle.py`; its SHA-256 is printed on standard error, and
    every bundle's README.txt names the one of the version that built it.
    """
    sys.stdout.buffer.write(verifier_source())
    sys.stdout.buffer.flush()
    console.print(f"sha256 {verifier_sha256()}  verify_bundle.py", soft_wrap=True)
