"""HTTP adapters for attachments: streamed and resumable uploads, lists, facts and verified downloads.

The upload routes are ``async``: the body is read as it arrives (request.stream()) and never parsed
or spooled by the framework; service_attachments.py and storage.py do the rest off the event loop.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import StreamingResponse

from app.access.deps import CurrentPrincipal, FormPrincipal, RuntimeDep, request_body
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.openapi import upload_problems
from app.core.pagination import Page, PageQuery
from app.interviews import service_attachments as service
from app.interviews.schemas import AttachmentRead, AttachmentStored, AttachmentSummary, UploadOpen, UploadStateRead

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["attachments"])


def _offset(response: Response, state: UploadStateRead) -> UploadStateRead:
    response.headers["Upload-Offset"] = str(state.offset)
    return state


@router.post(
    "/interviews/{interview_id}/attachments",
    response_model=AttachmentStored,
    status_code=status.HTTP_201_CREATED,
    responses=upload_problems(),
)
@audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="interview_id")
async def upload_attachment(
    interview_id: uuid.UUID, request: Request, principal: FormPrincipal, session: DbSession, runtime: RuntimeDep
) -> AttachmentStored:
    """Store one file: a raw body (``Attachment-Kind``, ``Attachment-Category`` and an optional
    ``Content-Disposition`` file name in headers) or an HTML ``multipart/form-data`` form whose ``kind``
    and ``category`` fields come before its ``file``. A form posted with the session cookie may send the
    CSRF token as its first field, ``csrf_token``, in place of the ``X-CSRF-Token`` header."""
    body = request_body(request)
    return await service.upload(session, runtime, principal, interview_id, request.headers, body)


@router.get("/interviews/{interview_id}/attachments", response_model=Page[AttachmentSummary])
@audited(AuditAction.ATTACHMENT_LIST, "attachment", id_param="interview_id")
def list_attachments(
    interview_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[AttachmentSummary]:
    return service.list_attachments(session, principal, interview_id, page)


@router.get("/attachments/{attachment_id}", response_model=AttachmentRead)
@audited(AuditAction.ATTACHMENT_READ, "attachment", id_param="attachment_id")
def read_attachment(
    attachment_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> AttachmentRead:
    return service.read_attachment(session, runtime, principal, attachment_id)


@router.get("/attachments/{attachment_id}/content", response_class=StreamingResponse)
@audited(AuditAction.ATTACHMENT_DOWNLOAD, "attachment", id_param="attachment_id")
def download_attachment(
    attachment_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> StreamingResponse:
    """The original file, verified whole before the first byte is sent (500 ``integrity`` otherwise)."""
    row, blob = service.download(session, runtime, principal, attachment_id)
    headers = {
        "Content-Length": str(blob.size),
        "Content-Disposition": "attachment",
        "X-Content-SHA256": blob.sha256.hex(),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(blob.chunks(), media_type=row.media_type, headers=headers)


@router.post(
    "/interviews/{interview_id}/uploads",
    response_model=UploadStateRead,
    status_code=status.HTTP_201_CREATED,
    responses={413: upload_problems()[413]},
)
@audited(AuditAction.ATTACHMENT_UPLOAD_OPEN, "attachment_upload", id_param="interview_id")
def open_upload(
    interview_id: uuid.UUID,
    data: UploadOpen,
    response: Response,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> UploadStateRead:
    """Begin a resumable upload; send its bytes with PATCH /api/v1/uploads/{id}."""
    return _offset(response, service.open_upload(session, runtime, principal, interview_id, data))


@router.get("/uploads/{upload_id}", response_model=UploadStateRead)
@audited(AuditAction.ATTACHMENT_UPLOAD_STATUS, "attachment_upload", id_param="upload_id")
def upload_state(
    upload_id: uuid.UUID, response: Response, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> UploadStateRead:
    """Where the upload stands: resume from ``offset`` (also the ``Upload-Offset`` header)."""
    return _offset(response, service.upload_state(session, runtime, principal, upload_id))


@router.patch("/uploads/{upload_id}", response_model=UploadStateRead | AttachmentStored, responses=upload_problems())
@audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="upload_id")
async def continue_upload(
    upload_id: uuid.UUID,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    upload_offset: Annotated[int, Header(ge=0)],
) -> UploadStateRead | AttachmentStored:
    """Send bytes from ``Upload-Offset`` on: 200 with the new state, or 201 with the stored attachment
    when they complete it; 409 with the right offset when it is not the server's."""
    result = await service.continue_upload(session, runtime, principal, upload_id, upload_offset, request.stream())
    if isinstance(result, AttachmentStored):
        response.status_code = status.HTTP_201_CREATED
        return result
    return _offset(response, result)


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
@audited(AuditAction.ATTACHMENT_UPLOAD_ABANDON, "attachment_upload", id_param="upload_id")
def abandon_upload(upload_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> None:
    service.abandon_upload(session, runtime, principal, upload_id)
