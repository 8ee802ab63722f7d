"""An interview with one person, under the participation consent it was taken with; the custody
commitments of what is kept from interviews."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class Interview(Base):
    """The clear columns are what lists, access and the state machine need; everything else is sealed.

    ``case_id`` is the person's case, kept here so access is decided on the row (policy.load) and
    bound into the sealed details; ``participation_id`` is the consent version it was taken under.
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
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON under the person's data key: place, interviewers, gender preferences, checklist..."""


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
