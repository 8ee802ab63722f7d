"""Wire shapes of the disclosure ledger for auditors and of the survivor's data report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from app.consent.vocabulary import DataCategory, DisclosureLevel
from app.core.schemas import Output


class LedgerRead(Output):
    """One person in one built export, as auditors see it: ids and the per-export code, never content or names."""

    id: uuid.UUID
    export_id: uuid.UUID
    recipient_id: uuid.UUID
    person_code: str
    """The person's code in this export only (the bundle's), never their pseudonym code."""
    categories: list[DataCategory]
    level: DisclosureLevel
    decided_at: datetime
    submitted_to_proceedings: bool


class ReportExport(Output):
    """One export the person was in, in plain words."""

    recipient: str
    purpose: str
    date: str
    level: str
    categories: list[str]
    submitted_to_proceedings: bool
    recall: str | None
    """What was done to take it back: None when nothing was asked."""


class ReportTask(Output):
    """Something the organisation still has to tell the person."""

    about: str
    by: str


class DisclosureReport(Output):
    """GET /api/v1/people/{id}/disclosure-report: where the person's data is and where it went.

    It names no staff member, no other person and no internal id."""

    language: str
    review: Literal["source", "reviewed", "unreviewed"]
    """Whether the words of this language were signed off by a native speaker (`unreviewed`: a draft)."""
    texts: dict[str, str]
    date: str
    held: list[str]
    exports: list[ReportExport]
    pending: list[ReportTask]
