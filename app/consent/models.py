"""Participation consent: one row per version; earlier versions are kept."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class ParticipationConsent(Base):
    __tablename__ = "participation_consents"
    __table_args__ = (UniqueConstraint("person_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    allows_collection: Mapped[bool] = mapped_column(Boolean)
    """Derived when recorded: whether identity and statements may be collected under this version."""
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    text_sha256: Mapped[str] = mapped_column(String(64))
    form_digest: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(24))
    obtained_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    obtained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON: decisions, teach-back, interpreter, minor, re-contact, code word, place, witness."""
