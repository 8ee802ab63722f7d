"""A documenter's cases and the people on them, by pseudonym code: the same services and scope as the API."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.cases import service as cases
from app.core.pagination import PageQuery
from app.people import service as people
from app.web import render
from app.web.deps import PagePrincipal
from app.web.messages import CONSENT_STATUS

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.get("/cases")
@audited(AuditAction.CASE_LIST, "case")
def my_cases(request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery) -> Response:
    listed = cases.list_cases(session, principal, page)
    return render.page(request, "cases.html", {"cases": listed.items, "next_cursor": listed.next_cursor})


@router.get("/cases/{case_id}")
@audited(AuditAction.PERSON_LIST, "person")
def case_people(
    request: Request, case_id: uuid.UUID, principal: PagePrincipal, session: DbSession, page: PageQuery
) -> Response:
    case = cases.get_case(session, principal, case_id)
    listed = people.list_people(session, principal, case_id, page)

    def consent_status(status: str) -> str:
        return render.gettext(request, CONSENT_STATUS.get(status, status))

    context = {
        "case": case,
        "people": listed.items,
        "next_cursor": listed.next_cursor,
        "consent_status": consent_status,
    }
    return render.page(request, "case.html", context)
