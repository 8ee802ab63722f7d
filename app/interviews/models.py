"""An interview with one person, under the participation consent it was taken with; its interviewers;
the feedback promised to the survivor, as tasks for the case team; its attachments; and the custody
commitments of what is kept from interviews."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class Interview(Base):
    """The clear columns are what lists, access and the state machine need; everything else is sealed.

    ``case_id`` is the person's case, kept here so access is decided on the row (policy.load) and
    bound into the sealed details; ``participation_id`` is the consent version it was taken under
    (the latest when it was planned, then the latest when it started).
    """

    __tablename__ = "interviews"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    participation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participation_consents.id"))
    state: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """Raised by every change, so a change made on a stale read is refused (409), never lost."""
    language: Mapped[str] = mapped_column(String(8))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    checklist_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the do-no-harm checklist was completed; the checklist itself is sealed in ``details``."""
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON under the person's data key (schemas.InterviewDetails): place, gender preferences,
    checklist, breaks, distress observed, referrals, feedback promised, reconfirmation."""


class InterviewInterviewer(Base):
    """An account that conducts the interview; it was on the case team when named."""

    __tablename__ = "interview_interviewers"

    interview_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), primary_key=True, index=True)


class FeedbackTask(Base):
    """Feedback promised to the survivor, to be kept: what was promised is sealed in the interview's
    details (under the task's id); the task holds only what the case team plans by."""

    __tablename__ = "feedback_tasks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("interviews.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"))
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Attachment(Base):
    """A stored original: a photo, a recording or a document, kept whole and never replaced.

    Its blob is named by its id and sealed under the person's data key (app/interviews/blobs.py).
    The clear columns are what lists, access and exports need; ``content`` is sealed JSON (the
    original's SHA-256, exact size and file name) bound to the interview, case, kind, category and
    media type, so editing one of those columns is an integrity failure. ``stored_size`` is the
    padded blob's length, which reveals the size bucket, never the exact size.
    """

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("interviews.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(40))
    media_type: Mapped[str] = mapped_column(String(64))
    segment_size: Mapped[int] = mapped_column(Integer)
    stored_size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class AttachmentUpload(Base):
    """A resumable upload under way: where it goes, and until when it may go on.

    How much has arrived is not kept here: it is the temp blob's whole sealed segments
    (blobs.acknowledged), so a row can never claim bytes the blob lost. The id becomes the
    attachment's id when the upload completes, since the blob is sealed bound to it. Only its
    owner (``owner_id``, checked by policy.load) may continue it.
    """

    __tablename__ = "attachment_uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("interviews.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"))
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(40))
    segment_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON: the declared length (exact, so sealed like an attachment's size) and the file name."""


class CustodyCommitment(Base):
    """The commitment that put a statement version or an attachment original into the audit log.

    ``record_id`` is the statement version's or the attachment's id, by ``kind``: no foreign key, since
    it serves both. ``audit_seq`` is the log entry holding the commitment. The salt and the item's digest
    are sealed under the person's data key, bound to the clear columns; the digest is never stored in clear,
    since anyone holding a circulated photo could otherwise confirm that it is here. Rows are never changed.
    """

    __tablename__ = "custody_commitments"
    __table_args__ = ({"info": {"append_only": True}},)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    audit_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    """No foreign key: the log's tables stay free of the domains (a reference would, for one, change how
    TRUNCATE of the log is refused). The sealed values are bound to it, and a proof checks the entry."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON: the 32-byte salt and the item's SHA-256, in hex."""


class InterviewDraft(Base):
    """The one draft slot of an interview: working notes, saved again and again, never a version.

    ``revision`` is raised by every save, so a statement is confirmed from the draft that was read back
    (the request names the revision) and never from one saved meanwhile. ``content`` is sealed JSON
    (schemas_statements.DraftContent) bound to the interview, case and revision.
    """

    __tablename__ = "interview_drafts"

    interview_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"))
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    saved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class StatementVersion(Base):
    """A confirmed statement version: read back to the interviewee, confirmed by them, and kept as it was.

    Rows are never changed (the application role may only insert and select them); a correction is a new
    version with a reason. ``(interview_id, version)`` is unique, so two confirmations at once cannot take
    the same number: the second is a 409 naming ``version``. ``content`` is sealed JSON
    (schemas_statements.StatementContent) bound to the interview, case and version.
    """

    __tablename__ = "statement_versions"
    __table_args__ = (UniqueConstraint("interview_id", "version"), {"info": {"append_only": True}})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("interviews.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    draft_revision: Mapped[int] = mapped_column(Integer)
    """The draft revision it was made from."""
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    """The account that recorded the interviewee's confirmation."""
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Incident(Base):
    """An incident the person told of in an interview: structured, and sealed but for the counts.

    It belongs to the interview, not to a statement version: incidents are recorded as the person tells
    them, before any version is confirmed, and stay the interview's facts through corrections. ``details``
    is sealed JSON (schemas_statements.IncidentDetails: dates and their precision, place, violation
    types, alleged perpetrators, descriptions of other victims and witnesses) bound to the interview and
    case. Rows are never changed.
    """

    __tablename__ = "incidents"
    __table_args__ = ({"info": {"append_only": True}},)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("interviews.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"))
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    other_victims: Mapped[int | None] = mapped_column(Integer, default=None)
    witnesses: Mapped[int | None] = mapped_column(Integer, default=None)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[bytes] = mapped_column(LargeBinary)


class InterviewReconfirmation(Base):
    """The interviewee's end-of-interview reconfirmation of their use grants, after the statement was read back.

    ``outcome`` is ``confirmed`` (the grants stand as recorded), ``narrowed`` (a new version of one record,
    with grants removed or lowered: ``consent_id``) or ``first`` (their first grants: ``consent_id``).
    ``interview_state`` is the state when it was recorded: one recorded while the interview stands at
    ``stopped_by_interviewee`` is the later reconfirmation that allows use again. ``details`` is sealed JSON
    (the records confirmed, and notes) bound to the clear columns. Rows are never changed.
    """

    __tablename__ = "interview_reconfirmations"
    __table_args__ = ({"info": {"append_only": True}},)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("interviews.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"))
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    interview_state: Mapped[str] = mapped_column(String(32))
    consent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("use_consents.id"), default=None)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[bytes] = mapped_column(LargeBinary)


class Redaction(Base):
    """A redacted version of one confirmed statement version: what a de-identified export may send of it.

    A documenter on the case team prepares it; a custodian reviews it before an export sends it. ``content``
    is sealed JSON (schemas_redactions.RedactionContent: the statement's text and answers with parts removed)
    under the person's data key, bound to the interview, the statement version, the case and ``number``.
    What was removed is never stored: it is the statement itself. Rows are never changed: a later redaction
    of the same statement version is the next ``number`` and supersedes the one before, which is kept.
    ``(statement_version_id, number)`` is unique, so two redactions at once cannot take the same number.
    """

    __tablename__ = "redactions"
    __table_args__ = (UniqueConstraint("statement_version_id", "number"), {"info": {"append_only": True}})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    statement_version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("statement_versions.id"))
    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("interviews.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    """1 for the first redaction of the statement version, then one more for each that supersedes it."""
    prepared_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content: Mapped[bytes] = mapped_column(LargeBinary)
