"""Recall notices: a consent change that now denies what a downloaded export carried for a person.

Consent cannot import exports (the import contracts), so this module listens: importing it registers
``raise_recalls`` with ``app.consent.changes`` (``app/models.py`` imports it, as it imports the services that
register confirmation kinds). A withdrawal, an amendment or narrowing, an invalidation or a refusal of storage
then calls it in the same transaction, under the person's lock. For each of the person's ledger rows in an
export that was downloaded at least once, ``decide()`` runs again (``app.exports.recheck``); a row now denied
gets one notice (unique per row), and the person a feedback task. An export never downloaded raises nothing:
it goes stale at its next download instead. It also registers ``on_merge`` with ``app.people.links``: a
"duplicate" decision that merges two people's groups gives each the others' refusals and restrictions, and is
checked the same way for every member of the merged group.

A notice moves ``open -> sent -> acknowledged`` by conditional UPDATEs. When the person's records were
submitted to proceedings (a custodian marks the ledger row), the notice is a request: the recipient is asked
to withdraw them, since a court's file is not ours to recall.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import changes, history
from app.core.db import changed_rows, db_now, new_id
from app.core.errors import Conflict, NotFound
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.exports import feedback, reasons, recheck
from app.exports.models import DisclosureEntry, ExportRequest, RecallNotice
from app.exports.schemas import LedgerSubmitIn, LedgerSubmitted, RecallRead, RecallState
from app.people import links
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def raise_recalls(session: Session, runtime: Runtime, person: Person) -> None:
    """After a consent change of this person (held by the caller): a notice for each downloaded export whose
    ledger row decide() now denies."""
    rows = session.execute(
        select(DisclosureEntry, ExportRequest)
        .join(ExportRequest, ExportRequest.id == DisclosureEntry.export_id)
        .where(DisclosureEntry.person_id == person.id, ExportRequest.downloads > 0)
        .order_by(DisclosureEntry.id)
    ).all()
    if not rows:
        return
    noticed = set(session.scalars(select(RecallNotice.ledger_id).where(RecallNotice.person_id == person.id)))
    now = db_now(session)
    deny = history.deny_list_of(session)
    for row, export in rows:
        if row.id in noticed:
            continue
        if recheck.still_allowed(session, runtime, export, row, recheck.entry_of(session, export), deny, now):
            continue
        notice = open_notice(session, row, export, now)
        feedback.open_task(session, runtime, person, export.id, feedback.RECALL, now, recall_id=notice.id)


def open_notice(session: Session, row: DisclosureEntry, export: ExportRequest, now: datetime) -> RecallNotice:
    """One open notice for a ledger row (unique per row: the caller has checked there is none)."""
    notice = RecallNotice(
        id=new_id(),
        ledger_id=row.id,
        export_id=export.id,
        recipient_id=row.recipient_id,
        person_id=row.person_id,
        requester_id=export.requester_id,
        state=RecallState.OPEN,
        raised_at=now,
    )
    session.add(notice)
    session.flush()
    return notice


def on_merge(session: Session, runtime: Runtime, group: frozenset[uuid.UUID]) -> None:
    """After a "duplicate" decision merged a group (each member held by the caller): each member's history now
    carries the others' refusals and restrictions, so what left for any of them may now be denied."""
    for person_id in sorted(group):
        person = session.get(Person, person_id)
        if person is not None:
            raise_recalls(session, runtime, person)


changes.listen("exports.recalls", raise_recalls)
links.listen("exports.recalls", on_merge)


def _read(session: Session, runtime: Runtime, notice: RecallNotice, row: DisclosureEntry) -> RecallRead:
    submission = reasons.submission_reason(session, runtime, row)
    return RecallRead(
        id=notice.id,
        export_id=notice.export_id,
        ledger_id=notice.ledger_id,
        recipient_id=notice.recipient_id,
        record_id=row.record_id,
        submitted_to_proceedings=row.submitted_to_proceedings,
        submitted_reason=submission.reason,
        submitted_reason_erased=submission.erased,
        kind="request" if row.submitted_to_proceedings else "demand",
        state=RecallState(notice.state),
        raised_at=notice.raised_at,
        sent_at=notice.sent_at,
        acknowledged_at=notice.acknowledged_at,
    )


def list_recalls(
    session: Session, runtime: Runtime, principal: Principal, page: PageRequest = FIRST_PAGE
) -> Page[RecallRead]:
    """Custodians see every notice; a legal user those of the exports they asked for; oldest first."""
    stmt = policy.scope(
        principal, policy.Action.RECALL_READ, select(RecallNotice), requester_column=RecallNotice.requester_id
    ).join(DisclosureEntry, DisclosureEntry.id == RecallNotice.ledger_id)
    stmt = stmt.add_columns(DisclosureEntry)
    rows, cursor = keyset(session, stmt, RecallNotice.id, page, uuid.UUID, lambda r: r[0].id)
    return Page[RecallRead](items=[_read(session, runtime, n, e) for n, e in rows], next_cursor=cursor)


_MOVES = {RecallState.SENT: RecallState.OPEN, RecallState.ACKNOWLEDGED: RecallState.SENT}


def move_recall(
    session: Session, runtime: Runtime, principal: Principal, recall_id: uuid.UUID, to: RecallState
) -> RecallRead:
    """open -> sent, sent -> acknowledged: one conditional UPDATE; 409 ``state`` when it is elsewhere."""
    notice = policy.load(session, principal, policy.Action.RECALL_MANAGE, RecallNotice, recall_id)
    audit.touch(session, resource_id=notice.id)
    was = _MOVES[to]
    now = db_now(session)
    values = (
        {"sent_at": now, "sent_by": principal.user_id}
        if to is RecallState.SENT
        else {"acknowledged_at": now, "acknowledged_by": principal.user_id}
    )
    moved = session.execute(
        update(RecallNotice)
        .where(RecallNotice.id == notice.id, RecallNotice.state == was)
        .values(state=to, **values)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(moved) != 1:
        raise Conflict(
            "this notice is not %(recall_state)s", fields=["state"], code="state", params={"recall_state": was.value}
        )
    session.refresh(notice)
    row = session.get(DisclosureEntry, notice.ledger_id)
    assert row is not None
    return _read(session, runtime, notice, row)


def mark_submitted(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    export_id: uuid.UUID,
    ledger_id: uuid.UUID,
    data: LedgerSubmitIn,
) -> LedgerSubmitted:
    """A custodian, with a fresh second factor, records that the person's records in this export were submitted
    to proceedings, and why. It turns every recall of the row into a request (we can only ask a court's file
    back), so it is never undone: one conditional UPDATE from false, 409 ``submitted`` when it was set."""
    now = db_now(session)
    policy.require(principal, policy.Action.LEDGER_SUBMIT)
    policy.require_step_up(principal, policy.Action.LEDGER_SUBMIT, now)
    export = policy.load(session, principal, policy.Action.EXPORT_READ, ExportRequest, export_id)
    audit.touch(session, resource_id=export.id)
    row = session.get(DisclosureEntry, ledger_id)
    if row is None or row.export_id != export.id:
        raise NotFound
    assert principal.user_id is not None  # a custodian, never the system
    marked = session.execute(
        update(DisclosureEntry)
        .where(DisclosureEntry.id == row.id, DisclosureEntry.submitted_to_proceedings.is_(False))
        .values(
            submitted_to_proceedings=True,
            sealed_submitted_reason=reasons.seal_submission(session, runtime, row, principal.user_id, data.reason),
            submitted_by=principal.user_id,
            submitted_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed_rows(marked) != 1:
        raise Conflict("these records are marked submitted to proceedings already", code="submitted")
    return LedgerSubmitted(export_id=export.id, ledger_id=row.id, submitted_to_proceedings=True, submitted_at=now)


def raised_for(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, since: datetime
) -> list[RecallRead]:
    """The notices a change of this person raised at or after ``since`` (the page that records a withdrawal
    shows what it raised), scoped as the list is; none for a role that reads no notice (a documenter)."""
    if not policy.allows(principal, policy.Action.RECALL_READ):
        return []
    stmt = (
        policy.scope(
            principal, policy.Action.RECALL_READ, select(RecallNotice), requester_column=RecallNotice.requester_id
        )
        .join(DisclosureEntry, DisclosureEntry.id == RecallNotice.ledger_id)
        .where(RecallNotice.person_id == person_id, RecallNotice.raised_at >= since)
        .add_columns(DisclosureEntry)
        .order_by(RecallNotice.id)
    )
    return [_read(session, runtime, row[0], row[1]) for row in session.execute(stmt).all()]
