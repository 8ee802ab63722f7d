"""Wire shapes for cases and teams."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from app.confirmations.schemas import ConfirmationRead
from app.core.schemas import Input, NonBlank, Output


class CaseCreate(Input):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
    title: Annotated[NonBlank, StringConstraints(max_length=200)]


class CaseRead(Output):
    id: uuid.UUID
    code: str
    title: str
    created_at: datetime


class MemberAdd(Input):
    user_id: uuid.UUID


class MemberRead(Output):
    case_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    display_name: str
    added_at: datetime


class MemberChange(Output):
    member: MemberRead | None = None
    pending_confirmation: ConfirmationRead | None = None
