"""Wire shapes for accounts, sessions, tokens, 2FA and confirmations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.access.principal import TokenScope
from app.access.roles import Role
from app.core.schemas import Input, NonBlank, Output

Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class LoginRequest(Input):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Password
    totp: Code | None = None
    recovery_code: Code | None = None
    token: bool = False


class TokenCreate(Input):
    name: Annotated[NonBlank, StringConstraints(max_length=80)]
    scope: TokenScope = TokenScope.READ
    expires_in_days: int = Field(default=30, ge=1, le=90)


class TokenRead(Output):
    id: uuid.UUID
    name: str
    scope: TokenScope
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str
    """Shown once; only its hash is stored."""


class MeRead(Output):
    id: uuid.UUID
    username: str
    display_name: str
    roles: list[Role]
    totp_enabled: bool
    must_enrol_totp: bool
    must_change_password: bool
    case_ids: list[uuid.UUID]
    csrf_token: str | None = None
    """For browser sessions: send it as X-CSRF-Token on every unsafe request."""


class LoginResult(Output):
    user: MeRead
    token: TokenCreated | None = None


class PasswordChange(Input):
    current_password: Password
    new_password: Password


class TotpEnrolment(Output):
    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpCode(Input):
    code: Code


class SecondFactor(Input):
    totp: Code | None = None
    recovery_code: Code | None = None


class RecoveryCodes(Output):
    recovery_codes: list[str]
    csrf_token: str | None = None


class StepUpResult(Output):
    second_factor_at: datetime
    csrf_token: str | None = None


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


class ConfirmationRead(Output):
    id: uuid.UUID
    action: str
    target_id: uuid.UUID
    payload: dict[str, object]
    requested_by: uuid.UUID
    created_at: datetime
    expires_at: datetime
    status: Literal["pending", "confirmed", "rejected", "expired", "void"]
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    one_time_password_half: str | None = None
    """Only in the answer to the admin who confirms an account or a password reset: the second
    half of the one-time password, shown once. The owner types the first half, then this one."""


class UserChange(Output):
    """The user as it is now, and the confirmation a second admin must give, if any."""

    user: UserRead
    one_time_password: str | None = None
    """Only from the command line: the whole one-time password."""
    one_time_password_half: str | None = None
    """Through the API: the first half, for the requesting admin; a second admin's confirmation
    reveals the second half to that admin alone."""
    pending_confirmation: ConfirmationRead | None = None


class ConfirmationDecision(Input):
    decision: Literal["confirm", "reject"]
    """Said explicitly: an empty body never confirms."""
