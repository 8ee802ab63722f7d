"""The auditor's downloads: a signed checkpoint, one event's inclusion proof and a consistency proof between two
checkpoints, each a file that `python -m app.audit.verify` checks away from the server with a pinned key. The
page shows the exact command beside each file: a check inside the server proves nothing to an outsider."""

from __future__ import annotations

import json
import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.access.deps import RuntimeDep
from app.audit import note, read
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.errors import ValidationFailed
from app.core.pagination import PageQuery
from app.runtime import Runtime
from app.web import render
from app.web.deps import PagePrincipal
from app.web.errors import on_error
from app.web.forms import blank_to_none
from app.web.messages import _

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

PROOFS = "/audit/proofs"
CHECKPOINT_FILE = "/audit/downloads/checkpoint"
INCLUSION_FILE = "/audit/downloads/inclusion"
CONSISTENCY_FILE = "/audit/downloads/consistency"
MAX_SEQ = 2**63 - 1
OptionalSize = Annotated[int | None, Query(ge=1, le=MAX_SEQ)]
Number = Annotated[str, Query(max_length=20)]
VERIFIER = "python -m app.audit.verify"


def checkpoint_name(size: int) -> str:
    return f"checkpoint-{size}.txt"


def inclusion_name(seq: int, size: int) -> str:
    return f"inclusion-{seq}-in-{size}.json"


def consistency_name(first: int, second: int) -> str:
    return f"consistency-{first}-to-{second}.json"


def command(kind: str, file_name: str, vkey: str) -> str:
    """The exact command that checks a downloaded file, with the verifier key the auditor pins."""
    return f"{VERIFIER} {kind} {file_name} --key {shlex.quote(vkey)}"


def _vkey(runtime: Runtime) -> str:
    return note.vkey(runtime.settings.audit.origin, runtime.keys.for_signing().signer.public_key)


def _number(value: str, field: str, least: int) -> int | None:
    text = blank_to_none(value)
    if text is None:
        return None
    if not text.isdigit() or not least <= int(text) <= MAX_SEQ:
        raise ValidationFailed(_("give a whole number from the log"), fields=[field])
    return int(text)


def _file(content: str, file_name: str, media_type: str) -> Response:
    headers = {**render.PAGE_HEADERS, "content-disposition": f'attachment; filename="{file_name}"'}
    return Response(content, media_type=media_type, headers=headers)


@router.get(PROOFS)
@audited(AuditAction.AUDIT_READ, "audit_checkpoint")
def proofs_page(
    request: Request,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    seq: Number = "",
    size: Number = "",
    first: Number = "",
    second: Number = "",
) -> Response:
    """The stored checkpoints, and the forms for an inclusion and a consistency proof, each with its command."""
    read.require_reader(principal)  # a role that does not read the log sees no part of this page
    vkey = _vkey(runtime)
    values = {"seq": seq, "size": size, "first": first, "second": second}
    context: dict[str, Any] = {
        "vkey": vkey,
        "values": values,
        "checkpoints": [],
        "next_cursor": None,
        "inclusion": None,
        "consistency": None,
    }
    on_error(request, "audit_proofs.html", **context)
    listed = read.checkpoints(session, principal, None, page)
    context |= {
        "checkpoints": [
            (c, checkpoint_name(c.size), command("checkpoint", checkpoint_name(c.size), vkey)) for c in listed.items
        ],
        "next_cursor": listed.next_cursor,
    }
    chosen = {k: _number(v, k, 0 if k == "seq" else 1) for k, v in values.items()}
    if chosen["seq"] is not None and chosen["size"] is not None:
        name = inclusion_name(chosen["seq"], chosen["size"])
        query = f"seq={chosen['seq']}&size={chosen['size']}"
        context["inclusion"] = (f"{INCLUSION_FILE}?{query}", name, command("inclusion", name, vkey))
    if chosen["first"] is not None and chosen["second"] is not None:
        name = consistency_name(chosen["first"], chosen["second"])
        query = f"first={chosen['first']}&second={chosen['second']}"
        context["consistency"] = (f"{CONSISTENCY_FILE}?{query}", name, command("consistency", name, vkey))
    return render.page(request, "audit_proofs.html", context)


@router.get(CHECKPOINT_FILE)
@audited(AuditAction.AUDIT_READ, "audit_checkpoint")
def checkpoint_file(principal: PagePrincipal, session: DbSession, size: OptionalSize = None) -> Response:
    """A stored checkpoint's signed note, exactly as signed (the latest one without a size)."""
    if size is None:
        cp = read.latest_checkpoint(session, principal)
    else:
        [cp] = read.checkpoints(session, principal, size).items
    return _file(cp.note, checkpoint_name(cp.size), "text/plain; charset=utf-8")


@router.get(INCLUSION_FILE)
@audited(AuditAction.AUDIT_READ, "audit_proof")
def inclusion_file(
    principal: PagePrincipal,
    session: DbSession,
    seq: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    size: OptionalSize = None,
) -> Response:
    """One event's stored bytes, its path and the checkpoint it leads to (the latest without a size, and its
    last event without a seq)."""
    document = read.inclusion_file(session, principal, seq, size)
    name = inclusion_name(int(str(document["leaf_index"])), int(str(document["tree_size"])))
    return _file(json.dumps(document, indent=2) + "\n", name, "application/json")


@router.get(CONSISTENCY_FILE)
@audited(AuditAction.AUDIT_READ, "audit_proof")
def consistency_file(
    principal: PagePrincipal, session: DbSession, first: OptionalSize = None, second: OptionalSize = None
) -> Response:
    """Two stored checkpoints and the path that shows the second extends the first (by default the earliest
    and the latest)."""
    document = read.consistency_file(session, principal, first, second)
    name = consistency_name(int(str(document["first_size"])), int(str(document["second_size"])))
    return _file(json.dumps(document, indent=2) + "\n", name, "application/json")
