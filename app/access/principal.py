"""Who is acting: resolved once per request, never an ORM row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.access.roles import Role


class Via(StrEnum):
    SESSION = "session"
    TOKEN = "token"  # noqa: S105 - a name, not a secret
    SYSTEM = "system"


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID | None
    roles: frozenset[Role]
    case_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    via: Via = Via.SESSION
    session_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    token_scope: TokenScope | None = None
    second_factor_at: datetime | None = None
    must_enrol_totp: bool = False
    """Logged in with a password only while 2FA is required: may only enrol."""
    must_change_password: bool = False
    """Logged in with a one-time password: may only choose a new one."""
    label: str = ""

    @classmethod
    def system(cls, label: str = "cli") -> Principal:
        """The CLI operator, acting with shell access on the server."""
        return cls(user_id=None, roles=frozenset(), via=Via.SYSTEM, label=label)

    @property
    def is_system(self) -> bool:
        return self.via is Via.SYSTEM

    @property
    def actor(self) -> str:
        return f"system:{self.label}" if self.is_system else f"user:{self.user_id}"


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as far as authentication cares."""

    address: str
    method: str = "GET"
    csrf_header: str | None = None
