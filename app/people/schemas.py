"""Wire shapes for interviewees. There is no ethnicity field and no current address."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.consent.schemas import ReContact
from app.consent.vocabulary import ConsentStatus
from app.core.schemas import Input, NonBlank, Output

Name = Annotated[NonBlank, StringConstraints(max_length=200)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


class PersonCreate(Input):
    """Nothing about the person: a record starts as a pseudonym code only."""


class Identity(Input):
    full_name: Name
    other_names: list[Name] = Field(default_factory=list, max_length=10)
    date_of_birth: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=130)
    sex_gender: Literal["female", "male", "another", "prefers_not_to_say"] | None = None
    languages: list[LanguageCode] = Field(default_factory=list, max_length=10)
    place_of_origin: Name | None = None


class SafeContact(ReContact):
    """A safe channel only; the value is how to reach the person on it (e.g. a number)."""

    value: Annotated[NonBlank, StringConstraints(max_length=200)]


class PersonUpdate(Input):
    identity: Identity | None = None
    contact: SafeContact | None = None


class PersonSummary(Output):
    """What lists show: a code and metadata, never a name."""

    id: uuid.UUID
    code: str
    case_id: uuid.UUID
    created_at: datetime
    participation_status: ConsentStatus | None
    allows_collection: bool


class PersonRead(PersonSummary):
    identity: Identity | None
    contact: SafeContact | None
    reconsent_due: bool
    """The latest decision was taken as a child and the person is now an adult."""


class DuplicateReviewRead(Output):
    id: uuid.UUID
    person_a_code: str
    person_b_code: str
    created_at: datetime
    status: Literal["open", "duplicate", "not_duplicate"]


class DuplicateDecision(Input):
    decision: Literal["duplicate", "not_duplicate"]
