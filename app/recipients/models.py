"""Registered recipients, and the deny-list's versions.

Recipients are organisations, not survivors: their fields are stored in the clear (SECURITY.md),
and never logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class Recipient(Base):
    __tablename__ = "recipients"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    recipient_class: Mapped[str] = mapped_column(String(48), index=True)
    """A RecipientClass of the consent vocabulary."""
    jurisdiction: Mapped[str] = mapped_column(String(16))
    """An ISO 3166-1 alpha-2 code, or ``international``."""
    names: Mapped[list[str]] = mapped_column(JSON)
    """Its name first, then the other names and aliases it is known by."""
    age_recipient: Mapped[str | None] = mapped_column(String(100), default=None)
    """The age X25519 recipient (``age1...``) its bundles are encrypted to, if it has one."""
    recall_contact: Mapped[str] = mapped_column(String(1000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    """The admin who asked for it (the second admin is on the confirmation); none from the command line."""


class DenyListVersion(Base):
    """One version of the deny-list, never changed once written: the current list is the highest version."""

    __tablename__ = "deny_list_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """1, 2, 3...; two changes made from the same version cannot both be written."""
    recipient_ids: Mapped[list[str]] = mapped_column(JSON)
    jurisdictions: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    confirmation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("confirmations.id"), default=None)
    """The two-admin request it came from, which names who confirmed it; none from the command line."""
