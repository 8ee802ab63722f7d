"""A documenter registers a person on a case and records their participation consent: the same services
as POST /cases/{id}/people and POST /people/{id}/participation. URLs carry ids only, never a name, an answer
or the code word; the wizard's state travels in the posted form and nothing is kept in the browser."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.access.deps import RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent import service as consent
from app.consent.forms import version_key
from app.consent.schemas import ParticipationCreate
from app.core.pagination import FIRST_PAGE
from app.people import service as people
from app.people.schemas import PersonSummary
from app.web import consent_page, render
from app.web.consent_page import Choice
from app.web.deps import PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import parse
from app.web.messages import CONSENT_STATUS

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

CONSENT = "/people/{person_id}/consent"


def consent_url(person_id: uuid.UUID) -> str:
    return CONSENT.format(person_id=person_id)


@router.post("/cases/{case_id}/people")
@audited(AuditAction.PERSON_CREATE, "person")
def register_person(case_id: uuid.UUID, principal: PagePrincipal, session: DbSession) -> Response:
    """A new pseudonym code and nothing else: the consent page next shows the code."""
    person = people.create_person(session, principal, case_id)
    return render.redirect(f"{consent_url(person.id)}?new=1")


def _start(request: Request, runtime: RuntimeDep, principal: PagePrincipal, person: PersonSummary) -> dict[str, Any]:
    forms = consent.list_forms(runtime, principal, FIRST_PAGE).items
    latest = max(forms, key=lambda f: version_key((f.form_id, f.version)), default=None)
    status = person.participation_status
    return {
        "person": person,
        "forms": forms,
        "default_form": f"{latest.form_id}/{latest.version}" if latest else "",
        "form_languages": sorted({code for f in forms for code in f.languages}),
        "status": render.gettext(request, CONSENT_STATUS.get(status, status)) if status else None,
        "new": False,
        "done": False,
    }


@router.get(CONSENT)
@audited(AuditAction.PERSON_READ, "person", id_param="person_id")
def consent_start(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    new: bool = False,
    done: bool = False,
) -> Response:
    """The person's code and consent status, and the wizard's first step: which form, language and text."""
    person = people.summary(session, principal, person_id)
    context = _start(request, runtime, principal, person) | {"new": new, "done": done}
    return render.page(request, "consent_start.html", context)


def _wizard(
    request: Request, runtime: RuntimeDep, principal: PagePrincipal, person: PersonSummary, values: dict[str, str]
) -> tuple[Choice, consent_page.Texts, dict[str, Any]]:
    """The wizard's page for the choice posted, with what was entered; a choice the form lacks shows the
    first step again, with the error."""
    on_error(request, "consent_start.html", **_start(request, runtime, principal, person))
    choice = consent_page.choice_of(values)
    texts = consent_page.load(request, runtime, principal, choice)
    context = consent_page.context(texts, choice, values) | {"person": person}
    labels = {d.id.value: d.label for d in texts.ours.decisions}
    context["places"] = lambda fields: consent_page.problems(request, fields, labels)
    return choice, texts, context


@router.post(f"{CONSENT}/form")
@audited(AuditAction.FORMS_READ, "consent_form")
def consent_form(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """The wizard itself, in the languages chosen; nothing is recorded until it is posted."""
    person = people.summary(session, principal, person_id)
    _choice, _texts, context = _wizard(request, runtime, principal, person, values)
    return render.page(request, "consent.html", context)


@router.post(CONSENT)
@audited(AuditAction.CONSENT_RECORD, "participation_consent")
def record_consent(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """Consent as given, or a deferral ("needs time to think"); an incomplete record shows the page again
    with the fields named and everything entered but the code word."""
    person = people.summary(session, principal, person_id)
    choice, texts, context = _wizard(request, runtime, principal, person, values)
    on_error(request, "consent.html", **context)
    body = consent_page.participation(values, choice, texts, context["teach_back_set"])
    data = parse(ParticipationCreate, **body)
    consent.record_participation(session, runtime, principal, person.id, data)
    return render.redirect(f"{consent_url(person.id)}?done=1")
