"""Export requests: asking for one, previewing what it would yield, reading them, and moving their status.

A legal user on the team of every case named asks; the justification is sealed under the service key and
shown to no list. Every change of status is one conditional UPDATE naming the revision and status read
(``move``): no row changed means another worker moved it first, and the request is refused with 409.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import history
from app.consent.decision_inputs import ConsentHistory
from app.consent.decision_inputs import Recipient as RecipientEntry
from app.consent.vocabulary import DisclosureLevel
from app.core.db import changed_rows, db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.crypto import aead
from app.exports import decisions, reasons
from app.exports.decisions import PersonDisclosure
from app.exports.models import ExportApproval, ExportRequest
from app.exports.schemas import (
    SMALL,
    ApprovalRead,
    ExportCreate,
    ExportFilters,
    ExportRead,
    ExportStatus,
    PreviewRead,
    ReviewCounts,
)
from app.exports.scope import approvals_needed, check_request, people_in_scope
from app.keys import datakeys
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "export_requests"


def _seal_justification(session: Session, runtime: Runtime, row_id: uuid.UUID, text: str) -> bytes:
    key = datakeys.service_key(session, runtime.keys)
    return aead.seal(key, text.encode(), table=TABLE, column="justification", row_id=row_id, person_id=None)


def read(session: Session, runtime: Runtime, row: ExportRequest) -> ExportRead:
    approvals = session.scalars(
        select(ExportApproval).where(ExportApproval.export_id == row.id).order_by(ExportApproval.decided_at)
    )
    return ExportRead(
        id=row.id,
        status=ExportStatus(row.status),
        revision=row.revision,
        case_ids=[uuid.UUID(c) for c in row.case_ids],
        filters=ExportFilters(
            people=None if row.person_ids is None else [uuid.UUID(p) for p in row.person_ids],
            interviewed_from=row.interviewed_from,
            interviewed_to=row.interviewed_to,
            violation_types=row.violation_types,
        ),
        purpose=row.purpose,
        recipient_id=row.recipient_id,
        categories=row.categories,
        max_disclosure_level=row.max_disclosure_level,
        requester_id=row.requester_id,
        requested_at=row.requested_at,
        approvals_needed=row.approvals_needed,
        approvals=[
            ApprovalRead(
                decided_by=a.decided_by,
                decision=a.decision,
                reason=reasons.decision_reason(session, runtime, a),
                decided_at=a.decided_at,
            )
            for a in approvals
        ],
        people_count=row.people_count,
        excluded_count=row.excluded_count,
        level_counts=row.level_counts,
        bundle_written=row.bundle_sha256 is not None,
        bundle_size=row.bundle_size,
        bundle_sha256=row.bundle_sha256,
        bundle_encrypted=row.bundle_encrypted,
        downloads=row.downloads,
        copy_of=row.copy_of,
        bundle_removed_at=row.bundle_removed_at,
    )


def request_export(session: Session, runtime: Runtime, principal: Principal, data: ExportCreate) -> ExportRead:
    """Ask for an export; it waits for a custodian (two, for named identity or recordings of the person)."""
    policy.require(principal, policy.Action.EXPORT_REQUEST)
    check_request(session, principal, data)
    assert principal.user_id is not None  # the system principal never asks for exports
    now = db_now(session)
    row_id = new_id()
    audit.touch(session, resource_id=row_id)
    filters = data.filters
    row = ExportRequest(
        id=row_id,
        status=ExportStatus.REQUESTED,
        revision=1,
        case_ids=[str(c) for c in data.case_ids],
        person_ids=None if filters.people is None else [str(p) for p in filters.people],
        interviewed_from=filters.interviewed_from,
        interviewed_to=filters.interviewed_to,
        violation_types=None,
        purpose=data.purpose.value,
        recipient_id=data.recipient_id,
        categories=[c.value for c in data.categories],
        max_disclosure_level=data.max_disclosure_level.value,
        justification=_seal_justification(session, runtime, row_id, data.justification),
        requester_id=principal.user_id,
        requested_at=now,
        approvals_needed=approvals_needed(data),
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return read(session, runtime, row)


def list_exports(
    session: Session, runtime: Runtime, principal: Principal, page: PageRequest = FIRST_PAGE
) -> Page[ExportRead]:
    """Custodians see every request; legal users their own, oldest first."""
    stmt = policy.scope(
        principal, policy.Action.EXPORT_READ, select(ExportRequest), requester_column=ExportRequest.requester_id
    )
    rows, cursor = keyset(session, stmt, ExportRequest.id, page, uuid.UUID, lambda r: r.id)
    return Page[ExportRead](items=[read(session, runtime, r) for r in rows], next_cursor=cursor)


def get_export(session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID) -> ExportRead:
    row = policy.load(session, principal, policy.Action.EXPORT_READ, ExportRequest, export_id)
    audit.touch(session, resource_id=row.id)
    return read(session, runtime, row)


def _shown(count: int) -> int | None:
    """A count from 1 to 4 suppressed, any other rounded to the nearest multiple of 5.

    Suppression alone is undone by differencing: two previews that move one person between levels give 6 and
    5 beside a suppressed cell, which is then exactly 1. Rounded to base 5, every difference of two released
    counts is a multiple of 5 too, so it never is a count from 1 to 4.
    """
    if 0 < count < SMALL:
        return None
    return (count + SMALL // 2) // SMALL * SMALL


def disclosures(
    session: Session,
    runtime: Runtime,
    person_ids: Sequence[uuid.UUID],
    purpose: str,
    entry: RecipientEntry,
    categories: Sequence[str],
    maximum: DisclosureLevel,
) -> Iterator[tuple[Person, ConsentHistory, PersonDisclosure | None]]:
    """Each person's one level and what would go at it now, as the build decides (decide() per category, at
    the database clock); None for a person with nothing they allow wanted."""
    deny = history.deny_list_of(session)
    now = db_now(session)
    for person_id in person_ids:
        person = session.get(Person, person_id)
        assert person is not None
        hist = history.history_of(session, runtime, person)
        decider = decisions.decider_for(hist, purpose, entry, now, deny)
        yield person, hist, decisions.disclosure(decider, categories, maximum)


def counted(levels: Counter[DisclosureLevel], excluded: int, in_scope: int) -> PreviewRead:
    """People per level and people excluded, counts from 1 to 4 suppressed and the others rounded to base 5, and
    every count suppressed when fewer than 5 people are in scope, none included.

    From 1 to 4 people, a zero at a level would say that none of those few allowed it. Nobody in scope is
    suppressed too: the scope leaves erased people out, so a one-person case whose preview turned from
    suppressed to zeros would tell the requester that its person was erased.
    """
    if in_scope < SMALL:
        # A handful of people, or none left: even a zero would say who allowed what, or who was erased.
        return PreviewRead(people=dict.fromkeys(DisclosureLevel), excluded=None)
    return PreviewRead(people={level: _shown(levels[level]) for level in DisclosureLevel}, excluded=_shown(excluded))


def exact(levels: Counter[DisclosureLevel], excluded: int, in_scope: int) -> ReviewCounts:
    """The counts as they are, for the custodian who decides the export (and sees its records anyway)."""
    return ReviewCounts(
        people={level: levels[level] for level in DisclosureLevel}, excluded=excluded, in_scope=in_scope
    )


def preview_export(session: Session, runtime: Runtime, principal: Principal, data: ExportCreate) -> PreviewRead:
    """What a request would yield now: people per level and people excluded (``counted``).

    The same decision as the build (``disclosures``), through the history builder; nothing is stored.
    """
    policy.require(principal, policy.Action.EXPORT_REQUEST)
    filters = data.filters
    if filters.people is not None:
        # Two previews of named people that differ by one person would tell whether that person consented.
        raise ValidationFailed(
            "a preview counts the people of whole cases; a request naming people is shown to custodians instead",
            fields=["filters.people"],
        )
    narrowed = [f"filters.{name}" for name in ("interviewed_from", "interviewed_to") if getattr(filters, name)]
    if narrowed:
        # Two previews whose dates differ by a day would count the people interviewed that day: differencing
        # isolates one person whatever the threshold. Dated requests are counted for the custodians instead.
        raise ValidationFailed(
            "a preview counts the people of whole cases; a request limited to interview dates is shown to "
            "custodians instead",
            fields=narrowed,
        )
    recipient = check_request(session, principal, data)
    levels: Counter[DisclosureLevel] = Counter()
    excluded = 0
    ids = session.scalars(
        people_in_scope(data.case_ids, filters.people, filters.interviewed_from, filters.interviewed_to)
    ).all()
    categories = [c.value for c in data.categories]
    entry = history.recipient_of(recipient)
    for _, _, outcome in disclosures(session, runtime, ids, data.purpose, entry, categories, data.max_disclosure_level):
        if outcome is None:
            excluded += 1
        else:
            levels[outcome.level] += 1
    return counted(levels, excluded, len(ids))


def move(session: Session, row: ExportRequest, to: ExportStatus, *, was: ExportStatus, **values: object) -> None:
    """Change the status (and ``values``) by a conditional UPDATE on the revision and status read; 409 when
    it moved meanwhile."""
    moved = session.execute(
        update(ExportRequest)
        .where(ExportRequest.id == row.id, ExportRequest.revision == row.revision, ExportRequest.status == was)
        .values(status=to, revision=ExportRequest.revision + 1, updated_at=db_now(session), **values)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(moved) != 1:
        raise Conflict("this export changed meanwhile: read it again", fields=["revision"])
    session.refresh(row)


def may_request(principal: Principal) -> None:
    """The request form's check, before anything is asked: 403 for a role that never asks for exports."""
    policy.require(principal, policy.Action.EXPORT_REQUEST)
