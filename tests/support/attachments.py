"""Attachments through a real ASGI app, before the attachment service exists.

``attachment_routes()`` is a router for tests only, at the paths the attachment routes will take,
built the way every router is (UnitOfWorkRoute, @audited, DbSession, the principal): it adapts HTTP
to app/interviews/storage.py, with the least of a decision (policy.load of the interview, which must
still be open; the kind and category as declared). The consent rules per kind come with the
attachment service.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Header, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.access import policy
from app.access.deps import CurrentPrincipal, RuntimeDep
from app.access.policy import Action
from app.access.principal import Principal
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.db import db_now, new_id, unit_of_work
from app.core.errors import Conflict, ValidationFailed
from app.interviews import storage
from app.interviews.filetypes import Kind
from app.interviews.models import Attachment, AttachmentUpload, Interview
from app.keys.sealed import Place, seal_json
from tests.support.actors import Actor
from tests.support.consent import participation, person_in

OPEN_STATES = frozenset({"planned", "in_progress", "paused"})


def _kind(fields: Mapping[str, str]) -> Kind:
    try:
        return Kind(fields.get("kind", ""))
    except ValueError:
        raise ValidationFailed("kind must be photo, audio, video or document", fields=["kind"]) from None


def _open_interview(session: Session, principal: Principal, interview_id: uuid.UUID) -> Interview:
    interview = policy.load(session, principal, Action.ATTACHMENT_UPLOAD, Interview, interview_id)
    if interview.state not in OPEN_STATES:
        raise Conflict("the interview is closed", fields=["interview"])
    return interview


def authorise(principal: Principal, interview_id: uuid.UUID) -> storage.Authorise:
    def decide(session: Session, fields: Mapping[str, str]) -> storage.UploadTarget:
        interview = _open_interview(session, principal, interview_id)
        return storage.UploadTarget(
            interview.id,
            interview.person_id,
            interview.case_id,
            principal.user_id,
            _kind(fields),
            fields.get("category", "evidentiary_documents"),
        )

    return decide


class UploadOpen(BaseModel):
    kind: Kind
    category: str = "evidentiary_documents"
    length: int
    file_name: str | None = None


def _stored(stored: storage.StoredAttachment) -> dict[str, Any]:
    return {
        "id": str(stored.id),
        "media_type": stored.media_type,
        "size": stored.size,
        "sha256": stored.sha256,
        "kind": stored.kind,
    }


def _state(state: storage.UploadState, response: Response) -> dict[str, Any]:
    response.headers["Upload-Offset"] = str(state.offset)
    return {"id": str(state.id), "offset": state.offset, "length": state.length, "segment_size": state.segment_size}


def attachment_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute)

    @router.post("/interviews/{interview_id}/attachments", status_code=status.HTTP_201_CREATED)
    @audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="interview_id")
    async def upload(
        interview_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
    ) -> dict[str, Any]:
        stored = await storage.receive_attachment(
            session, runtime, authorise(principal, interview_id), request.headers, request.stream()
        )
        return _stored(stored)

    @router.get("/attachments/{attachment_id}/content")
    @audited(AuditAction.ATTACHMENT_DOWNLOAD, "attachment", id_param="attachment_id")
    def download(
        attachment_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
    ) -> StreamingResponse:
        row = policy.load(session, principal, Action.ATTACHMENT_READ, Attachment, attachment_id)
        blob = storage.open_content(session, runtime, row)
        headers = {"content-length": str(blob.size), "x-content-sha256": blob.sha256.hex()}
        return StreamingResponse(blob.chunks(), media_type=row.media_type, headers=headers)

    @router.post("/interviews/{interview_id}/uploads", status_code=status.HTTP_201_CREATED)
    @audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="interview_id")
    def open_upload(
        interview_id: uuid.UUID,
        data: UploadOpen,
        response: Response,
        principal: CurrentPrincipal,
        session: DbSession,
        runtime: RuntimeDep,
    ) -> dict[str, Any]:
        target = authorise(principal, interview_id)(session, {"kind": data.kind.value, "category": data.category})
        state = storage.open_upload(session, runtime, target, length=data.length, file_name=data.file_name)
        return _state(state, response)

    def loader(principal: Principal, upload_id: uuid.UUID) -> storage.LoadUpload:
        def load(session: Session) -> tuple[AttachmentUpload, storage.UploadTarget]:
            row = policy.load(session, principal, Action.ATTACHMENT_UPLOAD, AttachmentUpload, upload_id)
            _open_interview(session, principal, row.interview_id)
            target = storage.UploadTarget(
                row.interview_id, row.person_id, row.case_id, row.owner_id, Kind(row.kind), row.category
            )
            return row, target

        return load

    @router.get("/uploads/{upload_id}")
    @audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="upload_id")
    def upload_state(
        upload_id: uuid.UUID, response: Response, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
    ) -> dict[str, Any]:
        row, _ = loader(principal, upload_id)(session)
        return _state(storage.upload_state(session, runtime, row), response)

    @router.patch("/uploads/{upload_id}")
    @audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="upload_id")
    async def append(
        upload_id: uuid.UUID,
        request: Request,
        response: Response,
        principal: CurrentPrincipal,
        session: DbSession,
        runtime: RuntimeDep,
        upload_offset: Annotated[int, Header()],
    ) -> dict[str, Any]:
        result = await storage.continue_upload(
            session, runtime, loader(principal, upload_id), upload_offset, request.stream()
        )
        if isinstance(result, storage.StoredAttachment):
            response.status_code = status.HTTP_201_CREATED
            return _stored(result)
        return _state(result, response)

    @router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
    @audited(AuditAction.ATTACHMENT_UPLOAD, "attachment", id_param="upload_id")
    def abandon(upload_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> None:
        row, _ = loader(principal, upload_id)(session)
        storage.abandon_upload(session, runtime, row)

    return router


def with_attachment_routes(app: FastAPI) -> FastAPI:
    app.include_router(attachment_routes())
    return app


def interview_for(app: FastAPI, doc: Actor, case_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(interview id, person id): a person with participation consent (so a data key) and an open
    interview, stored as the interview service will store it (its details sealed at its place)."""
    pid = person_in(doc, case_id)["id"]
    r = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app))
    assert r.status_code == 201, r.text
    runtime = app.state.runtime
    with unit_of_work(app.state.sessionmaker) as s:
        now = db_now(s)
        interview = Interview(
            id=new_id(),
            person_id=uuid.UUID(pid),
            case_id=uuid.UUID(case_id),
            participation_id=uuid.UUID(r.json()["id"]),
            state="in_progress",
            revision=1,
            language="hy",
            scheduled_at=now,
            created_by=doc.user_id,
            created_at=now,
            details=b"",
        )
        where = Place("interviews", "details", interview.id, interview.person_id, {"case": case_id})
        interview.details = seal_json(s, runtime.keys, where, {"place": "Goris"})
        s.add(interview)
        s.flush()
        return interview.id, interview.person_id


MAX = 3 * 1024 * 1024
"""attachments.max_bytes in these tests."""


def raw_upload(doc: Actor, interview_id: uuid.UUID, data: Any, *, kind: str = "photo", name: str | None = None) -> Any:
    """A raw body, its kind and file name in headers."""
    headers = {"attachment-kind": kind, "content-type": "application/octet-stream"}
    if name is not None:
        headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return doc.post(f"/api/v1/interviews/{interview_id}/attachments", content=data, headers=headers)


def download(doc: Actor, attachment_id: str) -> Any:
    return doc.get(f"/api/v1/attachments/{attachment_id}/content")


def files(app: FastAPI, folder: str) -> list[Path]:
    """The files under the blob directory's ``tmp`` or ``blobs`` folder."""
    root: Path = app.state.runtime.settings.attachments_dir
    return [p for p in (root / folder).rglob("*") if p.is_file()]


# Files of each type: real leading bytes, then random bytes.
HEADS = {
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00",
}


def sample(kind: str, size: int) -> bytes:
    head = HEADS[kind]
    return head + os.urandom(size - len(head))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
