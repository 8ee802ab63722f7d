"""The field-to-category table: every sealed field belongs to exactly one data category.

A field is named by its table, its sealed column and its path in the sealed JSON document, with dots
for nested objects. A list of records is one field unless its parts are listed. A field missing from
this table never leaves the service: the export filter and ``decide()`` look fields up here and never
guess. ``tests/consent/test_categories.py`` walks the schema of every sealed column and fails on a
field that is not here, and on an entry that names no field.

It lives in app/consent, beside the vocabulary the categories come from and where use grants and
``decide()`` will read it, and it imports no domain: every domain that seals (people, interviews and
what follows them) sits above consent, so each can be listed here without an import going upwards.

The rule when a field could belong to two categories: the more protective one. A value that can
reveal sexual or gender-based violence (the incident types to be discussed, whether care for it is
available) is ``narrative_sexual_violence``; a free-text reason for a break, a referral and distress
observed are ``health``; an exact age is ``identity``, like a date of birth.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.consent.vocabulary import DataCategory as C

Field = tuple[str, str, str]
"""(table, sealed column, path in the sealed document)."""

_PEOPLE: dict[Field, C] = {
    ("people", "identity", "full_name"): C.IDENTITY,
    ("people", "identity", "other_names"): C.IDENTITY,
    ("people", "identity", "date_of_birth"): C.IDENTITY,
    ("people", "identity", "age_years"): C.IDENTITY,
    ("people", "identity", "sex_gender"): C.DEMOGRAPHICS,
    ("people", "identity", "languages"): C.DEMOGRAPHICS,
    ("people", "identity", "place_of_origin"): C.ORIGIN_PLACE,
    ("people", "contact", "channel"): C.CONTACT,
    ("people", "contact", "phone_owner"): C.CONTACT,
    ("people", "contact", "may_leave_messages"): C.CONTACT,
    ("people", "contact", "safe_times"): C.CONTACT,
    ("people", "contact", "if_someone_else_answers"): C.CONTACT,
    ("people", "contact", "expires_on"): C.CONTACT,
    ("people", "contact", "value"): C.CONTACT,
}

_INTERVIEWS: dict[Field, C] = {
    # Where the interview took place can show where a displaced person now lives.
    ("interviews", "details", "place"): C.CURRENT_LOCATION,
    ("interviews", "details", "gender_preference"): C.INTERVIEW_METADATA,
    ("interviews", "details", "checklist.private_setting"): C.INTERVIEW_METADATA,
    ("interviews", "details", "checklist.accompanied_by"): C.INTERVIEW_METADATA,
    ("interviews", "details", "checklist.referral_available_locally"): C.INTERVIEW_METADATA,
    ("interviews", "details", "checklist.prior_statements"): C.INTERVIEW_METADATA,
    ("interviews", "details", "checklist.justification"): C.NARRATIVE_GENERAL,
    ("interviews", "details", "checklist.incident_types"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("interviews", "details", "checklist.care_available_locally"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("interviews", "details", "checklist.completed_at"): C.INTERVIEW_METADATA,
    ("interviews", "details", "checklist.completed_by"): C.INTERVIEW_METADATA,
    ("interviews", "details", "breaks.started_at"): C.INTERVIEW_METADATA,
    ("interviews", "details", "breaks.ended_at"): C.INTERVIEW_METADATA,
    ("interviews", "details", "breaks.reason"): C.HEALTH,
    ("interviews", "details", "distress_observed"): C.HEALTH,
    ("interviews", "details", "referrals"): C.HEALTH,
    ("interviews", "details", "feedback"): C.INTERVIEW_METADATA,
    ("interviews", "details", "reconfirmation.confirmed"): C.INTERVIEW_METADATA,
    ("interviews", "details", "reconfirmation.at"): C.INTERVIEW_METADATA,
    ("interviews", "details", "reconfirmation.recorded_by"): C.INTERVIEW_METADATA,
    ("interviews", "details", "reconfirmation.notes"): C.NARRATIVE_GENERAL,
    ("interviews", "details", "reconfirmation.outcome"): C.INTERVIEW_METADATA,
    ("interviews", "details", "reconfirmation.consent_ids"): C.INTERVIEW_METADATA,
}

# An attachment's own bytes belong to the category in its clear ``category`` column; these are the facts
# sealed beside them. A file name can carry a person's name, so it takes the most protective category.
_ATTACHMENTS: dict[Field, C] = {
    ("attachments", "content", "sha256"): C.INTERVIEW_METADATA,
    ("attachments", "content", "size"): C.INTERVIEW_METADATA,
    ("attachments", "content", "file_name"): C.IDENTITY,
}

# Drafts and statements: the testimony itself. Free text and answers can tell of sexual violence at any
# point, and the table never guesses from content, so they take the most protective narrative category.
_STATEMENTS: dict[Field, C] = {
    ("interview_drafts", "content", "guide"): C.INTERVIEW_METADATA,
    ("statement_versions", "content", "guide"): C.INTERVIEW_METADATA,
    ("interview_drafts", "content", "text"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("interview_drafts", "content", "answers"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("statement_versions", "content", "text"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("statement_versions", "content", "answers"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("statement_versions", "content", "read_back_in"): C.INTERVIEW_METADATA,
    ("statement_versions", "content", "confirmed_by_interviewee"): C.INTERVIEW_METADATA,
    ("statement_versions", "content", "reason"): C.NARRATIVE_GENERAL,
    # A redacted version is still the testimony: what was removed never decides its category.
    ("redactions", "content", "text"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("redactions", "content", "answers"): C.NARRATIVE_SEXUAL_VIOLENCE,
}

# Incidents. A violation type such as sexual violence is itself sensitive, so the list of types takes that
# category; where and when it happened are part of the narrative (not where the person comes from or lives).
_INCIDENTS: dict[Field, C] = {
    ("incidents", "details", "date"): C.NARRATIVE_GENERAL,
    ("incidents", "details", "place"): C.NARRATIVE_GENERAL,
    ("incidents", "details", "violation_types"): C.NARRATIVE_SEXUAL_VIOLENCE,
    ("incidents", "details", "perpetrators"): C.ALLEGED_PERPETRATORS,
    ("incidents", "details", "other_victims_description"): C.THIRD_PARTY_INFO,
    ("incidents", "details", "witnesses_description"): C.THIRD_PARTY_INFO,
}

FIELD_CATEGORIES: Mapping[Field, C] = MappingProxyType(
    {**_PEOPLE, **_INTERVIEWS, **_ATTACHMENTS, **_STATEMENTS, **_INCIDENTS}
)

NOT_FIELDS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("participation_consents", "details"): (
            "the consent record: it leaves only as the person's consent receipt, filtered to the grants relied on"
        ),
        ("use_consents", "details"): (
            "a use-consent record: it leaves only as the person's consent record or receipt, filtered to the "
            "grants relied on"
        ),
        ("consent_withdrawals", "details"): "a withdrawal's scope and reason: part of the consent record",
        ("consent_invalidations", "details"): "why a custodian found a consent record invalid: never leaves",
        ("interview_reconfirmations", "details"): "the records an interviewee reconfirmed: part of the consent record",
        ("users", "totp_secret"): "a staff member's second-factor secret, never anyone's data",
        ("confirmations", "secret"): "the second half of a one-time password, shown once to one admin",
        ("attachment_uploads", "details"): "an upload under way; it becomes an attachment or expires, and never leaves",
        ("export_requests", "justification"): (
            "why a legal team asks for an export: staff's reasoning for the custodians, never anyone's data, never "
            "in a bundle"
        ),
        ("export_approvals", "sealed_reason"): (
            "why a custodian approved or rejected an export: staff's reasoning, sealed under the service key, "
            "never in a bundle"
        ),
        ("disclosure_ledger", "sealed_submitted_reason"): (
            "why a custodian marked a person's records in an export submitted to proceedings: staff's words about "
            "one person, sealed under their key (it goes with their erasure), never in a bundle"
        ),
        ("retention_reviews", "reason"): (
            "why a custodian keeps an item past its retention date: staff's reasoning, sealed under the service key, "
            "never shown or logged"
        ),
        ("erasure_requests", "details"): (
            "why a custodian asked for an erasure or refused one: staff's reasoning, sealed under the service key, "
            "never in a bundle"
        ),
        ("legal_holds", "details"): (
            "a legal hold's reason and proceedings reference: staff's record, sealed under the person's key (erased "
            "with them), never in a bundle"
        ),
        ("legal_holds", "lift_details"): "why a legal hold was lifted: sealed like the hold, never in a bundle",
        ("custody_commitments", "sealed"): (
            "a custody salt and digest: they leave only in a custody proof, which holds no content"
        ),
    }
)
"""Sealed columns that hold no exportable fields, and why."""


def category_of(table: str, column: str, path: str) -> C | None:
    """The category of a sealed field; None for a field the table does not know, which never leaves."""
    return FIELD_CATEGORIES.get((table, column, path))
