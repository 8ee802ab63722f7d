"""The build step of an export job: decide for each person, write the disclosure ledger, finish.

Every transaction starts with ``jobs.hold_fence``, so only the worker holding the job's current claim writes.
People are decided in small batches, one transaction each, each person under their per-person lock
(``app.people.records.hold``, which withdrawals, consent changes and erasure also take): a withdrawal that
commits first is in the history the build reads, and one that waits commits after the person's ledger row,
which then stands for a recall. A person whose ledger row exists from an attempt that died is not decided
again, so the effects happen once. The bundle itself is written by ``write_bundle`` (``app.exports.writer``)
in the last transaction: a ready export has its ledger, its counts, its sealed bundle and its feedback tasks.
"""

from __future__ import annotations

import gc
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.access.principal import Principal
from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.consent import history
from app.consent.vocabulary import DisclosureLevel
from app.core.db import db_now, new_id, unit_of_work
from app.exports import decisions, feedback, jobs, writer
from app.exports.models import DisclosureEntry, ExportRequest
from app.exports.schemas import ExportStatus
from app.exports.scope import people_in_scope
from app.exports.service import move
from app.people import erased
from app.people.records import hold_all
from app.recipients.models import Recipient

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

log = logging.getLogger("testimony.exports")

BATCH = 100
"""People decided per transaction (their locks taken by one statement, their rows read by a fixed number of
queries): never thousands of per-person locks held at once."""
WORKER = Principal.system("worker")
FAILED_BUILD = "the build could not be completed"


def write_bundle(session: Session, runtime: Runtime, export: ExportRequest, *, excluded: int = 0) -> bool:
    """Write the export's bundle from its ledger rows (``app.exports.writer``) and record it; whether one was written.

    Called once, in the build's last transaction (under the fencing token), after every person is decided.
    The writer sets each ledger row's record id (what a recall notice names: the id the recipient finds in the
    bundle) by one executemany a page of rows at a time, as the records go into the bundle.
    """
    written = writer.write(session, runtime, export, excluded)
    export.bundle_size = written.stored.size
    export.bundle_sha256 = written.stored.sha256
    export.bundle_manifest_sha256 = written.manifest_sha256
    export.bundle_encrypted = written.encrypted
    session.flush()  # before the status moves by its conditional UPDATE
    return True


def _chunks(items: Sequence[uuid.UUID], size: int) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _start(factory: sessionmaker[Session], mine: jobs.Claim) -> list[uuid.UUID] | None:
    """Move the export to building (or resume it) and list who is left to decide; None if nothing to build."""
    with unit_of_work(factory) as s:
        jobs.hold_fence(s, mine)
        export = s.get(ExportRequest, mine.export_id, with_for_update=True)
        assert export is not None  # a foreign key
        status = ExportStatus(export.status)
        if status is ExportStatus.APPROVED:
            move(s, export, ExportStatus.BUILDING, was=status)
        elif status is not ExportStatus.BUILDING:
            jobs.finish(s, mine, jobs.JobState.DONE, db_now(s))  # nothing to build any more
            return None
        scope = people_in_scope(
            [uuid.UUID(c) for c in export.case_ids],
            None if export.person_ids is None else [uuid.UUID(p) for p in export.person_ids],
            export.interviewed_from,
            export.interviewed_to,
        )
        done = set(s.scalars(select(DisclosureEntry.person_id).where(DisclosureEntry.export_id == export.id)))
        return [p for p in s.scalars(scope) if p not in done]


def decide_batch(
    factory: sessionmaker[Session],
    runtime: Runtime,
    mine: jobs.Claim,
    person_ids: Sequence[uuid.UUID],
    cache: decisions.DecisionCache | None = None,
) -> int:
    """Decide a few people in one transaction under the fencing token; how many went into the ledger.

    A fixed number of queries whatever the batch's size: the people are locked by one statement (in id
    order), the erased among them found by one, and their histories read by ``history.histories_of``.
    ``cache`` is the build's own (``decisions.DecisionCache``), so ``decide()`` runs once per distinct history.
    """
    with unit_of_work(factory) as s:
        jobs.hold_fence(s, mine)
        export = s.get(ExportRequest, mine.export_id)
        assert export is not None
        recipient = s.get(Recipient, export.recipient_id)
        assert recipient is not None
        entry = history.recipient_of(recipient)
        deny = history.deny_list_of(s)
        maximum = DisclosureLevel(export.max_disclosure_level)
        people = hold_all(s, person_ids)  # those erased since the scope was listed are gone from people
        gone = erased.erased_among(s, [p.id for p in people])  # erased: nothing of them opens
        people = [p for p in people if p.id not in gone]
        now = db_now(s)  # after the locks: a withdrawal that held one is in the histories read next
        histories = history.histories_of(s, runtime, people)
        rows: list[dict[str, object]] = []
        for person in people:
            decider = decisions.decider_for(histories[person.id], export.purpose, entry, now, deny, cache)
            outcome = decisions.disclosure(decider, export.categories, maximum)
            if outcome is None:
                continue
            rows.append(
                {
                    "id": new_id(),
                    "export_id": export.id,
                    "person_id": person.id,
                    "recipient_id": export.recipient_id,
                    "categories": list(outcome.categories),
                    "grant_ids": list(outcome.grant_ids),
                    "level": outcome.level.value,
                    "code": secrets.token_hex(8),
                    "decided_at": now,
                    "submitted_to_proceedings": False,
                }
            )
        if rows:  # one executemany for the batch's ledger rows, no ORM object kept for any of them
            s.execute(insert(DisclosureEntry), rows)
        written = len(rows)
    return written


def _finish(factory: sessionmaker[Session], runtime: Runtime, mine: jobs.Claim, in_scope: int) -> None:
    with unit_of_work(factory) as s:
        jobs.hold_fence(s, mine)
        export = s.get(ExportRequest, mine.export_id, with_for_update=True)
        assert export is not None
        levels = _levels(s, export.id)  # the ledger's rows counted by level: no row of it held
        entries = sum(levels.values())
        write_bundle(s, runtime, export, excluded=max(in_scope - entries, 0))
        move(
            s,
            export,
            ExportStatus.READY,
            was=ExportStatus.BUILDING,
            people_count=entries,
            excluded_count=max(in_scope - entries, 0),
            level_counts=dict(sorted(levels.items())),
        )
        # Each person whose records the approval let go is to be told (one task each): a ready export has them.
        feedback.open_approval_tasks(s, runtime, export.id)
        jobs.finish(s, mine, jobs.JobState.DONE, db_now(s))
        audit.append(s, _trail(export.id), audit.Outcome.ALLOWED)


def _levels(session: Session, export_id: uuid.UUID) -> dict[str, int]:
    counted = session.execute(
        select(DisclosureEntry.level, func.count())
        .where(DisclosureEntry.export_id == export_id)
        .group_by(DisclosureEntry.level)
    )
    return {level: int(n) for level, n in counted}


def _fail(factory: sessionmaker[Session], mine: jobs.Claim) -> None:
    with unit_of_work(factory) as s:
        jobs.hold_fence(s, mine)
        export = s.get(ExportRequest, mine.export_id, with_for_update=True)
        assert export is not None
        status = ExportStatus(export.status)
        if status in (ExportStatus.APPROVED, ExportStatus.BUILDING):
            move(s, export, ExportStatus.FAILED, was=status, failure=FAILED_BUILD)
        jobs.finish(s, mine, jobs.JobState.FAILED, db_now(s))
        audit.append(s, _trail(export.id), audit.Outcome.FAILED)


def _trail(export_id: uuid.UUID) -> audit.Trail:
    return audit.Trail(
        action=AuditAction.EXPORT_BUILD, actor=WORKER.actor, resource_type="export", resource_id=str(export_id)
    )


Progress = Callable[[str, int, int], None]
"""Told ``(stage, done, total)`` as a build goes: ``decide`` after each batch, then ``write`` once at the end."""


@contextmanager
def _quiet_collector() -> Iterator[None]:
    """The cyclic garbage collector, while a build runs, leaves alone what the process held before it
    (modules, mappers, the forms: ``gc.freeze``) and runs its youngest pass less often. A build allocates
    many short-lived objects (rows, documents), each freed by its reference count when its page is done;
    without this, every full collection walked everything the process holds, about a fifth of the build's CPU.
    Process-wide, so counted: the first build in the process to start sets it, the last to end puts it back."""
    with _COLLECTOR_LOCK:
        if not _COLLECTOR_SAVED:
            _COLLECTOR_SAVED.append(gc.get_threshold())
            gc.freeze()
            young, *older = _COLLECTOR_SAVED[0]
            gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
        _COLLECTOR_USERS.append(None)
    try:
        yield
    finally:
        with _COLLECTOR_LOCK:
            _COLLECTOR_USERS.pop()
            if not _COLLECTOR_USERS:
                gc.set_threshold(*_COLLECTOR_SAVED.pop())
                gc.unfreeze()


YOUNG_THRESHOLD = 50_000
"""Allocations between two passes of the collector over the youngest objects while a build runs (700 by default)."""
_COLLECTOR_LOCK = threading.Lock()
_COLLECTOR_SAVED: list[tuple[int, int, int]] = []
"""The thresholds before the first running build set them (empty: no build runs)."""
_COLLECTOR_USERS: list[None] = []
"""One item per build running in this process."""


def run_build(
    factory: sessionmaker[Session],
    runtime: Runtime,
    mine: jobs.Claim,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> ExportStatus | None:
    """Build the claimed export; its final status, or None when the claim was lost (another worker builds)."""
    with _quiet_collector():
        return _run_build(factory, runtime, mine, batch, progress or (lambda _stage, _done, _total: None))


def _run_build(
    factory: sessionmaker[Session], runtime: Runtime, mine: jobs.Claim, batch: int, tell: Progress
) -> ExportStatus | None:
    try:
        todo = _start(factory, mine)
        if todo is None:
            return None
        done_before = _count(factory, mine.export_id)
        cache = decisions.DecisionCache()  # this build's only: dropped when it returns
        done = 0
        tell("decide", done, len(todo))
        for chunk in _chunks(todo, batch):
            decide_batch(factory, runtime, mine, chunk, cache)
            done += len(chunk)
            tell("decide", done, len(todo))
        in_scope = done_before + len(todo)
        del todo, cache  # a person id each, and the decisions: not held while the bundle is written
        tell("write", 0, 1)
        _finish(factory, runtime, mine, in_scope)
        tell("write", 1, 1)
        return ExportStatus.READY
    except jobs.LeaseLost:
        log.warning("export build lost its lease; another worker holds the job")
        return None
    except Exception as exc:
        log.error("export build failed: %s", type(exc).__name__)
        try:
            _fail(factory, mine)
        except jobs.LeaseLost:
            return None
        return ExportStatus.FAILED


def _count(factory: sessionmaker[Session], export_id: uuid.UUID | None) -> int:
    with unit_of_work(factory) as s:
        counted = s.scalar(
            select(func.count()).select_from(DisclosureEntry).where(DisclosureEntry.export_id == export_id)
        )
        return int(counted or 0)
