"""`testimony exports`: offline verification of bundles, and the standalone verifier for recipients."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from app.cli_support import console, fail, group
from app.exports import verify_bundle
from app.exports.verifier import verifier_sha256, verifier_source

exports_cli = group("Consented exports: verifying bundles offline.")


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
