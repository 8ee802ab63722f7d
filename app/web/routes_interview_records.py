"""What is recorded along an interview, from its page: incidents as structured rows and referrals made,
through the same services as POST /interviews/{id}/incidents and PATCH /interviews/{id} (``referrals``).
Attachments are uploaded by the page's plain multipart form straight to the API's upload route."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.access.deps import RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.interviews import service_incidents, service_update
from app.interviews.schemas import InterviewUpdate
from app.interviews.schemas_statements import IncidentCreate
from app.web import interview_page as ip
from app.web import render
from app.web.deps import Lists, PagePrincipal, Posted
from app.web.forms import parse
from app.web.routes_interviews import INTERVIEW, again, context_of, interview_url

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@router.post(f"{INTERVIEW}/incidents")
@audited(AuditAction.INCIDENT_CREATE, "incident")
def add_incident(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
    lists: Lists,
) -> Response:
    """One incident: when, where, what, who is alleged, and how many others were there."""
    context = context_of(request, session, runtime, principal, interview_id)
    again(request, context, values, lists)
    data = parse(IncidentCreate, **ip.incident(values, lists))
    service_incidents.add_incident(session, runtime, principal, interview_id, data)
    return render.redirect(interview_url(interview_id, "incidents"))


@router.post(f"{INTERVIEW}/referrals")
@audited(AuditAction.INTERVIEW_UPDATE, "interview", id_param="interview_id")
def add_referral(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """A referral made: the need and the service's contact, never the narrative."""
    context = context_of(request, session, runtime, principal, interview_id)
    again(request, context, values)
    data = parse(InterviewUpdate, **ip.referral(values))
    service_update.update_interview(session, runtime, principal, interview_id, data)
    return render.redirect(interview_url(interview_id, "referrals"))
