"""Wire shapes for logging in, sessions, tokens and second factors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.access.principal import TokenScope
from app.access.roles import Role
from app.core.schemas import Input, NonBlank, Output

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
