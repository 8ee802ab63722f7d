"""HTTP adapters for the disclosure ledger (auditors) and the survivor's data report (custodians on the team)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.exports import report, report_page
from app.exports.report_schemas import DisclosureReport, LedgerRead

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["exports"])

Language = Annotated[Literal["en", "hy", "ru"] | None, Query(description="Default: the person's language.")]


@router.get("/disclosures", response_model=Page[LedgerRead])
@audited(AuditAction.LEDGER_READ, "disclosure")
def ledger(principal: CurrentPrincipal, session: DbSession, page: PageQuery) -> Page[LedgerRead]:
    """The disclosure ledger: export, recipient, the person's per-export code, categories, level, time."""
    return report.ledger(session, principal, page)


@router.get(
    "/people/{person_id}/disclosure-report",
    response_class=Response,
    responses={200: {"description": "The printable report", "content": {"text/html": {"schema": {"type": "string"}}}}},
)
@audited(AuditAction.DISCLOSURE_REPORT, "person", id_param="person_id")
def disclosure_report(
    person_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    language: Language = None,
) -> HTMLResponse:
    """A printable page in the person's language: what is kept about them and where their data went."""
    made = report.report(session, runtime, principal, person_id, language)
    return HTMLResponse(report_page.render(made), headers=report_page.HEADERS)


@router.get("/people/{person_id}/disclosure-report.json", response_model=DisclosureReport)
@audited(AuditAction.DISCLOSURE_REPORT, "person", id_param="person_id")
def disclosure_report_json(
    person_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    language: Language = None,
) -> DisclosureReport:
    """The same report as data."""
    return report.report(session, runtime, principal, person_id, language)
