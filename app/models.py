"""Every model, imported in one place so metadata is complete for Alembic and tests.

Importing the services registers their two-person kinds of request."""

from app.access.models import ApiToken, AuthFailure, BrowserSession, CaseMember, RecoveryCode, User
from app.accounts import service as _accounts  # noqa: F401 - registers its confirmation kinds
from app.audit.models import AuditCheckpoint, AuditEvent
from app.cases import service as _cases  # noqa: F401 - registers its confirmation kinds
from app.cases.models import Case
from app.confirmations.models import Confirmation
from app.consent.grant_models import ConsentInvalidation, ConsentWithdrawal, ErasureRequest, UseConsent
from app.consent.models import ParticipationConsent
from app.core.db import Base
from app.erasure import holds as _holds  # noqa: F401 - registers its confirmation kind
from app.erasure import service as _erasure_service  # noqa: F401 - registers its confirmation kind
from app.exports import approval as _exports  # noqa: F401 - registers its confirmation kind
from app.exports import erasure as _erasure  # noqa: F401 - registers its erasure listener
from app.exports import recalls as _recalls  # noqa: F401 - registers its consent-change listener
from app.exports.models import (
    DisclosureEntry,
    DisclosureFeedback,
    ExportApproval,
    ExportJob,
    ExportRequest,
    RecallNotice,
)
from app.interviews.models import (
    Attachment,
    AttachmentUpload,
    CustodyCommitment,
    FeedbackTask,
    Interview,
    InterviewInterviewer,
    InterviewReconfirmation,
)
from app.keys.models import DataKey, KeyJob, SealState
from app.people.models import BlindIndexEntry, DuplicateReview, ErasedPerson, LegalHold, Person
from app.recipients import deny_list as _deny_list  # noqa: F401 - registers its confirmation kind
from app.recipients import service as _recipients  # noqa: F401 - registers its confirmation kinds
from app.recipients.models import DenyListVersion, Recipient
from app.retention.models import RetentionReview

__all__ = [
    "ApiToken",
    "Attachment",
    "AttachmentUpload",
    "AuditCheckpoint",
    "AuditEvent",
    "AuthFailure",
    "Base",
    "BlindIndexEntry",
    "BrowserSession",
    "Case",
    "CaseMember",
    "Confirmation",
    "ConsentInvalidation",
    "ConsentWithdrawal",
    "CustodyCommitment",
    "DataKey",
    "DenyListVersion",
    "DisclosureEntry",
    "DisclosureFeedback",
    "DuplicateReview",
    "ErasedPerson",
    "ErasureRequest",
    "ExportApproval",
    "ExportJob",
    "ExportRequest",
    "FeedbackTask",
    "Interview",
    "InterviewInterviewer",
    "InterviewReconfirmation",
    "KeyJob",
    "LegalHold",
    "ParticipationConsent",
    "Person",
    "RecallNotice",
    "Recipient",
    "RecoveryCode",
    "RetentionReview",
    "SealState",
    "UseConsent",
    "User",
]
