"""Wire shapes for redactions of confirmed statement versions, and the sealed document they hold.

A redaction mirrors the narrative of the statement it redacts: its free text and the text of each
answered question, with parts removed (app/interviews/redaction_text.py). Every field of the sealed
document has a data category in app/consent/categories.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.core.schemas import Input, Output
from app.interviews.schemas_statements import AnswerText, NotesText, QuestionId


class RedactedAnswer(Input):
    """An answered question of the statement, with its text redacted."""

    question: QuestionId
    text: AnswerText


class RedactionCreate(Input):
    """A redacted version of one confirmed statement version of the interview.

    ``text`` is the statement's free text redacted (given when, and only when, the statement has free text);
    ``answers`` are the statement's answered questions, each once and in the statement's order, their text
    redacted. To remove a whole part, send the marker ``[…]`` alone.
    """

    statement_version_id: uuid.UUID
    text: NotesText | None = None
    answers: Annotated[list[RedactedAnswer], Field(max_length=60)] = Field(default_factory=list)


# The sealed document.


class RedactedAnswerRecord(Output):
    question: str
    text: str


class RedactionContent(Output):
    """What ``redactions.content`` holds: the redacted narrative, never what was removed."""

    text: str | None
    answers: list[RedactedAnswerRecord]


# Answers.


class RedactionSummary(Output):
    """What a list shows: metadata only."""

    id: uuid.UUID
    interview_id: uuid.UUID
    statement_version_id: uuid.UUID
    statement_version: int
    """The version number of the statement it redacts."""
    number: int
    """1 for the statement version's first redaction, then one more for each that supersedes the one before."""
    superseded: bool
    """A later redaction of the same statement version replaces this one; it is kept as history."""
    prepared_by: uuid.UUID | None
    prepared_at: datetime


class RedactionRead(RedactionSummary):
    """A redaction opened (an audited read): for a documenter on the case team, or a custodian reviewing it."""

    text: str | None
    answers: list[RedactedAnswerRecord]


class RedactionWaiting(Output):
    """A confirmed statement waiting for its redaction: ids and the case's code, no content."""

    statement_version_id: uuid.UUID
    interview_id: uuid.UUID
    statement_version: int
    case_id: uuid.UUID
    case_code: str
    confirmed_at: datetime
