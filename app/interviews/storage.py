"""Storing and reading attachments: the mechanics below the attachment service.

The attachment service (service_attachments.py: policy, consent for the kind, the category) decides *whether*; this
module decides *how*: a body streamed in and sealed as it arrives, outside any transaction, with
only the final row joining the unit of work, and the blob made final only once that row commits.

The caller passes the decision as a function of the session (``authorise`` or ``load``). It runs
twice: before the transfer, so that nothing is received for a request that will be refused, and
again in the transaction that commits, so that a consent withdrawn or a team left during a long
upload is honoured. Between the two, ``release_work`` holds no lock and no connection while the
bytes arrive (a slow upload on SQLite would otherwise hold the write lock for minutes).

Single request: ``receive_attachment``. Resumable: ``open_upload``, ``upload_state``,
``continue_upload``, ``abandon_upload``. Reading: ``attachment_facts``, ``open_content``. The
sweeper is in ``sweep.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.consent.vocabulary import ParticipationDecision
from app.core.blobstore import BlobBusy
from app.core.db import db_now, new_id, on_outcome, release_work, resume_work
from app.core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.core.uploads import next_chunk, read_upload
from app.interviews import custody
from app.interviews.blobs import SEGMENT, BlobWriter, SealedBlob, VerifiedBlob, acknowledged, open_verified
from app.interviews.filetypes import SNIFF_BYTES, Kind, check_type
from app.interviews.models import Attachment, AttachmentUpload
from app.interviews.scanner import check_whole
from app.interviews.schemas import AttachmentStored, SealedAttachmentFacts, SealedUploadDetails
from app.keys import datakeys
from app.keys.sealed import Place, open_json, seal_json

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

FIELDS = ("kind", "category")
"""The text fields an upload carries besides the file (form fields, or Attachment-* headers)."""


@dataclass(frozen=True)
class UploadTarget:
    """Where an attachment goes and who sends it, as the attachment service decided it."""

    interview_id: uuid.UUID
    person_id: uuid.UUID
    case_id: uuid.UUID
    uploader_id: uuid.UUID | None
    kind: Kind
    category: str
    agreed: frozenset[ParticipationDecision] = field(default=frozenset(), compare=False)
    """The decisions the person's latest participation consent agrees to, as read when this was decided;
    what the file turns out to be is checked against them (filetypes.check_type)."""


Authorise = Callable[[Session, Mapping[str, str]], UploadTarget]
"""Decides an upload from the fields it declared (kind, category): policy, consent, vocabulary.
Raises the 4xx that refuses it. Called before the transfer and again in the committing transaction."""

LoadUpload = Callable[[Session], tuple[AttachmentUpload, UploadTarget]]
"""Finds a resumable upload for its owner (policy.load) and decides it again, as Authorise does."""


@dataclass(frozen=True)
class UploadState:
    """Where a resumable upload stands: the client sends from ``offset`` on."""

    id: uuid.UUID
    offset: int
    length: int
    segment_size: int
    expires_at: datetime


@dataclass(frozen=True)
class AttachmentFacts:
    """The sealed part of an attachment's row, opened."""

    sha256: str
    size: int
    file_name: str | None


class OffsetMismatch(Conflict):
    """The client's offset is not the server's: it resumes from ``offset``."""

    def __init__(self, offset: int) -> None:
        super().__init__("the upload offset does not match; resume from the offset given", fields=["upload-offset"])
        self.offset = offset
        self.extra["offset"] = offset

    def headers(self) -> dict[str, str]:
        return {"Upload-Offset": str(self.offset)}


def place(row: Attachment) -> Place:
    """The sealed content is bound to every clear column that decides access or use: the interview
    and case, the kind and category (consent and export filters), the media type and sizes."""
    binding = {
        "case": row.case_id.hex,
        "category": row.category,
        "interview": row.interview_id.hex,
        "kind": row.kind,
        "media_type": row.media_type,
        "segment_size": str(row.segment_size),
        "stored_size": str(row.stored_size),
    }
    return Place("attachments", "content", row.id, row.person_id, binding)


def upload_place(row: AttachmentUpload) -> Place:
    binding = {
        "case": row.case_id.hex,
        "category": row.category,
        "interview": row.interview_id.hex,
        "kind": row.kind,
        "owner": row.owner_id.hex,
    }
    return Place("attachment_uploads", "details", row.id, row.person_id, binding)


# One request -----------------------------------------------------------------------------------------------


async def receive_attachment(
    session: Session,
    runtime: Runtime,
    authorise: Authorise,
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
) -> AttachmentStored:
    """Store the attachment a request carries (a raw body or an HTML form; see app/core/uploads.py).

    Refusals: 413 past attachments.max_bytes, 415 for a type the kind does not allow (decided from
    the first bytes, before any segment is written; then from the whole file, as it passes, which
    must hold together as that type), 403 consent_required for what the whole file is, 422 for a
    file name with path tricks or an empty file, 408 when the client stalls, 400 when it goes away,
    and whatever ``authorise`` raises. Any of them leaves no row and no blob.
    """
    limits = runtime.settings.attachments
    incoming = await read_upload(
        headers, body, field_names=FIELDS, max_bytes=limits.max_bytes, idle_seconds=limits.idle_seconds
    )
    target, dek = await to_thread.run_sync(_decide, session, runtime, lambda s: authorise(s, incoming.fields))
    attachment_id = new_id()
    await to_thread.run_sync(release_work, session)
    writer = await to_thread.run_sync(BlobWriter.create, runtime.blobs, attachment_id, target.person_id, dek)
    handed_over = False
    try:
        await _transfer(writer, incoming.chunks, target, sniff=True)
        sealed = await to_thread.run_sync(writer.finish)
        check_whole(target.kind, sealed.verdict, target.agreed)
        await to_thread.run_sync(resume_work, session)

        def record(s: Session) -> AttachmentStored:
            decided = authorise(s, incoming.fields)
            return _record(s, runtime, target, decided, attachment_id, sealed, incoming.file_name, writer, keep=False)

        stored = await to_thread.run_sync(record, session)
        handed_over = True
        return stored
    finally:
        if not handed_over:
            await to_thread.run_sync(writer.discard)


async def _transfer(writer: BlobWriter, chunks: AsyncIterator[bytes], target: UploadTarget, *, sniff: bool) -> None:
    """Feed the file to the writer, a segment at a time off the event loop; with ``sniff``, the type
    is checked from the first bytes before anything is sealed. A writer that sees the file from its first
    byte scans it as it passes: a structure that breaks is refused (415) as soon as it does."""
    head = bytearray()
    buffer = bytearray()
    async for chunk in chunks:
        if sniff:
            head.extend(chunk[: SNIFF_BYTES - len(head)])
            if len(head) >= SNIFF_BYTES:
                check_type(target.kind, bytes(head), target.agreed)
                sniff = False
        buffer.extend(chunk)
        if len(buffer) >= SEGMENT:
            data = bytes(buffer)
            buffer.clear()
            await to_thread.run_sync(writer.write, data)
            if (refused := writer.refusal()) is not None:
                check_whole(target.kind, refused, target.agreed)
    if sniff and head:
        check_type(target.kind, bytes(head), target.agreed)  # a file shorter than the sniffing window
    if buffer:
        await to_thread.run_sync(writer.write, bytes(buffer))


def _decide(
    session: Session, runtime: Runtime, decide: Callable[[Session], UploadTarget]
) -> tuple[UploadTarget, bytes]:
    target = decide(session)
    # The interview's own details are sealed under this key, so it exists; an upload never makes one.
    return target, datakeys.data_key(session, runtime.keys, target.person_id)


def _same(before: UploadTarget, now: UploadTarget) -> None:
    if before != now:
        raise Conflict("the interview changed during the upload; upload the file again", fields=["interview"])


def _record(
    session: Session,
    runtime: Runtime,
    target: UploadTarget,
    decided: UploadTarget,
    attachment_id: uuid.UUID,
    sealed: SealedBlob,
    file_name: str | None,
    writer: BlobWriter,
    *,
    keep: bool,
) -> AttachmentStored:
    """In the committing transaction: the same decision again, the row, the custody commitment to the
    original's SHA-256, and the blob's fate tied to the commit (final once it commits;
    on a rollback removed, or with ``keep`` kept for a retry)."""
    _same(target, decided)
    row = _insert(session, runtime, attachment_id, decided, sealed, file_name)
    # Last in the unit of work: the commitment holds the log's lock until the transaction ends.
    custody.commit(
        session,
        runtime,
        person_id=target.person_id,
        case_id=target.case_id,
        kind=custody.Kind.ATTACHMENT_ORIGINAL,
        record_id=attachment_id,
        digest=sealed.sha256,
    )
    on_outcome(session, committed=writer.finalise, rolled_back=writer.close if keep else writer.discard)
    return _stored(row, sealed)


def _insert(
    session: Session,
    runtime: Runtime,
    attachment_id: uuid.UUID,
    target: UploadTarget,
    sealed: SealedBlob,
    file_name: str | None,
) -> Attachment:
    row = Attachment(
        id=attachment_id,
        interview_id=target.interview_id,
        person_id=target.person_id,
        case_id=target.case_id,
        kind=target.kind.value,
        category=target.category,
        media_type=check_whole(target.kind, sealed.verdict, target.agreed),
        segment_size=SEGMENT,
        stored_size=sealed.stored_size,
        uploaded_by=target.uploader_id,
        uploaded_at=db_now(session),
        content=b"",
    )
    facts = SealedAttachmentFacts(sha256=sealed.sha256.hex(), size=sealed.size, file_name=file_name)
    row.content = seal_json(session, runtime.keys, place(row), facts.model_dump(mode="json"))
    session.add(row)
    session.flush()
    return row


def _stored(row: Attachment, sealed: SealedBlob) -> AttachmentStored:
    return AttachmentStored(
        id=row.id,
        interview_id=row.interview_id,
        kind=row.kind,
        category=row.category,
        media_type=row.media_type,
        size=sealed.size,
        sha256=sealed.sha256.hex(),
        uploaded_at=row.uploaded_at,
    )


# Resumable -------------------------------------------------------------------------------------------------


def open_upload(
    session: Session, runtime: Runtime, target: UploadTarget, *, length: int, file_name: str | None
) -> UploadState:
    """Begin a resumable upload of ``length`` bytes (the caller has decided it, as for Authorise).

    Nothing is written to the blob store yet; the first transfer begins the temp blob.
    """
    limits = runtime.settings.attachments
    if length > limits.max_bytes:
        raise PayloadTooLarge(
            "the file is larger than the %(n)s bytes allowed", fields=["length"], params={"n": str(limits.max_bytes)}
        )
    if length < 1:
        raise ValidationFailed("the file is empty", fields=["length"])
    if target.uploader_id is None:
        raise ValueError("a resumable upload belongs to an account")
    now = db_now(session)
    row = AttachmentUpload(
        id=new_id(),
        interview_id=target.interview_id,
        person_id=target.person_id,
        case_id=target.case_id,
        owner_id=target.uploader_id,
        kind=target.kind.value,
        category=target.category,
        segment_size=SEGMENT,
        created_at=now,
        expires_at=now + timedelta(hours=limits.upload_expiry_hours),
        details=b"",
    )
    # The exact length is sealed like the attachment's size: it would fingerprint a circulated file.
    details = SealedUploadDetails(length=length, file_name=file_name)
    row.details = seal_json(session, runtime.keys, upload_place(row), details.model_dump(mode="json"))
    session.add(row)
    session.flush()
    return _state(runtime, row, length)


def upload_state(session: Session, runtime: Runtime, row: AttachmentUpload) -> UploadState:
    """The offset to resume from: the whole segments the server has sealed and kept; 404 once expired."""
    _live(session, row)
    return _state(runtime, row, upload_details(session, runtime, row).length)


def _state(runtime: Runtime, row: AttachmentUpload, length: int) -> UploadState:
    offset = acknowledged(runtime.blobs.temp_size(row.id.hex), length, row.segment_size)
    return UploadState(row.id, offset, length, row.segment_size, row.expires_at)


@dataclass(frozen=True)
class UploadDetails:
    length: int
    file_name: str | None


def upload_details(session: Session, runtime: Runtime, row: AttachmentUpload) -> UploadDetails:
    """Open a resumable upload's sealed length and file name (the row was found through policy.load)."""
    details: dict[str, Any] = open_json(session, runtime.keys, upload_place(row), row.details)
    return UploadDetails(length=int(details["length"]), file_name=details["file_name"])


async def continue_upload(
    session: Session,
    runtime: Runtime,
    load: LoadUpload,
    offset: int,
    body: AsyncIterator[bytes],
) -> UploadState | AttachmentStored:
    """Take the bytes from ``offset`` on (the client's ``Upload-Offset``); a transfer that brings the
    upload to its length completes it and answers with the stored attachment.

    Every whole segment sealed is kept, even when the transfer is cut (400), stalls (408) or sends
    more than declared (422): the client asks for the state and resumes from its offset. 409 when
    the offset is not the server's (with the right one) or another transfer of the upload is on.

    The transfer that completes the upload reads the whole file back (blobs.BlobWriter._rehash) and
    checks what it is (scanner.check_whole): when that refuses it (415, or 403 consent_required), or a
    transfer from offset 0 is refused for its first bytes or a structure that breaks as it passes, the
    sealed segments are removed at once and the upload stays, empty, at offset 0, until it is
    abandoned (DELETE) or expires.
    """
    (row, target), dek = await to_thread.run_sync(_decide_upload, session, runtime, load)
    upload_id = row.id
    length = await to_thread.run_sync(lambda: upload_details(session, runtime, row).length)
    await to_thread.run_sync(release_work, session)
    writer = await to_thread.run_sync(BlobWriter.resume, runtime.blobs, upload_id, target.person_id, dek, length)
    try:
        await to_thread.run_sync(_still_open, session, upload_id)
    except BaseException:
        # Completed, abandoned or expired while we waited: a temp blob begun now would sit under
        # the attachment's id beside its final blob; one found is left for the sweeper to settle.
        await to_thread.run_sync(writer.discard if writer.began else writer.close)
        raise
    handed_over = discarded = False
    try:
        if offset != writer.received:
            raise OffsetMismatch(writer.received)
        try:
            await _transfer(writer, _bounded(body, length - offset, runtime), target, sniff=offset == 0)
        except (Forbidden, UnsupportedMediaType):
            discarded = True  # refused for what the file is: nothing of it is kept (see below)
            await to_thread.run_sync(writer.discard)
            raise
        if writer.received + writer.pending < length:
            await to_thread.run_sync(writer.sync)
            await to_thread.run_sync(resume_work, session)
            return await to_thread.run_sync(_touch, session, runtime, load, target, length)
        sealed = await to_thread.run_sync(writer.finish)
        try:
            check_whole(target.kind, sealed.verdict, target.agreed)
        except (Forbidden, UnsupportedMediaType):
            # Never kept for a later try: the same bytes would be refused again, and a file the person
            # did not agree to is not held on their behalf.
            discarded = True
            await to_thread.run_sync(writer.discard)
            raise
        await to_thread.run_sync(resume_work, session)

        def record(s: Session) -> AttachmentStored:
            upload, decided = load(s)
            file_name = upload_details(s, runtime, upload).file_name
            _take_upload(s, upload_id)
            # A rollback keeps the complete temp blob: the client sends the last bytes again and completes.
            return _record(s, runtime, target, decided, upload_id, sealed, file_name, writer, keep=True)

        stored = await to_thread.run_sync(record, session)
        handed_over = True
        return stored
    finally:
        if not handed_over and not discarded:
            # A temp blob this transfer began and sealed no whole segment into holds nothing to resume
            # after (a transfer at the wrong offset, say, after a refused completion removed the last one).
            empty = writer.began and writer.received == 0
            await to_thread.run_sync(writer.discard if empty else partial(_keep, writer))


def _take_upload(session: Session, upload_id: uuid.UUID) -> None:
    """Delete the upload's row (for the attachment that replaces it, or abandoned), if it is still there and
    unexpired by the database clock; 404 otherwise. The row count decides: an abandon (DELETE
    /api/v1/uploads/{id}), a completion or an expiry that came after the load is not overridden. A completing
    transfer refused here leaves its temp blob (the caller keeps it): with its upload row gone, the sweeper
    removes it; expired, the sweeper removes both."""
    taken = session.execute(
        delete(AttachmentUpload)
        .where(AttachmentUpload.id == upload_id, AttachmentUpload.expires_at > db_now(session))
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        raise NotFound


def _keep(writer: BlobWriter) -> None:
    """Keep what was sealed, durably, for the next transfer to resume after it, and let the blob go."""
    try:
        writer.sync()
    except OSError:
        pass
    writer.close()


def _decide_upload(
    session: Session, runtime: Runtime, load: LoadUpload
) -> tuple[tuple[AttachmentUpload, UploadTarget], bytes]:
    row, target = load(session)
    _live(session, row)
    return (row, target), datakeys.data_key(session, runtime.keys, target.person_id)


def _live(session: Session, row: AttachmentUpload) -> None:
    """An expired upload is gone (404), though its row waits for the sweeper."""
    if row.expires_at <= db_now(session):
        raise NotFound


def _still_open(session: Session, upload_id: uuid.UUID) -> None:
    """With the temp blob held: the upload is still there, neither completed nor abandoned nor expired
    since it was decided. The transfer that completes it holds the blob until its row has committed,
    so a transfer that lost that race finds the row gone here."""
    resume_work(session)
    now = db_now(session)
    found = session.scalar(
        select(AttachmentUpload.id).where(AttachmentUpload.id == upload_id, AttachmentUpload.expires_at > now)
    )
    if found is None:
        raise NotFound
    release_work(session)


async def _bounded(body: AsyncIterator[bytes], remaining: int, runtime: Runtime) -> AsyncIterator[bytes]:
    """The transfer's bytes, refused past the upload's declared length."""
    idle = runtime.settings.attachments.idle_seconds
    while (chunk := await next_chunk(body, idle)) is not None:
        if len(chunk) > remaining:
            raise ValidationFailed("the body runs past the upload's declared length", fields=["body"])
        remaining -= len(chunk)
        yield chunk


def _touch(session: Session, runtime: Runtime, load: LoadUpload, target: UploadTarget, length: int) -> UploadState:
    """After a transfer that did not complete: decide again, and the upload lives on from now."""
    row, now_target = load(session)
    _same(target, now_target)
    now = db_now(session)
    expires_at = now + timedelta(hours=runtime.settings.attachments.upload_expiry_hours)
    # Conditional, as _take_upload: an upload abandoned or expired since the load stays so (404).
    renewed = session.execute(
        update(AttachmentUpload)
        .where(AttachmentUpload.id == row.id, AttachmentUpload.expires_at > now)
        .values(expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    if getattr(renewed, "rowcount", 0) != 1:
        raise NotFound
    set_committed_value(row, "expires_at", expires_at)
    return _state(runtime, row, length)


def abandon_upload(session: Session, runtime: Runtime, row: AttachmentUpload) -> None:
    """Remove a resumable upload now (its owner gave up); its temp blob goes once this commits.
    An expired one is already gone (404): the sweeper removes it. So is one completed or abandoned by a
    request that committed since the row was loaded (the delete is conditional, as for completion)."""
    upload_id = row.id
    _take_upload(session, upload_id)
    session.expunge(row)
    on_outcome(session, committed=lambda: discard_temp(runtime, upload_id), rolled_back=lambda: None)


def discard_temp(runtime: Runtime, upload_id: uuid.UUID) -> bool:
    """Remove an upload's temp blob unless a transfer holds it (the sweeper then removes it later)."""
    try:
        temp = runtime.blobs.open_temp(upload_id.hex)
    except BlobBusy:
        return False
    if temp is not None:
        temp.discard()
    return True


# Reading ---------------------------------------------------------------------------------------------------


def attachment_facts(session: Session, runtime: Runtime, row: Attachment) -> AttachmentFacts:
    """Open an attachment's sealed SHA-256, size and file name (the row was found through policy.load)."""
    facts: dict[str, Any] = open_json(session, runtime.keys, place(row), row.content)
    return AttachmentFacts(sha256=facts["sha256"], size=int(facts["size"]), file_name=facts["file_name"])


def open_content(session: Session, runtime: Runtime, row: Attachment) -> VerifiedBlob:
    """The original, verified whole (every segment, the padding, the trailer, the SHA-256) before
    the first byte is released; DecryptionFailed (500, integrity) otherwise. Stream it with
    ``chunks()`` after the unit of work has committed: it needs no session."""
    facts = attachment_facts(session, runtime, row)
    dek = datakeys.data_key(session, runtime.keys, row.person_id)
    return open_verified(
        runtime.blobs,
        row.id,
        row.person_id,
        dek,
        size=facts.size,
        sha256=bytes.fromhex(facts.sha256),
        segment=row.segment_size,
    )
