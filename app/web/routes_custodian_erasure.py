"""Erasure and legal holds: each needs two different custodians, and each decision a fresh second factor.

The same services as /api/v1/erasures and /api/v1/people/{id}/legal-hold: the confirmation engine refuses the
custodian who asked, and a legal hold stops an erasure. The page says what cannot be undone before the button
that does it."""

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
from app.core.errors import ValidationFailed
from app.core.pagination import PageQuery
from app.erasure import holds
from app.erasure import service as erasures
from app.erasure.schemas import DecisionIn, ErasureIn, LegalHoldIn, LiftIn, RefuseIn
from app.web import custodian, render
from app.web.deps import Lists, PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

ERASURES = "/erasures"
PERSON = "/people/{person_id}"
DECISIONS = {"confirm": True, "reject": False}


def _context(
    request: Request, session: Session, principal: Principal, page: PageQuery, done: str = ""
) -> dict[str, Any]:
    waiting = erasures.list_erasures(session, principal, None, page)
    held = holds.list_holds(session, principal)
    return custodian.common(request, session, principal, ERASURES, done) | {
        "erasures": waiting.items,
        "next_cursor": waiting.next_cursor,
        "holds": held.items,
        "more_holds": held.next_cursor is not None,
    }


def _decision(values: dict[str, str]) -> DecisionIn:
    decision = DECISIONS.get(values.get("decision", ""))
    if decision is None:
        raise ValidationFailed("Fill in every field.", fields=["decision"])
    return DecisionIn(confirm=decision)


@router.get(ERASURES)
@audited(AuditAction.ERASURE_LIST, "erasure")
def erasures_page(
    request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery, done: str = ""
) -> Response:
    """Erasure requests and legal holds, and what each waits for."""
    return render.page(request, "custodian_erasures.html", _context(request, session, principal, page, done))


@router.post(f"{PERSON}/erase")
@audited(AuditAction.ERASURE_REQUEST, "person", id_param="person_id")
def request_erasure(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    values: Posted,
    lists: Lists,
) -> Response:
    """Ask for the person's erasure (a survivor's pending request, or a new one); a second custodian confirms."""
    on_error(request, "custodian_erasures.html", **_context(request, session, principal, page))
    data = parse(ErasureIn, reason=values.get("reason", ""), include_linked=lists.get("include_linked", []))
    erasures.request_erasure(session, runtime, principal, person_id, data)
    return render.redirect(custodian.at(ERASURES, "erasure_asked"))


@router.post(f"{ERASURES}/{{erasure_id}}/decision")
@audited(AuditAction.ERASURE_CONFIRM, "erasure", id_param="erasure_id")
def decide_erasure(
    request: Request,
    erasure_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    values: Posted,
) -> Response:
    """The second custodian: confirm (the erasure is carried out now, for good) or decline (back to the queue)."""
    on_error(request, "custodian_erasures.html", **_context(request, session, principal, page))
    erasures.decide_erasure(session, runtime, principal, erasure_id, _decision(values))
    return render.redirect(custodian.at(ERASURES, "erasure_confirmed"))


@router.post(f"{ERASURES}/{{erasure_id}}/refuse")
@audited(AuditAction.ERASURE_REFUSE, "erasure", id_param="erasure_id")
def refuse_erasure(
    request: Request,
    erasure_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    values: Posted,
) -> Response:
    """Close the request without erasing, with a reason."""
    on_error(request, "custodian_erasures.html", **_context(request, session, principal, page))
    erasures.refuse_erasure(session, runtime, principal, erasure_id, parse(RefuseIn, reason=values.get("reason", "")))
    return render.redirect(custodian.at(ERASURES, "erasure_refused"))


@router.post(f"{PERSON}/legal-hold")
@audited(AuditAction.LEGAL_HOLD_REQUEST, "person", id_param="person_id")
def request_hold(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    values: Posted,
) -> Response:
    """Ask for a legal hold on the person; it holds once a second custodian confirms it."""
    on_error(request, "custodian_erasures.html", **_context(request, session, principal, page))
    data = parse(
        LegalHoldIn, reason=values.get("reason", ""), proceedings_reference=values.get("proceedings_reference", "")
    )
    holds.request_hold(session, runtime, principal, person_id, data)
    return render.redirect(custodian.at(ERASURES, "hold_asked"))


@router.post(f"{PERSON}/legal-hold/lift")
@audited(AuditAction.LEGAL_HOLD_LIFT, "person", id_param="person_id")
def lift_hold(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    values: Posted,
) -> Response:
    """Lift an active hold, with a reason (one custodian; erasing afterwards still takes two)."""
    on_error(request, "custodian_erasures.html", **_context(request, session, principal, page))
    holds.lift_hold(session, runtime, principal, person_id, parse(LiftIn, reason=values.get("reason", "")))
    return render.redirect(custodian.at(ERASURES, "hold_lifted"))


@router.post("/legal-holds/{hold_id}/decision")
@audited(AuditAction.LEGAL_HOLD_CONFIRM, "legal_hold", id_param="hold_id")
def decide_hold(
    request: Request,
    hold_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    page: PageQuery,
    values: Posted,
) -> Response:
    """The second custodian confirms or declines a requested hold."""
    on_error(request, "custodian_erasures.html", **_context(request, session, principal, page))
    holds.decide_hold(session, runtime, principal, hold_id, _decision(values))
    return render.redirect(custodian.at(ERASURES, "hold_decided"))
