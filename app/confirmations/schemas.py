"""Wire shapes of two-person confirmations."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from app.core.schemas import Input, Output


class Status(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    VOID = "void"


class Person(Output):
    """A staff member as people see them where they act: name first, id for reference."""

    id: uuid.UUID
    username: str
    display_name: str


class ConfirmationRead(Output):
    id: uuid.UUID
    action: str
    target_id: uuid.UUID
    payload: dict[str, object]
    requested_by: uuid.UUID
    requester: Person | None = None
    """Who asked."""
    target_user: Person | None = None
    """The account the request changes (a new account, a role change, a team member)."""
    case_code: str | None = None
    """The case, for team requests."""
    roles: list[str] | None = None
    """The roles asked for, where the request is about roles."""
    created_at: datetime
    expires_at: datetime
    status: Status
    decided_by: uuid.UUID | None
    decider: Person | None = None
    decided_at: datetime | None
    one_time_password_half: str | None = None
    """Only in the answer to the admin who confirms an account or a password reset: the second
    half of the one-time password, shown once. The owner types the first half, then this one."""


class ConfirmationPage(Output):
    items: list[ConfirmationRead]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last."""


class ConfirmationDecision(Input):
    decision: Literal["confirm", "reject"]
    """Said explicitly: an empty body never confirms."""
