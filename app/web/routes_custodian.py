"""Withdrawals through the survivor's reference code and code word, and the survivor's printable data report.

The same services as POST /api/v1/consents/lookup (throttled, audited found or not, the same answer for a
wrong code word as for an unknown code), POST /api/v1/consents/{id}/withdraw (a custodian's needs a fresh
second factor) and GET /api/v1/people/{id}/disclosure-report. Neither code travels in a URL: the lookup is a
posted form, and the page it answers with carries only ids."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.access.deps import RuntimeDep
from app.access.principal import Principal
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent import lookup, withdrawal
from app.consent.grant_schemas import LookupIn, WithdrawIn
from app.core.errors import ValidationFailed
from app.exports import recalls, report
from app.web import custodian, i18n, render
from app.web.deps import PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import blank_to_none, parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

WITHDRAWALS = "/withdrawals"
REPORT = "/people/{person_id}/disclosure-report"
SEPARATORS = re.compile(r"[\s,;]+")


def _context(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    return custodian.common(request, session, principal, WITHDRAWALS) | {
        "found": None,
        "withdrawn": None,
        "retry": None,
        "received_via": {k: render.gettext(request, v) for k, v in custodian.RECEIVED_VIA.items()},
        "modes": {k: render.gettext(request, v) for k, v in custodian.MODES.items()},
    }


@router.get(WITHDRAWALS)
@audited(AuditAction.ME_READ, "user")
def withdrawals_page(request: Request, principal: PagePrincipal, session: DbSession) -> Response:
    """The lookup form: the reference code and the code word the survivor gives."""
    lookup.may_look_up(principal)
    return render.page(request, "custodian_withdrawals.html", _context(request, session, principal))


@router.post(f"{WITHDRAWALS}/lookup")
@audited(AuditAction.CONSENT_LOOKUP, "use_consent")
def find(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, values: Posted
) -> Response:
    """The records the codes open, with the reminder to call back on the safe channel before acting."""
    context = _context(request, session, principal)
    on_error(request, "custodian_withdrawals.html", **context)
    data = parse(LookupIn, reference=values.get("reference", ""), code_word=values.get("code_word", ""))
    found = lookup.lookup(session, runtime, principal, data)
    reminder = render.gettext(request, found.reminder)
    return render.page(request, "custodian_withdrawals.html", context | {"found": found, "reminder": reminder})


def _scope(values: dict[str, str]) -> str | list[str]:
    """Every grant of the record, or the grants named (their ids, as on the person's receipt)."""
    if values.get("scope") == "all":
        return "all"
    if values.get("scope") != "named":
        raise ValidationFailed("Fill in every field.", fields=["scope"])
    return [g for g in SEPARATORS.split(values.get("grant_ids", "")) if g]


@router.post(f"{WITHDRAWALS}/{{consent_id}}")
@audited(AuditAction.CONSENT_WITHDRAW, "use_consent", id_param="consent_id")
def withdraw(
    request: Request,
    consent_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """Record the withdrawal (at once); the page shows what it cannot undo and the recall notices it raised."""
    context = _context(request, session, principal)
    on_error(request, "custodian_withdrawals.html", **(context | {"retry": consent_id}))
    data = parse(
        WithdrawIn,
        scope=_scope(values),
        mode=values.get("mode", ""),
        received_via=values.get("received_via", ""),
        reason=blank_to_none(values.get("reason", "")),
    )
    done = withdrawal.withdraw(session, runtime, principal, consent_id, data)
    raised = recalls.raised_for(session, runtime, principal, done.person_id, done.withdrawn_at)
    shown = context | {
        "withdrawn": done,
        "limits": render.gettext(request, done.limits),
        "raised": raised,
        "exports": sorted({r.export_id for r in raised}),
    }
    return render.page(request, "custodian_withdrawals.html", shown)


@router.get(REPORT)
@audited(AuditAction.DISCLOSURE_REPORT, "person", id_param="person_id")
def report_page(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    language: str = "",
) -> Response:
    """What is kept about the person and where it went, in their language (or the one chosen), to print."""
    if language and language not in i18n.LANGUAGES:
        raise ValidationFailed("Choose a language of the report: en, hy or ru.", fields=["language"])
    made = report.report(session, runtime, principal, person_id, language or None)
    context = custodian.common(request, session, principal, REPORT.format(person_id=person_id)) | {
        "report": made,
        "person_id": person_id,
    }
    return render.page(request, "custodian_report.html", context)
