"""One person's record in a bundle: their sealed documents, read through the named doors, shaped by their level.

The build hands each person's ledger row (their one level and the categories ``decide()`` allowed at it).
Their documents are opened through the domains' doors (``people.records.open_column``, the interviews',
statements', redactions' and incidents' ``*_for_export``) and each goes through ``levels.for_level``, so only
fields of an allowed category leave, internal ids become the export's opaque ids, and at ``deidentified``
only structured fields go, with the narrative taken from the redaction the approval pinned for the statement
version (``narratives.pinned``; none pinned: no narrative). An interview's
material is asked of ``decide()`` again with the interview as its source (``reconfirm.source_from``): an
interview the interviewee stopped, and did not reconfirm after, sends nothing. The rows are read a page of
people at a time (``page_of``: ``app.interviews.export_pages`` and the pinned redactions), by a fixed number
of queries whatever the page's size; only the sealed values are opened person by person.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from app.consent.categories import category_of
from app.consent.decision_inputs import Source
from app.consent.vocabulary import DisclosureLevel
from app.exports import levels, narratives
from app.exports.files import Planned, described
from app.exports.levels import OpaqueIds
from app.interviews import export_pages, reconfirm, service_incidents, service_redactions, service_statements
from app.interviews.models import Interview, Redaction
from app.interviews.records import open_details
from app.people.models import Person
from app.people.records import open_column

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

AllowedFor = Callable[[Source], Sequence[str]]
"""The categories of the person's ledger row that ``decide()`` still allows for material from one interview."""


@dataclass(frozen=True)
class WholeStatement:
    """A statement version that went whole, at a named level: its canonical bytes (the item its custody
    proof checks) go as a file of their own."""

    name: str
    data: bytes
    statement_id: uuid.UUID


@dataclass(frozen=True)
class Record:
    """One person's record as it leaves: the JSON document, and the categories that went into it."""

    record_id: str
    level: DisclosureLevel
    categories: tuple[str, ...]
    document: dict[str, Any]
    attachments: tuple[Planned, ...] = ()
    statements: tuple[WholeStatement, ...] = ()


def _shaped(
    level: DisclosureLevel, table: str, column: str, doc: Mapping[str, Any] | None, cats: Sequence[str], ids: OpaqueIds
) -> dict[str, Any] | None:
    if doc is None:
        return None
    shaped = levels.for_level(level, table, column, doc, cats, ids)
    return shaped or None


@dataclass(frozen=True)
class Page:
    """What a page of people's records is made from, read by a fixed number of queries (``page_of``)."""

    interviews: export_pages.InterviewPage
    pinned: Mapping[uuid.UUID, Redaction]
    """Statement version id -> the redaction the approval pinned for it (``narratives.pinned``)."""


def page_of(session: Session, export_id: uuid.UUID, person_ids: Sequence[uuid.UUID]) -> Page:
    """The interview rows of a page of people, and the redactions pinned for their latest statements."""
    interviews = export_pages.page_of(session, person_ids)
    statements = [s.id for s in interviews.latest.values()]
    return Page(interviews, narratives.pinned(session, export_id, statements))


def _interview(
    session: Session,
    runtime: Runtime,
    interview: Interview,
    level: DisclosureLevel,
    cats: Sequence[str],
    ids: OpaqueIds,
    planned: list[Planned],
    whole: list[WholeStatement],
    page: Page,
) -> dict[str, Any] | None:
    out: dict[str, Any] = {"interview": ids.of(interview.id)}
    details = open_details(session, runtime.keys, interview).model_dump(mode="json")
    if shaped := _shaped(level, "interviews", "details", details, cats, ids):
        out["details"] = shaped
    statement = page.interviews.latest.get(interview.id)
    if statement is not None:
        opened = service_statements.statement_for_export(session, runtime, statement)
        content = opened.model_dump(mode="json")
        part = _shaped(level, "statement_versions", "content", content, cats, ids) or {}
        fields = {category_of("statement_versions", "content", name) for name in content}
        if levels.is_named(level) and fields <= set(cats):
            name = f"statements/{ids.of(statement.id)}.json"
            whole.append(
                WholeStatement(name, service_statements.canonical_bytes(statement.version, opened), statement.id)
            )
            part["file"] = name
        if level is DisclosureLevel.DEIDENTIFIED:
            redaction = page.pinned.get(statement.id)
            if redaction is not None:
                redacted = service_redactions.redaction_for_export(session, runtime, redaction).model_dump(mode="json")
                narrative = levels.allowed_fields("redactions", "content", redacted, cats)
                part.update(levels.pseudonymise(narrative, ids))
        if part:
            part["version"] = statement.version
            out["statement"] = part
    told = []
    for row in page.interviews.incidents.get(interview.id, []):
        doc = service_incidents.incident_for_export(session, runtime, row).model_dump(mode="json")
        if shaped := _shaped(level, "incidents", "details", doc, cats, ids):
            told.append(shaped)
    if told:
        out["incidents"] = told
    attachments, files = described(
        session, runtime, page.interviews.attachments.get(interview.id, []), level, cats, ids
    )  # fmt: skip
    if attachments:
        out["attachments"] = attachments
        planned.extend(files)
    return out if len(out) > 1 else None


def record_of(
    session: Session,
    runtime: Runtime,
    person: Person,
    level: DisclosureLevel,
    categories: Sequence[str],
    allowed_for: AllowedFor,
    ids: OpaqueIds,
    pseudonym: str | None,
    page: Page,
) -> Record:
    """The person's record at their level, of their allowed categories; ``pseudonym`` names them at
    ``pseudonymous`` (nothing names them at ``deidentified``; their identity, when allowed, at the named levels)."""
    record_id = ids.of(person.id)
    document: dict[str, Any] = {"record": record_id, "level": level.value}
    if pseudonym is not None:
        document["pseudonym"] = pseudonym
    for column in ("identity", "contact"):
        if shaped := _shaped(
            level, "people", column, open_column(session, runtime.keys, person, column), categories, ids
        ):
            document[column] = shaped
    told = []
    went: set[str] = set()
    planned: list[Planned] = []
    whole: list[WholeStatement] = []
    for interview in page.interviews.of(person.id):
        source = reconfirm.source_from(interview, page.interviews.reconfirmations.get(interview.id, []))
        cats = [c for c in allowed_for(source) if c in categories]
        if not cats:
            continue
        if shaped := _interview(session, runtime, interview, level, cats, ids, planned, whole, page):
            told.append(shaped)
            went.update(cats)
    if told:
        document["interviews"] = told
    person_cats = {c for c in categories if c in _PERSON_CATEGORIES}
    return Record(record_id, level, tuple(sorted(went | person_cats)), document, tuple(planned), tuple(whole))


_PERSON_CATEGORIES = frozenset({"identity", "demographics", "origin_place", "contact"})
"""The categories of the person's own documents (identity and contact), which no interview's source governs."""
