"""Attachments: who may add one to an interview and read it back, and what each kind needs.

The rules are decided here, the mechanics (streaming, sealing, resuming, verifying) in storage.py:

- only documenters on the case team (``policy.load`` with ATTACHMENT_UPLOAD or ATTACHMENT_READ);
- only while the interview is being recorded (``in_progress`` or ``paused``): a planned interview has
  not begun, and an ended one is closed (409 ``interview_not_recording``);
- the person's latest participation consent in force agrees to the decision the kind needs
  (``CONSENT_FOR``: audio -> audio_recording, video -> video_recording, photo -> photos, document ->
  storage), or 403 ``consent_required`` naming it;
- the category is one the kind allows (``CATEGORIES``), or 422 listing them.

The decision runs before the transfer and again in the transaction that stores the attachment, so a
consent withdrawn, an interview ended or a team left during a long upload is honoured. The stored
attachment's original is committed to in the audit log (custody.commit) in that same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import auth, policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import service as consent
from app.consent.vocabulary import DataCategory, ParticipationDecision
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.core.uploads import sanitise_file_name
from app.interviews import records, storage
from app.interviews.filetypes import CONTENT_DECISION, Kind
from app.interviews.models import Attachment, AttachmentUpload, Interview
from app.interviews.schemas import AttachmentRead, AttachmentStored, AttachmentSummary, UploadOpen, UploadStateRead
from app.interviews.service import person_of
from app.interviews.vocabulary import InterviewState
from app.people.records import hold_to_write

if TYPE_CHECKING:
    from app.interviews.blobs import VerifiedBlob
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

RECORDING = frozenset({InterviewState.IN_PROGRESS, InterviewState.PAUSED})
"""The states in which an attachment may be added: the interview is being recorded."""

CONSENT_FOR: dict[Kind, ParticipationDecision] = {
    Kind.AUDIO: ParticipationDecision.AUDIO_RECORDING,
    Kind.VIDEO: ParticipationDecision.VIDEO_RECORDING,
    Kind.PHOTO: ParticipationDecision.PHOTOS,
    Kind.DOCUMENT: ParticipationDecision.STORAGE,
}
"""The participation decision each kind needs. A document the person hands over is stored, not recorded."""

CATEGORIES: dict[Kind, tuple[DataCategory, ...]] = {
    Kind.AUDIO: (DataCategory.AUDIO_RECORDING,),
    Kind.VIDEO: (DataCategory.VIDEO_RECORDING,),
    Kind.PHOTO: (DataCategory.PHOTOS_OF_PERSON, DataCategory.PHOTOS_OTHER),
    Kind.DOCUMENT: (DataCategory.IDENTITY_DOCUMENTS, DataCategory.EVIDENTIARY_DOCUMENTS),
}
"""The data categories (consent grants and export filters) each kind may be filed under."""


def _kind(value: str | None) -> Kind:
    try:
        return Kind(value or "")
    except ValueError:
        raise ValidationFailed(
            "kind must be one of: %(attachment_kinds)s",
            fields=["kind"],
            params={"attachment_kinds": [k.value for k in Kind]},
        ) from None


def _category(kind: Kind, value: str | None) -> str:
    """The declared category, or the only one the kind allows when none is declared."""
    allowed = CATEGORIES[kind]
    if not value and len(allowed) == 1:
        return allowed[0].value
    if value not in {c.value for c in allowed}:
        raise ValidationFailed(
            "category for a %(attachment_kind)s must be one of: %(categories)s",
            fields=["category"],
            params={"attachment_kind": kind.value, "categories": [c.value for c in allowed]},
            allowed=[c.value for c in allowed],
        )
    return str(value)


def _recording(state: InterviewState) -> None:
    if state not in RECORDING:
        raise Conflict(
            "attachments are added while the interview is in progress or paused",
            fields=["state"],
            code="interview_not_recording",
        )


def _consent(session: Session, runtime: Runtime, interview: Interview, kind: Kind) -> frozenset[ParticipationDecision]:
    """The kind's decision, required now (403); and every decision the person agrees to, against which what the
    file turns out to be is checked when its first bytes arrive (filetypes.CONTENT_DECISION)."""
    opened = consent.require(
        session, runtime, person_of(session, interview), CONSENT_FOR[kind], doing=f"a {kind.value}"
    )
    return frozenset(d for d in set(CONTENT_DECISION.values()) if consent.allows(opened, d))


def _target(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    interview_id: uuid.UUID,
    kind: str | None,
    category: str | None,
) -> storage.UploadTarget:
    """In order: the team (404), the kind and category (422), the interview's state (409), consent (403)."""
    interview = policy.load(session, principal, policy.Action.ATTACHMENT_UPLOAD, Interview, interview_id)
    audit.touch(session, case_id=interview.case_id)
    hold_to_write(session, interview.person_id)
    declared = _kind(kind)
    filed_under = _category(declared, category)
    _recording(records.state_of(interview))
    agreed = _consent(session, runtime, interview, declared)  # holds the person, then the interview: in this order
    _recording(records.held_state(session, interview))
    return storage.UploadTarget(
        interview.id, interview.person_id, interview.case_id, principal.user_id, declared, filed_under, agreed
    )


def decide(runtime: Runtime, principal: Principal, interview_id: uuid.UUID) -> storage.Authorise:
    """The decision on an upload to an interview, from the fields it declares (see the module)."""

    def authorise(session: Session, fields: Mapping[str, str]) -> storage.UploadTarget:
        # Taken again once the file is in, with the principal as it is then (see auth.renewed).
        current = auth.renewed(session, runtime, principal)
        return _target(session, runtime, current, interview_id, fields.get("kind"), fields.get("category"))

    return authorise


def _loader(runtime: Runtime, principal: Principal, upload_id: uuid.UUID) -> storage.LoadUpload:
    """A resumable upload, for its owner, decided again as when it was opened."""

    def load(session: Session) -> tuple[AttachmentUpload, storage.UploadTarget]:
        current = auth.renewed(session, runtime, principal)
        row = policy.load(session, current, policy.Action.ATTACHMENT_UPLOAD, AttachmentUpload, upload_id)
        return row, _target(session, runtime, current, row.interview_id, row.kind, row.category)

    return load


def _stored(session: Session, stored: AttachmentStored) -> AttachmentStored:
    audit.touch(session, resource_id=stored.id)
    return stored


def _state(state: storage.UploadState) -> UploadStateRead:
    return UploadStateRead.model_validate(state, from_attributes=True)


# Storing ---------------------------------------------------------------------------------------------------


async def upload(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    interview_id: uuid.UUID,
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
) -> AttachmentStored:
    """Store the attachment one request carries (a raw body with Attachment-* headers, or an HTML form)."""
    stored = await storage.receive_attachment(session, runtime, decide(runtime, principal, interview_id), headers, body)
    return _stored(session, stored)


def open_upload(
    session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID, data: UploadOpen
) -> UploadStateRead:
    """Begin a resumable upload, decided as a single upload is."""
    target = _target(session, runtime, principal, interview_id, data.kind, data.category)
    file_name = None if data.file_name is None else sanitise_file_name(data.file_name)
    state = storage.open_upload(session, runtime, target, length=data.length, file_name=file_name)
    audit.touch(session, resource_id=state.id)
    return _state(state)


def upload_state(session: Session, runtime: Runtime, principal: Principal, upload_id: uuid.UUID) -> UploadStateRead:
    row, _ = _loader(runtime, principal, upload_id)(session)
    return _state(storage.upload_state(session, runtime, row))


async def continue_upload(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    upload_id: uuid.UUID,
    offset: int,
    body: AsyncIterator[bytes],
) -> UploadStateRead | AttachmentStored:
    """Take a resumable upload's bytes from ``offset``; the transfer that completes it stores it."""
    result = await storage.continue_upload(session, runtime, _loader(runtime, principal, upload_id), offset, body)
    if isinstance(result, AttachmentStored):
        return _stored(session, result)
    return _state(result)


def abandon_upload(session: Session, runtime: Runtime, principal: Principal, upload_id: uuid.UUID) -> None:
    """Its owner gives a resumable upload up: the row and the temp blob go. No consent is needed to stop."""
    row = policy.load(session, principal, policy.Action.ATTACHMENT_UPLOAD, AttachmentUpload, upload_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    storage.abandon_upload(session, runtime, row)


# Reading ---------------------------------------------------------------------------------------------------


def list_attachments(
    session: Session, principal: Principal, interview_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[AttachmentSummary]:
    """An interview's attachments in the order they were stored: metadata only, nothing opened."""
    interview = policy.load(session, principal, policy.Action.ATTACHMENT_READ, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    stmt = policy.scope(
        principal,
        policy.Action.ATTACHMENT_READ,
        select(Attachment).where(Attachment.interview_id == interview.id),
        Attachment.case_id,
    )
    rows, cursor = keyset(session, stmt, Attachment.id, page, uuid.UUID, lambda r: r.id)
    return Page[AttachmentSummary](items=[AttachmentSummary.model_validate(r) for r in rows], next_cursor=cursor)


def read_attachment(
    session: Session, runtime: Runtime, principal: Principal, attachment_id: uuid.UUID
) -> AttachmentRead:
    """A documenter on the case team reads an attachment's facts (SHA-256, exact size, file name): a
    named door to sealed values."""
    row = policy.load(session, principal, policy.Action.ATTACHMENT_READ, Attachment, attachment_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    facts = storage.attachment_facts(session, runtime, row)
    return AttachmentRead.model_validate({**AttachmentSummary.model_validate(row).model_dump(), **vars(facts)})


def download(
    session: Session, runtime: Runtime, principal: Principal, attachment_id: uuid.UUID
) -> tuple[Attachment, VerifiedBlob]:
    """The original, verified whole before its first byte is released (storage.open_content)."""
    row = policy.load(session, principal, policy.Action.ATTACHMENT_READ, Attachment, attachment_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    return row, storage.open_content(session, runtime, row)
