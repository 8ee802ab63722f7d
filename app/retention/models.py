"""A custodian's review of one item coming due: delete it when due, or keep it (with a reason)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class RetentionReview(Base):
    """One item (a person's data category, due on a date) as a custodian decided it. An item with no row is
    unreviewed, and the run keeps it. A changed due date (an amended consent) is a new item, reviewed again."""

    __tablename__ = "retention_reviews"
    __table_args__ = (UniqueConstraint("person_id", "category", "due_on"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"))
    category: Mapped[str] = mapped_column(String(40))
    due_on: Mapped[date] = mapped_column(Date)
    decision: Mapped[str] = mapped_column(String(16))
    """``delete`` (reviewed: the run deletes it once due) or ``keep``."""
    reason: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Why it is kept: sealed under the service key, bound to the row, never shown or logged."""
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the run deleted the item."""
