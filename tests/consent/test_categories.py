"""Every sealed field of every model belongs to exactly one data category, in one table.

A sealed value is a binary column. Each is either described here by the schema of what it holds, or
listed in the table's NOT_FIELDS (a consent record, a secret), or one of the binary columns that are
not sealed data at all. A new binary column that is none of these fails, and so does a field of a
described schema that the table does not know, or an entry of the table that names no field.
"""

from __future__ import annotations

import typing
from types import NoneType, UnionType
from typing import Any

from pydantic import BaseModel
from sqlalchemy import LargeBinary

from app.consent.categories import FIELD_CATEGORIES, NOT_FIELDS, category_of
from app.consent.vocabulary import DataCategory
from app.interviews.schemas import InterviewDetails, SealedAttachmentFacts
from app.interviews.schemas_redactions import RedactionContent
from app.interviews.schemas_statements import DraftContent, IncidentDetails, StatementContent
from app.models import Base
from app.people.schemas import Identity, SafeContact

# The schema of what each sealed column holds, as the services seal it.
SEALED: dict[tuple[str, str], type[BaseModel]] = {
    ("people", "identity"): Identity,
    ("people", "contact"): SafeContact,
    ("interviews", "details"): InterviewDetails,
    ("attachments", "content"): SealedAttachmentFacts,
    ("interview_drafts", "content"): DraftContent,
    ("statement_versions", "content"): StatementContent,
    ("incidents", "details"): IncidentDetails,
    ("redactions", "content"): RedactionContent,
}
# Binary columns that are not sealed data: a wrapped key, the log's own bytes and hashes.
NOT_SEALED = {("data_keys", "wrapped"), ("audit_events", "entry"), ("audit_checkpoints", "root_hash")}


def _binary_columns() -> set[tuple[str, str]]:
    return {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, alone, optional or as the items of a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, UnionType, typing.Union) or origin is typing.Annotated:
        for arg in typing.get_args(annotation):
            if arg is not NoneType and (found := _model_in(arg)) is not None:
                return found
    return None


def _fields(model: type[BaseModel], listed: set[str], prefix: str = "") -> tuple[set[str], set[str]]:
    """(paths reached, paths missing): a field is reached when the table lists it, or when it holds a model
    whose parts the table lists; any other field is missing."""
    reached: set[str] = set()
    missing: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        inner = _model_in(info.annotation)
        if path in listed:
            reached.add(path)
        elif inner is not None and any(p.startswith(f"{path}.") for p in listed):
            sub_reached, sub_missing = _fields(inner, listed, f"{path}.")
            reached |= sub_reached
            missing |= sub_missing
        else:
            missing.add(path)
    return reached, missing


def test_every_binary_column_is_described_or_explained() -> None:
    described = set(SEALED) | set(NOT_FIELDS) | NOT_SEALED
    assert _binary_columns() == described
    assert not set(SEALED) & set(NOT_FIELDS)
    assert all(reason.strip() for reason in NOT_FIELDS.values())


def test_every_sealed_field_has_exactly_one_category() -> None:
    for (table, column), model in SEALED.items():
        listed = {path for (t, c, path) in FIELD_CATEGORIES if (t, c) == (table, column)}
        reached, missing = _fields(model, listed)
        assert missing == set(), f"{table}.{column}: fields without a category: {sorted(missing)}"
        assert listed == reached, f"{table}.{column}: entries naming no field: {sorted(listed - reached)}"
    assert {(t, c) for (t, c, _p) in FIELD_CATEGORIES} <= set(SEALED)
    assert all(isinstance(category, DataCategory) for category in FIELD_CATEGORIES.values())


def test_the_categories_the_design_names() -> None:
    assert category_of("interviews", "details", "place") is DataCategory.CURRENT_LOCATION
    assert category_of("interviews", "details", "checklist.incident_types") is DataCategory.NARRATIVE_SEXUAL_VIOLENCE
    assert category_of("people", "identity", "place_of_origin") is DataCategory.ORIGIN_PLACE
    assert category_of("people", "identity", "full_name") is DataCategory.IDENTITY
    assert category_of("people", "contact", "value") is DataCategory.CONTACT
    assert category_of("interviews", "details", "no_such_field") is None


def test_the_walk_finds_a_field_the_table_does_not_know() -> None:
    class Inner(BaseModel):
        known: str
        new: str

    class Outer(BaseModel):
        top: str
        parts: list[Inner]
        whole: Inner | None

    reached, missing = _fields(Outer, {"top", "parts.known", "whole", "stale"})
    assert reached == {"top", "parts.known", "whole"}
    assert missing == {"parts.new"}
