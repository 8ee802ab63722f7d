"""The second admin's page: the two-person requests waiting, described by names, and the decision on each.
The same engine as POST /api/v1/confirmations/{id}: it refuses the admin who asked and anyone whose own
access the request changes, and a decision needs a fresh second factor."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.access.deps import RuntimeDep
from app.access.principal import Principal
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.confirmations import service as confirmations
from app.confirmations.schemas import ConfirmationRead, Status
from app.core.errors import ValidationFailed
from app.core.pagination import every_page
from app.recipients import service as recipients
from app.web import admin, render
from app.web.deps import PagePrincipal, Posted
from app.web.errors import on_error

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

CONFIRMATIONS = "/admin/confirmations"
DECISIONS = {"confirm": True, "reject": False}


def _context(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    waiting = confirmations.list_confirmations(session, principal, status=Status.PENDING, limit=confirmations.MAX_PAGE)
    names = {str(r.id): r.names[0] for r in every_page(lambda p: recipients.list_recipients(session, principal, p))}

    def described(c: ConfirmationRead) -> dict[str, Any]:
        return {"c": c, "kind": admin.kind_of(request, c), "details": admin.details(request, c, names)}

    return admin.common(request, session, principal, CONFIRMATIONS, step_up=True) | {
        "waiting": [described(c) for c in waiting.items],
        "more": waiting.next_cursor is not None,
        "decided": None,
    }


@router.get(CONFIRMATIONS)
@audited(AuditAction.CONFIRMATION_LIST, "confirmation")
def confirmations_page(request: Request, principal: PagePrincipal, session: DbSession) -> Response:
    """What waits for a second admin, newest first."""
    return render.page(request, "admin_confirmations.html", _context(request, session, principal))


@router.post(f"{CONFIRMATIONS}/{{confirmation_id}}")
@audited(AuditAction.CONFIRMATION_DECIDE, "confirmation", id_param="confirmation_id")
def decide(
    request: Request,
    confirmation_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """Confirm or decline. Confirming a new account or a password reset shows this admin, once, the second
    half of its one-time password."""
    on_error(request, "admin_confirmations.html", **_context(request, session, principal))
    decision = DECISIONS.get(values.get("decision", ""))
    if decision is None:
        raise ValidationFailed("Fill in every field.", fields=["decision"])
    done = confirmations.decide_confirmation(session, runtime, principal, confirmation_id, decision)
    shown = _context(request, session, principal) | {"decided": admin.kind_of(request, done), "result": done}
    return render.page(request, "admin_confirmations.html", shown)
