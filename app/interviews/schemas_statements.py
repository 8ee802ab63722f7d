"""Wire shapes for an interview's draft and its confirmed statement versions, and their sealed documents.

A draft holds free-text working notes and answers to guide questions; each answer carries its state
(``answered`` with text, ``declined`` or ``not_asked`` without). A statement version is a confirmed
copy of the draft. Every field of the sealed documents has a data category in app/consent/categories.py.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.core.schemas import Input, NonBlank, Output
from app.interviews.schemas import LanguageCode, PlaceText, Text
from app.interviews.vocabulary import AnswerState, DatePrecision, ViolationType

QuestionId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
AnswerText = Annotated[NonBlank, StringConstraints(max_length=20_000)]
NotesText = Annotated[NonBlank, StringConstraints(max_length=100_000)]


class Answer(Input):
    """An answer to a guide question: ``text`` is given for ``answered`` and only then."""

    question: QuestionId
    state: AnswerState
    text: AnswerText | None = None


GuideName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


class GuideRef(Input):
    """The interview guide the answers follow: its id and version (interview_guides/<id>/<version>)."""

    id: GuideName
    version: GuideName


class DraftWrite(Input):
    """The whole draft, replacing what the slot held. With a ``guide``, every answer names one of its
    questions."""

    guide: GuideRef | None = None
    text: NotesText | None = None
    """Free-text working notes."""
    answers: Annotated[list[Answer], Field(max_length=60)] = Field(default_factory=list)


class StatementConfirm(Input):
    """The interviewee heard the draft of ``draft_revision`` read back in ``read_back_in`` and confirmed it.

    ``reason`` says why a version after the first corrects the one before; the first has none.
    """

    version: int = Field(ge=1, le=2**31 - 1)
    """The version this makes: 1 for the first, then one more than the last (409 naming it otherwise)."""
    draft_revision: int = Field(ge=1, le=2**31 - 1)
    confirmed_by_interviewee: Literal[True]
    read_back_in: LanguageCode
    reason: Text | None = None


# The sealed documents.


class AnswerRecord(Output):
    question: str
    state: AnswerState
    text: str | None


class GuideRecord(Output):
    id: str
    version: str


class DraftContent(Output):
    """What ``interview_drafts.content`` holds."""

    guide: GuideRecord | None = None
    text: str | None = None
    answers: list[AnswerRecord] = Field(default_factory=list)


class StatementContent(Output):
    """What ``statement_versions.content`` holds."""

    guide: GuideRecord | None = None
    text: str | None
    answers: list[AnswerRecord]
    read_back_in: str
    confirmed_by_interviewee: bool
    reason: str | None


# Answers.


class DraftRead(Output):
    interview_id: uuid.UUID
    revision: int
    saved_at: datetime
    saved_by: uuid.UUID | None
    guide: GuideRecord | None
    text: str | None
    answers: list[AnswerRecord]


class StatementSummary(Output):
    """What a list shows: metadata only."""

    id: uuid.UUID
    interview_id: uuid.UUID
    version: int
    draft_revision: int
    confirmed_at: datetime
    recorded_by: uuid.UUID | None


class StatementRead(StatementSummary):
    """A statement version opened for a documenter on the case team (an audited read)."""

    guide: GuideRecord | None
    text: str | None
    answers: list[AnswerRecord]
    read_back_in: str
    confirmed_by_interviewee: bool
    reason: str | None
    sha256: str
    """The SHA-256 of the version's canonical bytes (docs/auditing.md), which its custody commitment binds."""


# Incidents.

Count = Annotated[int, Field(ge=0, le=1_000_000)]


class IncidentDate(Input):
    """When it happened: a day (``from``), or a range (``from`` to ``to``), and how precisely the person
    could say. With ``month`` or ``year``, give the first day of the month or year."""

    start: date = Field(alias="from")
    end: date | None = Field(default=None, alias="to")
    precision: DatePrecision


class People(Input):
    """Others involved: how many (when known) and a short description, never a name list."""

    count: Count | None = None
    description: Text | None = None


class IncidentCreate(Input):
    date: IncidentDate
    place: PlaceText | None = None
    violation_types: Annotated[list[ViolationType], Field(min_length=1, max_length=10)]
    perpetrators: Annotated[list[Text], Field(max_length=20)] = Field(default_factory=list)
    """The alleged perpetrators as the person describes them (a unit, a role, a description)."""
    other_victims: People | None = None
    witnesses: People | None = None


class IncidentDateRecord(Output):
    start: date
    end: date | None
    precision: DatePrecision


class IncidentDetails(Output):
    """What ``incidents.details`` holds."""

    date: IncidentDateRecord
    place: str | None
    violation_types: list[ViolationType]
    perpetrators: list[str]
    other_victims_description: str | None
    witnesses_description: str | None


class IncidentSummary(Output):
    """What a list shows: nothing sealed."""

    id: uuid.UUID
    interview_id: uuid.UUID
    other_victims: int | None
    witnesses: int | None
    recorded_by: uuid.UUID | None
    recorded_at: datetime


class IncidentRead(IncidentSummary):
    """An incident opened for a documenter on the case team (an audited read); the counts are the clear
    columns, the descriptions of other victims and witnesses sealed beside them."""

    date: IncidentDateRecord
    place: str | None
    violation_types: list[ViolationType]
    perpetrators: list[str]
    other_victims_description: str | None
    witnesses_description: str | None


class GuideQuestionRead(Output):
    id: str
    text: dict[str, str]
    """The question in each of the guide's languages."""


class GuideRead(Output):
    id: str
    version: str
    review: str
    """``reviewed``, or ``unreviewed`` (served in development mode only)."""
    languages: list[str]
    sha256: str
    """The SHA-256 of guide.yaml, as pinned in interview_guides/published.lock."""
    questions: list[GuideQuestionRead]
