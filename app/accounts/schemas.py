"""Wire shapes for accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.access.roles import Role
from app.confirmations.schemas import ConfirmationRead
from app.core.schemas import Input, NonBlank, Output

Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]


class UserCreate(Input):
    username: Username
    display_name: Annotated[NonBlank, StringConstraints(max_length=120)]
    roles: list[Role] = Field(default_factory=list, max_length=5)


class UserUpdate(Input):
    display_name: Annotated[NonBlank, StringConstraints(max_length=120)] | None = None
    roles: list[Role] | None = Field(default=None, max_length=5)
    active: bool | None = None


class UserRead(Output):
    id: uuid.UUID
    username: str
    display_name: str
    roles: list[Role]
    active: bool
    totp_enabled: bool
    created_at: datetime


class UserChange(Output):
    """The user as it is now, and the confirmation a second admin must give, if any."""

    user: UserRead
    one_time_password: str | None = None
    """Only from the command line: the whole one-time password."""
    one_time_password_half: str | None = None
    """Through the API: the first half, for the requesting admin; a second admin's confirmation
    reveals the second half to that admin alone."""
    pending_confirmation: ConfirmationRead | None = None
