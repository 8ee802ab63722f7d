"""The append-only event log and its signed checkpoints.

Each event's stored bytes are its RFC 8785 canonical JSON; the other columns are
derived from those bytes for querying, and the verifier checks they agree.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_case_seq", "case_id", "seq"),
        Index("ix_audit_events_actor_seq", "actor", "seq"),
        {"info": {"append_only": True}},
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    actor_roles: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(48), index=True)
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64), index=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    purpose: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(8), index=True)
    status: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(64))
    credential: Mapped[str | None] = mapped_column(String(48), default=None)
    claimed_credential: Mapped[str | None] = mapped_column(String(48), default=None)
    new_credential: Mapped[str | None] = mapped_column(String(48), default=None)


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"
    __table_args__ = ({"info": {"append_only": True}},)

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
