"""A legal user's export pages: the request form with its preview of counts per level, the list and status of
requests, and the download while it is allowed. The same services as /api/v1/exports: only a legal user on the
team of every case asks, only the one who asked downloads, and every download is checked again against consent.
Custodians reach the same list (every request) and each request's page, from which they review and decide."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from app.access.deps import RuntimeDep
from app.access.principal import Principal
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent.vocabulary import DataCategory, DisclosureLevel, Purpose
from app.core.pagination import PageQuery
from app.exports import download, service
from app.exports.schemas import ExportCreate
from app.runtime import Runtime
from app.web import exports_page, render
from app.web.deps import Lists, PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import parse
from app.web.render import PAGE_HEADERS

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

EXPORTS = "/exports"
NEW = "/exports/new"
PREVIEW = "/exports/preview"
EXPORT = "/exports/{export_id}"
TEXT_FIELDS = ("recipient_id", "purpose", "max_disclosure_level", "justification")


def _form(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    """The request form: the cases one may ask about and the registry's active recipients, by name."""
    return exports_page.common(request, session, principal) | {
        "purpose_choices": [p.value for p in Purpose],
        "category_choices": [c.value for c in DataCategory],
        "level_choices": [level.value for level in DisclosureLevel],
        "values": dict.fromkeys(TEXT_FIELDS, ""),
        "chosen": {"case_ids": [], "categories": []},
        "preview": None,
    }


def _kept(values: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    """The form as it was posted, to show it again (refused, or previewed)."""
    return {
        "values": {k: values.get(k, "")[:4000] for k in TEXT_FIELDS},
        "chosen": {"case_ids": lists.get("case_ids", []), "categories": lists.get("categories", [])},
    }


def _request_of(values: dict[str, str], lists: dict[str, list[str]]) -> ExportCreate:
    return parse(
        ExportCreate,
        case_ids=lists.get("case_ids", []),
        purpose=values.get("purpose", ""),
        recipient_id=values.get("recipient_id", ""),
        justification=values.get("justification", ""),
        categories=lists.get("categories", []),
        max_disclosure_level=values.get("max_disclosure_level", ""),
    )


@router.get(EXPORTS)
@audited(AuditAction.EXPORT_LIST, "export")
def exports_list(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Response:
    """A legal user's own requests; a custodian's every request, the ones waiting for a decision marked."""
    listed = service.list_exports(session, runtime, principal, page)
    context = exports_page.common(request, session, principal) | {
        "exports": listed.items,
        "next_cursor": listed.next_cursor,
    }
    return render.page(request, "exports.html", context)


@router.get(NEW)
@audited(AuditAction.RECIPIENT_LIST, "recipient")
def new_export(request: Request, principal: PagePrincipal, session: DbSession) -> Response:
    """The empty request form (it reads the registry, as GET /api/v1/recipients)."""
    service.may_request(principal)
    return render.page(request, "export_new.html", _form(request, session, principal))


@router.post(PREVIEW)
@audited(AuditAction.EXPORT_PREVIEW, "export")
def preview_export(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, values: Posted, lists: Lists
) -> Response:
    """The form again with the people it would yield per level now (small counts suppressed); nothing is stored."""
    shown = _form(request, session, principal) | _kept(values, lists)
    on_error(request, "export_new.html", **shown)
    preview = service.preview_export(session, runtime, principal, _request_of(values, lists))
    return render.page(request, "export_new.html", shown | {"preview": preview})


@router.post(EXPORTS)
@audited(AuditAction.EXPORT_REQUEST, "export")
def request_export(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, values: Posted, lists: Lists
) -> Response:
    """The request, waiting for a custodian (two, for named identity or recordings of the person)."""
    on_error(request, "export_new.html", **(_form(request, session, principal) | _kept(values, lists)))
    made = service.request_export(session, runtime, principal, _request_of(values, lists))
    return render.redirect(exports_page.path(made.id, "requested"))


def export_context(
    request: Request, session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID
) -> dict[str, Any]:
    """One request's page: its status, what it asks for, the decisions so far, and the download."""
    export = service.get_export(session, runtime, principal, export_id)
    return exports_page.common(request, session, principal) | {
        "export": export,
        "max_downloads": runtime.settings.exports.max_downloads,
        "download_days": runtime.settings.exports.download_days,
    }


@router.get(EXPORT)
@audited(AuditAction.EXPORT_READ, "export", id_param="export_id")
def export_page(
    request: Request,
    export_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    done: str = "",
) -> Response:
    context = export_context(request, session, runtime, principal, export_id) | {"done": done or None}
    return render.page(request, "export.html", context)


@router.post(f"{EXPORT}/download")
@audited(AuditAction.EXPORT_DOWNLOAD, "export", id_param="export_id")
def download_bundle(
    request: Request, export_id: uuid.UUID, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep
) -> Response:
    """The sealed bundle, for the one who asked, while it is allowed (a form, so that no link prefetch spends a
    download). Refused, the request's page says why; a stale export's bundle is erased meanwhile."""
    on_error(request, "export.html", **export_context(request, session, runtime, principal, export_id))
    row, bundle = download.download(session, runtime, principal, export_id)
    headers = {
        **PAGE_HEADERS,
        "Content-Length": str(bundle.size),
        # An opaque name: the export's id says nothing of its contents or recipient.
        "Content-Disposition": f'attachment; filename="export-{row.id.hex}.bin"',
    }
    return StreamingResponse(bundle.chunks(), media_type="application/octet-stream", headers=headers)


@router.post(f"{EXPORT}/request-again")
@audited(AuditAction.EXPORT_REQUEST_AGAIN, "export", id_param="export_id")
def request_again(
    request: Request, export_id: uuid.UUID, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep
) -> Response:
    """A stale export asked for again as a new request, through the normal approval."""
    on_error(request, "export.html", **export_context(request, session, runtime, principal, export_id))
    made = download.request_again(session, runtime, principal, export_id)
    return render.redirect(exports_page.path(made.id, "requested"))
