"""A documenter plans and runs an interview: the same services as POST /people/{id}/interviews,
PATCH /interviews/{id} (its state, plan, checklist and interviewers), PUT /interviews/{id}/draft,
POST /interviews/{id}/statements, POST /interviews/{id}/reconfirm-consent and the attachment upload (streamed,
as POST /interviews/{id}/attachments streams it). URLs carry ids only; every
form is posted and answered with a redirect to the interview page (or the page again, with its error, when
a service refuses it)."""

from __future__ import annotations

import uuid
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.access.deps import RuntimeDep, request_body
from app.access.principal import Principal
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent import grants
from app.consent import service as consent
from app.consent.forms import version_key
from app.consent.schemas import FormLanguageRead, FormRead
from app.core.errors import NotFound
from app.core.pagination import FIRST_PAGE
from app.interviews import (
    guides,
    reconfirm,
    service,
    service_attachments,
    service_incidents,
    service_statements,
    service_update,
)
from app.interviews.schemas import InterviewCreate, InterviewRead, InterviewUpdate, ReconfirmConsent
from app.interviews.schemas_statements import DraftRead, DraftWrite, GuideRead, StatementConfirm
from app.interviews.vocabulary import InterviewState
from app.people import service as people
from app.runtime import Runtime
from app.web import interview_page as ip
from app.web import render
from app.web.deps import Lists, PagePrincipal, Posted, StreamedPagePrincipal
from app.web.errors import on_error
from app.web.forms import parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

INTERVIEWS = "/people/{person_id}/interviews"
INTERVIEW = "/interviews/{interview_id}"


def interview_url(interview_id: uuid.UUID, anchor: str = "") -> str:
    return INTERVIEW.format(interview_id=interview_id) + (f"#{anchor}" if anchor else "")


def _labels(request: Request) -> dict[str, Any]:
    def tr(table: dict[str, str]) -> dict[str, str]:
        return {key: render.gettext(request, label) for key, label in table.items()}

    def parts(fields: list[str]) -> list[tuple[str, str]]:
        return [(anchor, render.gettext(request, name)) for anchor, name in ip.places(fields)]

    return {
        "states": tr(ip.STATES),
        "companions": tr(ip.COMPANIONS),
        "violations": tr(ip.VIOLATIONS),
        "answer_states": tr(ip.ANSWER_STATES),
        "places": parts,
        "interview_languages": ip.LANGUAGES,
    }


def _planning(
    request: Request, session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID
) -> dict[str, Any]:
    person = people.summary(session, principal, person_id)
    listed = service.list_interviews(session, principal, person.id, FIRST_PAGE)
    team = service.interviewer_choices(session, principal, person.id)
    # Before anything is entered, the documenter planning is ticked: the API's default made visible.
    chosen = {"interviewers": [str(principal.user_id)]}
    # The person's current use-grant records, each with its printable receipt to print again.
    records = grants.list_current(session, runtime, principal, person.id)
    context = {
        "person": person,
        "interviews": listed.items,
        "team": team,
        "values": {},
        "chosen": chosen,
        "current_consents": records,
    }
    return context | _labels(request)


@router.get(INTERVIEWS)
@audited(AuditAction.INTERVIEW_LIST, "interview", id_param="person_id")
def interviews(
    request: Request, person_id: uuid.UUID, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep
) -> Response:
    """The person's interviews, the form that plans the next one with its do-no-harm checklist, and the
    printable receipt of each current use-grant record (GET /api/v1/consents/{id}/receipt.html, its rules
    and its audit event)."""
    return render.page(request, "interviews.html", _planning(request, session, runtime, principal, person_id))


@router.post(INTERVIEWS)
@audited(AuditAction.INTERVIEW_CREATE, "interview")
def plan_interview(
    request: Request,
    person_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
    lists: Lists,
) -> Response:
    context = _planning(request, session, runtime, principal, person_id)
    again(request, context, values, lists, "interviews.html")
    data = parse(InterviewCreate, **ip.plan(values, lists))
    made = service.create_interview(session, runtime, principal, context["person"].id, data)
    return render.redirect(interview_url(made.id))


def _guide(runtime: Runtime, principal: Principal, draft: DraftRead | None) -> GuideRead | None:
    """The guide the draft follows, or the latest published one."""
    if draft is not None and draft.guide is not None:
        return service_statements.read_guide(runtime, principal, draft.guide.id, draft.guide.version)
    found = guides.published(runtime.guides_root)
    if not found:
        return None
    guide_id, version = found[-1]
    return service_statements.read_guide(runtime, principal, guide_id, version)


def _draft(session: Session, runtime: Runtime, principal: Principal, interview: InterviewRead) -> DraftRead | None:
    if interview.state == InterviewState.PLANNED:
        return None
    try:
        return service_statements.read_draft(session, runtime, principal, interview.id)
    except NotFound:
        return None


def _grant_form(runtime: Runtime, principal: Principal) -> FormRead | None:
    """The latest published consent form: its vocabulary of purposes, recipient classes, categories,
    disclosure levels and receipts."""
    forms = consent.list_forms(runtime, principal, FIRST_PAGE).items
    latest = max(forms, key=lambda f: version_key((f.form_id, f.version)), default=None)
    return None if latest is None else consent.read_form(runtime, principal, latest.form_id, latest.version)


def _vocabulary(request: Request, form: FormRead | None) -> FormLanguageRead | None:
    """The form's labels in the page's language, or in the form's source language."""
    if form is None:
        return None
    wanted = render.language_of(request)
    found = {lang.code: lang for lang in form.languages}
    return found.get(wanted) or found.get(form.source_language)


def _terms(vocabulary: FormLanguageRead | None) -> dict[str, dict[str, str]]:
    """The consent form's words for its purposes, recipient classes, categories and levels, by id."""
    if vocabulary is None:
        return {"purposes": {}, "recipient_classes": {}, "data_categories": {}, "disclosure_levels": {}}
    return {
        "purposes": {t.id.value: t.label for t in vocabulary.purposes},
        "recipient_classes": {t.id.value: t.label for t in vocabulary.recipient_classes},
        "data_categories": {t.id.value: t.label for t in vocabulary.data_categories},
        "disclosure_levels": {t.id.value: t.label for t in vocabulary.disclosure_levels},
    }


def _attachment_categories(form: FormRead | None, request: Request) -> dict[str, str]:
    """The categories a file may be filed under, in the consent form's words (the service checks the kind)."""
    vocabulary = _vocabulary(request, form)
    labels = {t.id.value: t.label for t in vocabulary.data_categories} if vocabulary else {}
    return {c.value: labels.get(c.value, c.value) for kind in service_attachments.CATEGORIES.values() for c in kind}


def context_of(
    request: Request, session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID
) -> dict[str, Any]:
    interview = service.read_interview(session, runtime, principal, interview_id)
    draft = _draft(session, runtime, principal, interview)
    statements = service_statements.list_statements(session, principal, interview.id, FIRST_PAGE).items
    incidents = service_incidents.list_incidents(session, principal, interview.id, FIRST_PAGE).items
    attachments = service_attachments.list_attachments(session, principal, interview.id, FIRST_PAGE).items
    answers = {a.question: a for a in draft.answers} if draft else {}
    staff = render.language_of(request)
    form = _grant_form(runtime, principal)
    reconfirming = interview.state in reconfirm.RECONFIRMABLE
    current = grants.list_current(session, runtime, principal, interview.person_id) if reconfirming else []
    choices = service.interviewer_choices(session, principal, interview.person_id)
    team = {c.id: c.display_name for c in choices}
    return {
        "current_consents": current,
        "levels_within": ip.LEVELS_WITHIN,
        "terms": _terms(_vocabulary(request, form)),
        "interviewer_names": [team.get(i, render.gettext(request, ip.FORMER_MEMBER)) for i in interview.interviewers],
        "team": choices,
        "grant_form": form,
        "vocabulary": _vocabulary(request, form),
        "grant_rows": range(1, ip.GRANT_ROWS + 1),
        "interview": interview,
        "draft": draft,
        "answers": answers,
        "guide": _guide(runtime, principal, draft),
        "staff_language": staff,
        "statements": statements,
        "incidents": incidents,
        "attachments": attachments,
        "referral_needs": {k: render.gettext(request, v) for k, v in ip.REFERRAL_NEEDS.items()},
        "precisions": {k: render.gettext(request, v) for k, v in ip.PRECISIONS.items()},
        "attachment_kinds": {k: render.gettext(request, v) for k, v in ip.ATTACHMENT_KINDS.items()},
        "attachment_categories": _attachment_categories(form, request),
        "next_version": len(statements) + 1,
        "recording": interview.state in {InterviewState.IN_PROGRESS, InterviewState.PAUSED},
        "values": {},
        "saved": False,
        "reconfirmed": False,
        "reference_code": None,
        "chosen": {},
        "stored": False,
        "upload_refused": False,
        "max_bytes": runtime.settings.attachments.max_bytes,
    } | _labels(request)


@router.get(INTERVIEW)
@audited(AuditAction.INTERVIEW_READ, "interview", id_param="interview_id")
def interview_page(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    saved: bool = False,
    reconfirmed: bool = False,
    stored: bool = False,
) -> Response:
    """The interview: where it stands, its buttons, the draft, the read-back and the reconfirmation."""
    context = context_of(request, session, runtime, principal, interview_id)
    context |= {"saved": saved, "reconfirmed": reconfirmed, "stored": stored}
    return render.page(request, "interview.html", context)


def again(
    request: Request,
    context: dict[str, Any],
    values: dict[str, str],
    lists: dict[str, list[str]] | None = None,
    template: str = "interview.html",
) -> None:
    """On a refusal, the page again with what was typed (and ticked), never the CSRF token."""
    kept = {k: v for k, v in values.items() if k != render.CSRF_FIELD}
    on_error(request, template, **(context | {"values": kept} | ({"chosen": lists} if lists is not None else {})))


@router.post(f"{INTERVIEW}/state")
@audited(AuditAction.INTERVIEW_UPDATE, "interview", id_param="interview_id")
def move_interview(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """Start, pause (with the reason), resume, stop at the interviewee's wish, or complete."""
    again(request, context_of(request, session, runtime, principal, interview_id), values)
    data = parse(InterviewUpdate, **ip.move(values))
    service_update.update_interview(session, runtime, principal, interview_id, data)
    return render.redirect(interview_url(interview_id, "state"))


@router.post(f"{INTERVIEW}/checklist")
@audited(AuditAction.INTERVIEW_UPDATE, "interview", id_param="interview_id")
def record_checklist(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
    lists: Lists,
) -> Response:
    """The do-no-harm checklist of an interview planned without it, before it starts."""
    context = context_of(request, session, runtime, principal, interview_id)
    again(request, context, values, lists)
    body = {"revision": values.get("revision", ""), "checklist": ip.checklist(values, lists)}
    service_update.update_interview(session, runtime, principal, interview_id, parse(InterviewUpdate, **body))
    return render.redirect(interview_url(interview_id, "state"))


@router.post(f"{INTERVIEW}/plan")
@audited(AuditAction.INTERVIEW_UPDATE, "interview", id_param="interview_id")
def replan_interview(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """A planned interview's new date and time, language and place (PATCH with ``scheduled_at``, ``language``
    and ``place``); refused once the interview has started."""
    again(request, context_of(request, session, runtime, principal, interview_id), values)
    service_update.update_interview(
        session, runtime, principal, interview_id, parse(InterviewUpdate, **ip.replan(values))
    )
    return render.redirect(interview_url(interview_id, "plan"))


@router.post(f"{INTERVIEW}/interviewers")
@audited(AuditAction.INTERVIEW_UPDATE, "interview", id_param="interview_id")
def change_interviewers(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
    lists: Lists,
) -> Response:
    """The interviewers of a planned interview, chosen again from the case team (PATCH with ``interviewers``):
    the service names who is not on the team and refuses once the interview has started."""
    context = context_of(request, session, runtime, principal, interview_id)
    again(request, context, values, lists)
    data = parse(InterviewUpdate, **ip.interviewers(values, lists))
    service_update.update_interview(session, runtime, principal, interview_id, data)
    return render.redirect(interview_url(interview_id, "plan"))


@router.post(f"{INTERVIEW}/draft")
@audited(AuditAction.DRAFT_SAVE, "interview", id_param="interview_id")
def save_draft(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """The whole draft into the server's one draft slot (the autosave slot), replacing what it held."""
    context = context_of(request, session, runtime, principal, interview_id)
    again(request, context, values)
    guide: GuideRead | None = context["guide"]
    body: dict[str, Any] = {
        "text": values.get("text", "").strip() or None,
        "answers": ip.answers(values, [q.id for q in guide.questions] if guide else []),
    }
    if guide is not None:
        body["guide"] = {"id": guide.id, "version": guide.version}
    service_statements.save_draft(session, runtime, principal, interview_id, parse(DraftWrite, **body))
    return render.redirect(f"{INTERVIEW.format(interview_id=interview_id)}?saved=1#draft")


@router.post(f"{INTERVIEW}/attachments")
@audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="interview_id")
async def upload_attachment(
    request: Request,
    interview_id: uuid.UUID,
    principal: StreamedPagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> Response:
    """One file from the page's multipart form (its token, then ``kind`` and ``category``, then ``file``),
    streamed to the same service as POST /api/v1/interviews/{id}/attachments: nothing is read whole here. A
    refusal is the interview page again with the reason in the page's language, beside the form."""
    context = await to_thread.run_sync(context_of, request, session, runtime, principal, interview_id)
    on_error(request, "interview.html", **(context | {"upload_refused": True}))
    body = request_body(request)
    await service_attachments.upload(session, runtime, principal, interview_id, request.headers, body)
    return render.redirect(f"{INTERVIEW.format(interview_id=interview_id)}?stored=1#attachments")


@router.post(f"{INTERVIEW}/statements")
@audited(AuditAction.STATEMENT_CONFIRM, "statement")
def confirm_statement(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """The draft as read back, confirmed by the interviewee: the next statement version."""
    again(request, context_of(request, session, runtime, principal, interview_id), values)
    data = parse(StatementConfirm, **ip.confirmation(values))
    service_statements.confirm_statement(session, runtime, principal, interview_id, data)
    return render.redirect(interview_url(interview_id, "read-back"))


@router.post(f"{INTERVIEW}/reconfirm")
@audited(AuditAction.CONSENT_RECONFIRM, "interview", id_param="interview_id")
def reconfirm_grants(
    request: Request,
    interview_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
    lists: Lists,
) -> Response:
    """At the end: the interviewee confirmed their current use grants as recorded, narrowed one record's
    (kept some grants, lowered or took back others), or made their first ones. A new record's reference
    code is shown once, in this answer, and never put in a URL."""
    context = context_of(request, session, runtime, principal, interview_id)
    again(request, context, values, lists)
    first = narrowing = None
    if values.get("outcome") == "narrowed":
        record = next((r for r in context["current_consents"] if str(r.id) == values.get("consent_id")), None)
        # A record no longer current (narrowed meanwhile, say) goes as it is: the service says why not.
        narrowing = ip.narrowed(values, lists, record) if record is not None else {}
    if values.get("outcome") == "first":
        form: FormRead | None = context["grant_form"]
        language = context["interview"].language
        texts = {lang.code: lang.texts for lang in form.languages} if form else {}
        text = next((t.sha256 for t in texts.get(language, []) if t.variant == "main"), "")
        ref = (form.form_id, form.version) if form else ("", "")
        first = ip.first_grants(values, lists, ref, text, language)
    data = parse(ReconfirmConsent, **ip.reconfirmation(values, first, narrowing))
    done = reconfirm.reconfirm(session, runtime, principal, interview_id, data)
    if done.reference_code is None:
        return render.redirect(f"{INTERVIEW.format(interview_id=interview_id)}?reconfirmed=1#reconfirm")
    shown = context_of(request, session, runtime, principal, interview_id)
    shown |= {"reconfirmed": True, "reference_code": done.reference_code, "receipt_id": done.consent_ids[0]}
    return render.page(request, "interview.html", shown)
