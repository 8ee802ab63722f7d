"""Every model, imported in one place so metadata is complete for Alembic and tests."""

from app.access.models import ApiToken, AuthFailure, BrowserSession, Confirmation, RecoveryCode, User
from app.audit.models import AuditCheckpoint, AuditEvent
from app.cases.models import Case, CaseMember
from app.db import Base
from app.keys.models import DataKey

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "AuthFailure",
    "Base",
    "BrowserSession",
    "Case",
    "CaseMember",
    "Confirmation",
    "DataKey",
    "RecoveryCode",
    "User",
]
