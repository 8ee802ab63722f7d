"""Every model, imported in one place so metadata is complete for Alembic and tests."""

from app.access.models import ApiToken, AuthFailure, BrowserSession, CaseMember, Confirmation, RecoveryCode, User
from app.audit.models import AuditCheckpoint, AuditEvent
from app.cases.models import Case
from app.consent.models import ParticipationConsent
from app.core.db import Base
from app.keys.models import DataKey, SealState
from app.people.models import BlindIndexEntry, DuplicateReview, Person

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "AuthFailure",
    "Base",
    "BlindIndexEntry",
    "BrowserSession",
    "Case",
    "CaseMember",
    "Confirmation",
    "DataKey",
    "DuplicateReview",
    "ParticipationConsent",
    "Person",
    "RecoveryCode",
    "SealState",
    "User",
]
