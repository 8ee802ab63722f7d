"""Wrapped data keys and the sealing state. The database never holds a KEK, root or signing key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class DataKey(Base):
    """One data key per subject (a person, or a service subject such as TOTP secrets)."""

    __tablename__ = "data_keys"

    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SealState(Base):
    """One row: whether values sealed before AAD v2 (format 0x01) may still be opened.

    True from the upgrade until `testimony keys reseal` has re-sealed every such value;
    a database made empty by this version starts false. Whoever can write the database
    can set it back: it narrows what the service accepts, it is not a key.
    """

    __tablename__ = "seal_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    accept_v1: Mapped[bool] = mapped_column(Boolean)
    resealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class KeyJob(Base):
    """A KEK rotation or a re-wrap started from the Keys page, run by a worker (``app.keys.rotation``).

    Its row in ``export_jobs`` (same id, kind ``keys``) holds the lease and the fencing token; this row holds
    what the page shows: the operation, the primary KEK the admin saw when starting it, the progress and the
    outcome. Ids and numbers only.
    """

    __tablename__ = "key_jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("export_jobs.id"), primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))
    """rotate or rewrap."""
    kek_from: Mapped[int] = mapped_column(Integer)
    """The primary KEK when the job was started: a rotation makes a new one only while this is still primary."""
    kek_to: Mapped[int | None] = mapped_column(Integer, default=None)
    total: Mapped[int | None] = mapped_column(Integer, default=None)
    """Data keys to re-wrap, once the worker counted them."""
    done: Mapped[int] = mapped_column(Integer, default=0)
    unreadable: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[str | None] = mapped_column(String(200), default=None)
    """The KEK versions retired at the end, comma-separated."""
    requested_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
