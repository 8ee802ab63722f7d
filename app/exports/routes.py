"""HTTP adapters for export requests, their previews and their approvals."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.exports import approval, service
from app.exports.schemas import ExportCreate, ExportDecision, ExportRead, PreviewRead

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["exports"])


@router.post("/exports", response_model=ExportRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.EXPORT_REQUEST, "export")
def request_export(
    data: ExportCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ExportRead:
    return service.request_export(session, runtime, principal, data)


@router.get("/exports", response_model=Page[ExportRead])
@audited(AuditAction.EXPORT_LIST, "export")
def list_exports(
    principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[ExportRead]:
    return service.list_exports(session, runtime, principal, page)


@router.post("/exports/preview", response_model=PreviewRead)
@audited(AuditAction.EXPORT_PREVIEW, "export")
def preview_export(
    data: ExportCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> PreviewRead:
    return service.preview_export(session, runtime, principal, data)


@router.get("/exports/{export_id}", response_model=ExportRead)
@audited(AuditAction.EXPORT_READ, "export", id_param="export_id")
def get_export(
    export_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ExportRead:
    return service.get_export(session, runtime, principal, export_id)


@router.post("/exports/{export_id}/approve", response_model=ExportRead)
@audited(AuditAction.EXPORT_APPROVE, "export", id_param="export_id")
def approve_export(
    export_id: uuid.UUID, data: ExportDecision, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ExportRead:
    return approval.approve_export(session, runtime, principal, export_id, data)


@router.post("/exports/{export_id}/reject", response_model=ExportRead)
@audited(AuditAction.EXPORT_REJECT, "export", id_param="export_id")
def reject_export(
    export_id: uuid.UUID, data: ExportDecision, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ExportRead:
    return approval.reject_export(session, runtime, principal, export_id, data)
