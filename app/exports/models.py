"""Export requests, their approvals, their build jobs and the disclosure ledger.

The request's clear columns are what lists, the policy and the job need (status, scope, purpose, recipient,
level, who asked); the justification is sealed under the service key and never logged. ``revision`` is raised
by every change of status, which is made by a conditional UPDATE naming the revision read.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class ExportRequest(Base):
    __tablename__ = "export_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    """An ExportStatus: requested, awaiting_second_approval, approved, building, ready, failed, stale, rejected."""
    revision: Mapped[int] = mapped_column(Integer, default=1)
    case_ids: Mapped[list[str]] = mapped_column(JSON)
    person_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    interviewed_from: Mapped[date | None] = mapped_column(Date, default=None)
    interviewed_to: Mapped[date | None] = mapped_column(Date, default=None)
    violation_types: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    purpose: Mapped[str] = mapped_column(String(48))
    recipient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("recipients.id"), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON)
    max_disclosure_level: Mapped[str] = mapped_column(String(32))
    justification: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed under the service key, bound to the row: why the recipient needs this."""
    requester_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    """The legal user who asked: only they read it among the case-scoped roles (policy.load)."""
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approvals_needed: Mapped[int] = mapped_column(Integer)
    """1, or 2 when named identity or any recording or photo of the person may leave."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    people_count: Mapped[int | None] = mapped_column(Integer, default=None)
    """After a build: how many people are in the ledger."""
    excluded_count: Mapped[int | None] = mapped_column(Integer, default=None)
    level_counts: Mapped[dict[str, int] | None] = mapped_column(JSON, default=None)
    failure: Mapped[str | None] = mapped_column(String(200), default=None)
    """A generic reason for a failed build (never data)."""
    bundle_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """After a build that wrote a bundle: the size of what the recipient receives (the ZIP, or its age encryption)."""
    bundle_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    """Its SHA-256: the requester compares the download with it."""
    bundle_manifest_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    """The SHA-256 of the signed manifest inside it."""
    bundle_encrypted: Mapped[bool | None] = mapped_column(Boolean, default=None)
    """Whether it is encrypted to the recipient's age key."""
    downloads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Downloads of the bundle so far, raised by one conditional UPDATE each (app/exports/download.py)."""
    copy_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("export_requests.id"), default=None)
    """A request made again from a stale export names it."""
    bundle_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the bundle sweeper deleted the bundle of a ready export whose downloads were used up or whose
    download period ended (``app.exports.expiry``)."""


class ExportApproval(Base):
    """One custodian's decision on a request: approve or reject, with their reason."""

    __tablename__ = "export_approvals"
    __table_args__ = (UniqueConstraint("export_id", "decided_by"), {"info": {"append_only": True}})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    export_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("export_requests.id"), index=True)
    decided_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    """approve or reject."""
    reason: Mapped[str | None] = mapped_column(String(2000), default=None)
    """Only a reason written before reasons were sealed, until ``testimony init`` seals it (app/exports/reasons.py)."""
    sealed_reason: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """The custodian's reason, sealed under the service key, bound to the export, the custodian and the decision."""
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExportJob(Base):
    """A build waiting for, or held by, a worker.

    A worker claims it by taking the lease (``lease_owner``, ``lease_expires_at``) and raising ``fencing``;
    every write the build makes is conditional on ``fencing`` still being the one it claimed, so a worker
    whose lease was taken over can no longer write.

    ``kind`` says what the job does: an export's build (``export_id`` names it), or a key operation of
    ``app.keys.rotation`` (a KEK rotation or a re-wrap, described by its ``key_jobs`` row). At most one key
    job is queued or running at a time: the partial unique index refuses a second.
    """

    __tablename__ = "export_jobs"
    __table_args__ = (
        Index(
            "uq_export_jobs_one_key_job",
            "kind",
            unique=True,
            sqlite_where=text("kind = 'keys' AND state IN ('queued', 'running')"),
            postgresql_where=text("kind = 'keys' AND state IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="export", server_default="export")
    """export or keys (a JobKind)."""
    export_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("export_requests.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    """queued, running, done, failed."""
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    fencing: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DisclosureEntry(Base):
    """One person in one built export: what went, under which grants, to whom, at which level.

    The answer to a survivor's "where did my data go?". ``code`` is the person's opaque id in this export
    only; it names nothing else.
    """

    __tablename__ = "disclosure_ledger"
    __table_args__ = (UniqueConstraint("export_id", "person_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    export_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("export_requests.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    recipient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("recipients.id"))
    categories: Mapped[list[str]] = mapped_column(JSON)
    grant_ids: Mapped[list[str]] = mapped_column(JSON)
    level: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The database clock at which decide() allowed it."""
    submitted_to_proceedings: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_reason: Mapped[str | None] = mapped_column(String(2000), default=None)
    """Only a reason written before reasons were sealed, until ``testimony init`` seals it (app/exports/reasons.py)."""
    sealed_submitted_reason: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Why a custodian marked the row submitted to proceedings (with a fresh second factor; never undone), sealed
    under the person's key: their erasure makes it unreadable. None for a person erased before it was marked."""
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    record_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The person's per-export record id in the bundle (``records.csv``'s ``record``, ``consent/<record>.json``),
    set when the bundle is written: what a recall notice names. None when the person left only as counts
    (``aggregate_only``), or was dropped from the bundle by the quasi-identifier check."""


class RecallNotice(Base):
    """A change of consent that now denies what a downloaded export carried: the recipient is to be asked to
    return or destroy the person's records (or, once submitted to proceedings, asked to withdraw them).

    One per ledger row; ``state`` moves ``open -> sent -> acknowledged`` by conditional UPDATEs.
    """

    __tablename__ = "recall_notices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    ledger_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("disclosure_ledger.id"), unique=True)
    export_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("export_requests.id"), index=True)
    recipient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("recipients.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    requester_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    """The legal user who asked for the export: they see its notices (policy.load)."""
    state: Mapped[str] = mapped_column(String(16), index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DisclosureFeedback(Base):
    """A survivor to be told, through their safe channel, that an export carrying them was approved or is
    being recalled. The owner is a documenter on the person's case team; the outcome is recorded, or the task
    closes at once as ``not_contactable`` when the person refused re-contact (or never agreed to it)."""

    __tablename__ = "disclosure_feedback"
    __table_args__ = (UniqueConstraint("export_id", "person_id", "reason"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    export_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("export_requests.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    recall_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("recall_notices.id"), default=None)
    reason: Mapped[str] = mapped_column(String(16))
    """approval or recall."""
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    """A documenter on the case team (None when the team has none: a custodian must assign one)."""
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), index=True)
    """open, informed, not_reached, not_contactable."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)


class RedactionReview(Base):
    """A custodian read, for this export, the redacted text of a statement it would send at ``deidentified``
    (``GET /api/v1/exports/{id}/review``). Approving needs one for every redaction the export uses, by the
    custodian who approves."""

    __tablename__ = "export_redaction_reviews"
    __table_args__ = ({"info": {"append_only": True}},)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    export_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("export_requests.id"), index=True)
    redaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("redactions.id"), index=True)
    reviewed_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RedactionPin(Base):
    """The redaction an approved export sends as a statement version's narrative at ``deidentified``: fixed by
    the approval that let the export go, after every approving custodian reviewed it. The build sends it and
    never a later one; a statement version with no pin sends no narrative."""

    __tablename__ = "export_redaction_pins"
    __table_args__ = (UniqueConstraint("export_id", "statement_version_id"), {"info": {"append_only": True}})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    export_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("export_requests.id"), index=True)
    statement_version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("statement_versions.id"))
    redaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("redactions.id"))
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime)
