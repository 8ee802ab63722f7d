"""`testimony exports`: offline verification of bundles, and the standalone verifier for recipients."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from app.audit.vocabulary import AuditAction
from app.cli_support import console, counted, fail, group, out, services
from app.exports import expiry, verify_bundle
from app.exports.verifier import verifier_sha256, verifier_source

exports_cli = group("Consented exports: verifying bundles, deleting spent ones.")


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
