"""The closed vocabularies of the audit log: actions, purposes and outcomes."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"
    STARTED = "started"
    """A long operation began; its outcome follows in a later event."""


class Purpose(StrEnum):
    SERVICE = "service"
    AUTHENTICATION = "authentication"
    ACCOUNT_ADMINISTRATION = "account_administration"
    CASE_ADMINISTRATION = "case_administration"
    DOCUMENTATION = "documentation"
    CONSENT = "consent"
    OVERSIGHT = "oversight"
    KEY_MANAGEMENT = "key_management"


class AuditAction(StrEnum):
    AUTH_LOGIN = "auth.login"
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_LOGOUT = "auth.logout"
    AUTH_STEP_UP = "auth.step_up"
    TOKEN_CREATE = "token.create"
    TOKEN_LIST = "token.list"
    TOKEN_REVOKE = "token.revoke"
    ME_READ = "me.read"
    PASSWORD_CHANGE = "me.password_change"
    TOTP_ENROL = "me.totp_enrol"
    TOTP_CONFIRM = "me.totp_confirm"
    USER_LIST = "user.list"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_REVOKE = "user.revoke_sessions"
    USER_RESET_2FA = "user.reset_2fa"
    USER_RESET_PASSWORD = "user.reset_password"
    CONFIRMATION_LIST = "confirmation.list"
    CONFIRMATION_DECIDE = "confirmation.decide"
    CASE_CREATE = "case.create"
    CASE_LIST = "case.list"
    CASE_READ = "case.read"
    CASE_MEMBERS_READ = "case.members_read"
    CASE_MEMBER_ADD = "case.member_add"
    CASE_MEMBER_REMOVE = "case.member_remove"
    AUDIT_READ = "audit.read"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_EXPORT = "audit.export"
    KEYS_STATUS = "keys.status"
    KEYS_ROTATE = "keys.rotate"
    KEYS_PROTECT = "keys.protect"
    KEYS_PRUNE = "keys.prune"
    KEYS_REWRAP = "keys.rewrap"
    KEYS_RESEAL = "keys.reseal"
    KEYS_ROTATE_START = "keys.rotate_start"
    """An admin queued a KEK rotation from the Keys page (the worker records ``keys.rotate``)."""
    KEYS_REWRAP_START = "keys.rewrap_start"
    """An admin queued a re-wrap from the Keys page (the worker records ``keys.rewrap``)."""
    KEYS_ROTATE_SIGNING = "keys.rotate_signing"
    FORMS_READ = "forms.read"
    PERSON_CREATE = "person.create"
    PERSON_READ = "person.read"
    PERSON_LIST = "person.list"
    PERSON_UPDATE = "person.update"
    CONSENT_RECORD = "consent.record"
    CONSENT_READ = "consent.read"
    CONSENT_WITHDRAW = "consent.withdraw"
    CONSENT_AMEND = "consent.amend"
    CONSENT_INVALIDATE = "consent.invalidate"
    CONSENT_RECONFIRM = "consent.reconfirm"
    CONSENT_LOOKUP = "consent.lookup"
    CONSENT_LOOKUP_LOCKED = "consent.lookup_locked"
    """A lookup refused because its reference (or pseudonym code) spent its failures for the hour."""
    CONSENT_RECEIPT = "consent.receipt"
    DUPLICATE_REVIEW = "duplicate.review"
    DUPLICATE_DECIDE = "duplicate.decide"
    INTERVIEW_CREATE = "interview.create"
    INTERVIEW_LIST = "interview.list"
    INTERVIEW_READ = "interview.read"
    INTERVIEW_UPDATE = "interview.update"
    FEEDBACK_LIST = "feedback.list"
    FEEDBACK_UPDATE = "feedback.update"
    STATEMENT_CONFIRM = "statement.confirm"
    STATEMENT_LIST = "statement.list"
    STATEMENT_READ = "statement.read"
    REDACTION_CREATE = "redaction.create"
    REDACTION_LIST = "redaction.list"
    REDACTION_READ = "redaction.read"
    REDACTION_REVIEW = "redaction.review"
    REDACTION_QUEUE = "redaction.queue"
    REDACTION_WAITING = "redaction.waiting"
    DRAFT_SAVE = "draft.save"
    DRAFT_READ = "draft.read"
    GUIDE_READ = "guide.read"
    INCIDENT_CREATE = "incident.create"
    INCIDENT_LIST = "incident.list"
    INCIDENT_READ = "incident.read"
    ATTACHMENT_UPLOAD = "attachment.upload"
    ATTACHMENT_LIST = "attachment.list"
    ATTACHMENT_READ = "attachment.read"
    ATTACHMENT_DOWNLOAD = "attachment.download"
    ATTACHMENT_UPLOAD_OPEN = "attachment.upload_open"
    ATTACHMENT_UPLOAD_STATUS = "attachment.upload_status"
    ATTACHMENT_UPLOAD_ABANDON = "attachment.upload_abandon"
    CUSTODY_COMMIT = "custody.commit"
    CUSTODY_PROOF = "custody.proof"
    EXPORT_REQUEST = "export.request"
    EXPORT_LIST = "export.list"
    EXPORT_READ = "export.read"
    EXPORT_PREVIEW = "export.preview"
    EXPORT_REVIEW = "export.review"
    EXPORT_APPROVE = "export.approve"
    EXPORT_REJECT = "export.reject"
    EXPORT_BUILD = "export.build"
    EXPORT_DOWNLOAD = "export.download"
    EXPORT_REQUEST_AGAIN = "export.request_again"
    EXPORT_SWEEP = "export.sweep"
    LEDGER_SUBMITTED = "export.ledger_submitted"
    RECALL_LIST = "recall.list"
    RECALL_SENT = "recall.sent"
    RECALL_ACKNOWLEDGED = "recall.acknowledged"
    DISCLOSURE_FEEDBACK_LIST = "disclosure_feedback.list"
    DISCLOSURE_FEEDBACK_OUTCOME = "disclosure_feedback.outcome"
    RETENTION_DUE = "retention.due"
    RETENTION_REVIEW = "retention.review"
    RETENTION_RUN = "retention.run"
    RETENTION_DELETE = "retention.delete"
    RECONSENT_LIST = "reconsent.list"
    LEDGER_READ = "ledger.read"
    DISCLOSURE_REPORT = "disclosure_report.read"
    RECIPIENT_CREATE = "recipient.create"
    RECIPIENT_LIST = "recipient.list"
    RECIPIENT_READ = "recipient.read"
    RECIPIENT_UPDATE = "recipient.update"
    DENY_LIST_READ = "deny_list.read"
    DENY_LIST_UPDATE = "deny_list.update"
    SYSTEM_INIT = "system.init"
    SYSTEM_BACKUP = "system.backup"
    SYSTEM_RESTORE = "system.restore"
    SYSTEM_JOURNAL_VERIFY = "system.journal_verify"
    LEGAL_HOLD_REQUEST = "legal_hold.request"
    LEGAL_HOLD_CONFIRM = "legal_hold.confirm"
    LEGAL_HOLD_LIFT = "legal_hold.lift"
    ERASURE_REQUEST = "erasure.request"
    ERASURE_LIST = "erasure.list"
    ERASURE_CONFIRM = "erasure.confirm"
    ERASURE_REFUSE = "erasure.refuse"


_PURPOSES = {
    "auth": Purpose.AUTHENTICATION,
    "token": Purpose.AUTHENTICATION,
    "me": Purpose.AUTHENTICATION,
    "user": Purpose.ACCOUNT_ADMINISTRATION,
    "confirmation": Purpose.ACCOUNT_ADMINISTRATION,
    "case": Purpose.CASE_ADMINISTRATION,
    "audit": Purpose.OVERSIGHT,
    "keys": Purpose.KEY_MANAGEMENT,
    "system": Purpose.SERVICE,
    "forms": Purpose.CONSENT,
    "consent": Purpose.CONSENT,
    "person": Purpose.DOCUMENTATION,
    "duplicate": Purpose.DOCUMENTATION,
    "statement": Purpose.DOCUMENTATION,
    "draft": Purpose.DOCUMENTATION,
    "redaction": Purpose.DOCUMENTATION,
    "incident": Purpose.DOCUMENTATION,
    "guide": Purpose.DOCUMENTATION,
    "attachment": Purpose.DOCUMENTATION,
    "interview": Purpose.DOCUMENTATION,
    "feedback": Purpose.DOCUMENTATION,
    "custody": Purpose.DOCUMENTATION,
    "export": Purpose.DOCUMENTATION,
    "recall": Purpose.DOCUMENTATION,
    "disclosure_feedback": Purpose.DOCUMENTATION,
    # How long data is kept is part of the consent it was given under; so is asking a minor again as an adult,
    # and telling a survivor where their data went.
    "retention": Purpose.CONSENT,
    "reconsent": Purpose.CONSENT,
    "disclosure_report": Purpose.CONSENT,
    "ledger": Purpose.OVERSIGHT,
    # Who may ever receive anything is part of the consent layer that governs disclosure.
    "recipient": Purpose.CONSENT,
    "deny_list": Purpose.CONSENT,
    # Holding and erasing a survivor's records answer their consent (a withdrawal) or a court's order.
    "legal_hold": Purpose.CONSENT,
    "erasure": Purpose.CONSENT,
}


def purpose_of(action: AuditAction) -> Purpose:
    return _PURPOSES[action.value.split(".", 1)[0]]
