"""Interviewees: a pseudonym code first; identity and contact only after consent, sealed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class Person(Base):
    __tablename__ = "people"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    identity: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Sealed JSON under the person's data key."""
    contact: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Sealed JSON: the safe contact channel (never a current address)."""
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class BlindIndexEntry(Base):
    """HMAC of a normalised name and year of birth: exact-match duplicate detection only."""

    __tablename__ = "person_blind_index"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64), index=True)


class DuplicateReview(Base):
    """Two records that may be the same person, for custodians only; creators are never told."""

    __tablename__ = "duplicate_reviews"
    __table_args__ = (UniqueConstraint("person_a", "person_b"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_a: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"))
    person_b: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
