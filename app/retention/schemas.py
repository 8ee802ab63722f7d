"""Wire shapes of retention: items coming due, custodians' reviews, and minors come of age."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints

from app.consent.vocabulary import DataCategory
from app.core.schemas import Input, NonBlank, Output


class Basis(StrEnum):
    """Why an item comes due when it does."""

    STORAGE = "storage"
    """The storage period of participation consent."""
    USE_GRANT = "use_grant"
    """A shorter period a use-consent record sets for the category."""
    ORGANISATION = "organisation"
    """The organisation's default (TESTIMONY_RETENTION__*), shorter than the consent's or standing in for it."""
    RE_CONTACT_ENDED = "re_contact_ended"
    """The latest participation consent does not agree to re-contact."""
    RE_CONTACT_EXPIRED = "re_contact_expired"
    """The re-contact agreement (or the safe contact) runs out."""


class Decision(StrEnum):
    DELETE = "delete"
    """Reviewed: the run deletes it once due."""
    KEEP = "keep"
    """Kept, with a reason: the run leaves it."""


class State(StrEnum):
    """What the run does with an item that is due."""

    DELETE = "delete"
    UNREVIEWED = "unreviewed"
    KEPT = "kept"
    HELD = "held"
    """Under legal hold."""


class DueItem(Output):
    """One category of one person's data and when it comes due: ids, the pseudonym code, never content."""

    person_id: uuid.UUID
    person_code: str
    case_id: uuid.UUID
    category: DataCategory
    due_on: date
    basis: Basis
    state: State
    reviewed_at: datetime | None


class ReviewCreate(Input):
    person_id: uuid.UUID
    category: DataCategory
    due_on: date
    """The due date the queue shows: a review is of one item, and a changed date is a new item."""
    decision: Decision
    reason: Annotated[NonBlank, StringConstraints(max_length=1000)] | None = None
    """Required to keep an item; sealed, never shown or logged."""


class ReviewRead(Output):
    id: uuid.UUID
    person_id: uuid.UUID
    category: DataCategory
    due_on: date
    decision: Decision
    reason_given: bool
    decided_at: datetime


class RunResult(Output):
    """One person's deletion by the run."""

    person_code: str
    deleted: list[DataCategory]


class ReconsentItem(Output):
    """A person whose latest participation consent was given as a child, now an adult: ask them again."""

    person_id: uuid.UUID
    person_code: str
    case_id: uuid.UUID
    came_of_age_on: date
    basis: Literal["date_of_birth", "age_at_decision"]
