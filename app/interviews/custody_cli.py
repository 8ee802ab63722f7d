"""`testimony custody`: proofs that a statement version or an attachment original is what the log committed to."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from app.audit.custody_proof import KIND_NAMES
from app.audit.vocabulary import AuditAction
from app.cli_support import SYSTEM, ForceOption, counted, fail, group, out, refuse_existing, services, write_output
from app.crypto.errors import DecryptionFailed
from app.interviews import custody, service_statements

custody_cli = group("Chain of custody: proofs that a court can check.")


class _NotAStatement(Exception):
    """--statement-out was given for an attachment's record."""


class _Uncovered(Exception):
    """Carries a NotCheckpointed out of the unit of work, which records the attempt as failed."""


@custody_cli.command("proof")
def custody_proof(
    record_id: Annotated[
        str,
        typer.Argument(metavar="RECORD_ID", help="The statement version's or attachment's id.", show_default=False),
    ],
    out_file: Annotated[Path, typer.Option("--out", metavar="FILE", help="Where to write the proof (JSON).")],
    statement_out: Annotated[
        Path | None,
        typer.Option(
            "--statement-out",
            metavar="FILE",
            help="Also write the statement version's canonical bytes (RFC 8785 JSON), the item the proof checks.",
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Write the custody proof of a statement version or attachment.

    The proof holds the digest, the salt, the log entry, its inclusion proof and a signed checkpoint.
    Check it with `python -m app.audit.verify custody FILE ITEM --key KEY`. Exit status 1 when no
    signed checkpoint includes the record's entry yet. For a statement version, `--statement-out` writes
    its canonical bytes, the ITEM to check (they hold the statement's text: keep the file as safe as
    the statement). An existing file is refused (exit 2) unless `--force` is given; the files are
    written whole, readable by their owner only.
    """
    try:
        wanted = uuid.UUID(record_id)
    except ValueError:
        raise fail("RECORD_ID is not an id") from None
    if statement_out is not None and statement_out.absolute() == out_file.absolute():
        raise fail("--out and --statement-out must be different files")
    refuse_existing(out_file, statement_out, force=force)
    statement: bytes | None = None
    try:
        with services(AuditAction.CUSTODY_PROOF, "custody", resource_id=str(wanted)) as (session, runtime):
            try:
                document = custody.proof(session, runtime, SYSTEM, wanted)
                if statement_out is not None:
                    if document["kind"] != custody.Kind.STATEMENT_VERSION.value:
                        raise _NotAStatement
                    statement = service_statements.statement_bytes(session, runtime, SYSTEM, wanted)
            except custody.NotCheckpointed as exc:
                raise _Uncovered(exc.detail) from None
    except _Uncovered as exc:
        raise fail(str(exc), 1) from None
    except _NotAStatement:
        raise fail("--statement-out is for a statement version; this record is an attachment original") from None
    except DecryptionFailed:
        raise fail("the record's custody values failed their integrity check; nothing was written") from None
    for path, data in ((out_file, (json.dumps(document, indent=2) + "\n").encode()), (statement_out, statement)):
        if path is not None and data is not None:
            write_output(path, data, force=force)
    out.print(_summary(document, out_file), soft_wrap=True, markup=False, highlight=False)


def _summary(document: dict[str, Any], out_file: Path) -> str:
    kind = KIND_NAMES[document["kind"]]
    return (
        f"wrote the custody proof of log entry {document['leaf_index']} ({'an' if kind[0] in 'aeiou' else 'a'} "
        f"{kind}), in the signed checkpoint of {counted(document['tree_size'], 'entry', 'entries')}, to {out_file}"
    )
