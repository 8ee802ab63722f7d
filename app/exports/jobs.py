"""The job table's rules: enqueue, claim, renew, write under the fencing token, finish, sweep.

A job is claimed by one conditional UPDATE that takes the lease and raises ``fencing``; on PostgreSQL the
candidate row is first selected ``FOR UPDATE SKIP LOCKED``, so workers claiming at once take different jobs
instead of waiting on each other; on SQLite (one writer at a time) the conditional UPDATE alone decides.
Every transaction a build commits starts with ``hold_fence``: it locks the job row only if ``fencing`` is still
the claim's, so a worker whose lease was swept and claimed again can write nothing more (its transaction
fails with ``LeaseLost`` and rolls back); on SQLite it renews the lease as it does, so a build whose
transactions follow each other closely keeps its lease even when the heartbeat cannot get in between them (one
writer at a time); on PostgreSQL its lock (``FOR KEY SHARE``) lets the heartbeat renew beside it. The job row
lock also orders the sweeper after a build transaction in flight. Each function works in the caller's
transaction; the caller commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import changed_rows, db_now, new_id
from app.exports.models import ExportJob

LEASE = timedelta(seconds=60)
"""How long a claim holds without a heartbeat."""
HEARTBEAT = timedelta(seconds=15)
"""How often a worker renews its lease while it builds."""
MAX_ATTEMPTS = 3
"""Claims after which a job whose workers keep dying is failed rather than queued again."""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobKind(StrEnum):
    EXPORT = "export"
    """An export's build (``app.exports.build``)."""
    KEYS = "keys"
    """A KEK rotation or a re-wrap (``app.keys.rotation``); at most one queued or running at a time."""


class LeaseLost(Exception):
    """This worker's claim is no longer the job's: another worker holds it, or it was swept."""


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    export_id: uuid.UUID | None
    """The export a build job builds; None for a key job."""
    owner: str
    fencing: int
    lease: timedelta = LEASE
    """The lease the claim was taken with: what ``hold_fence`` renews it by."""
    kind: JobKind = JobKind.EXPORT


def enqueue(session: Session, export_id: uuid.UUID, now: datetime) -> ExportJob:
    """A job for the export's build (one per export: the unique export_id refuses a second)."""
    job = ExportJob(
        id=new_id(),
        kind=JobKind.EXPORT,
        export_id=export_id,
        state=JobState.QUEUED,
        fencing=0,
        attempts=0,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def enqueue_key_job(session: Session, now: datetime) -> ExportJob | None:
    """A key job, or None when one is already queued or running (the partial unique index decides, also between
    two transactions at once: the second waits for the first and is refused). The caller's transaction goes on
    either way."""
    job = ExportJob(id=new_id(), kind=JobKind.KEYS, state=JobState.QUEUED, fencing=0, attempts=0, created_at=now)
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        return None
    return job


def claim(
    session: Session,
    owner: str,
    now: datetime,
    lease: timedelta = LEASE,
    *,
    export_id: uuid.UUID | None = None,
    kind: JobKind = JobKind.EXPORT,
) -> Claim | None:
    """Take the oldest queued job of this kind (or the job of ``export_id``), or None when there is none (or
    another worker took it first)."""
    candidate = (
        select(ExportJob.id, ExportJob.export_id, ExportJob.fencing)
        .where(ExportJob.state == JobState.QUEUED, ExportJob.kind == kind)
        .order_by(ExportJob.created_at, ExportJob.id)
        .limit(1)
    )
    if export_id is not None:
        candidate = candidate.where(ExportJob.export_id == export_id)
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    row = session.execute(candidate).first()
    if row is None:
        return None
    job_id, export_id, seen = row
    taken = session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.fencing == seen, ExportJob.state == JobState.QUEUED)
        .values(
            state=JobState.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + lease,
            heartbeat_at=now,
            fencing=ExportJob.fencing + 1,
            attempts=ExportJob.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if changed_rows(taken) != 1:
        return None
    return Claim(job_id, export_id, owner, seen + 1, lease, kind)


def renew(session: Session, mine: Claim, now: datetime, lease: timedelta = LEASE) -> bool:
    """The heartbeat: extend the lease while the claim is still the job's and has not lapsed; False when it is
    lost. A lapsed lease is not revived: it is the sweeper's to queue again."""
    renewed = session.execute(
        update(ExportJob)
        .where(
            ExportJob.id == mine.job_id,
            ExportJob.fencing == mine.fencing,
            ExportJob.state == JobState.RUNNING,
            ExportJob.lease_expires_at > now,
        )
        .values(lease_expires_at=now + lease, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(renewed) == 1


def hold_fence(session: Session, mine: Claim) -> None:
    """Take the job row under this claim's fencing token while its lease runs (at the database clock), or raise
    LeaseLost: first in every build transaction. A worker whose lease lapsed writes nothing more, even before the
    sweeper has queued its job again. While the transaction holds the row, nobody can take the job over; the
    worker's session timeouts bound how long a stalled transaction can hold it (``worker.session_settings``).

    PostgreSQL: the row is locked ``FOR KEY SHARE``, which the sweeper's ``FOR UPDATE SKIP LOCKED`` skips and a
    claim cannot take, but which the heartbeat's UPDATE (``renew``: no key column changes) does not wait for, so
    the lease is renewed by the heartbeat thread beside a long build transaction (the bundle's) instead of
    waiting behind it until the statement timeout.

    SQLite: the row is updated, renewing the lease by ``mine.lease`` (the build's own heartbeat): each build
    transaction takes the one write lock at once, so the heartbeat thread may not get it between two of them;
    the next transaction then still finds the lease running as long as each transaction is shorter than the
    lease."""
    now = db_now(session)
    running = (
        ExportJob.id == mine.job_id,
        ExportJob.fencing == mine.fencing,
        ExportJob.state == JobState.RUNNING,
        ExportJob.lease_expires_at > now,
    )
    if session.get_bind().dialect.name == "postgresql":
        held = session.execute(select(ExportJob.id).where(*running).with_for_update(read=True, key_share=True)).first()
        if held is None:
            raise LeaseLost
    else:
        renewed = session.execute(
            update(ExportJob)
            .where(*running)
            .values(lease_expires_at=now + mine.lease, heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        if changed_rows(renewed) != 1:
            raise LeaseLost
    session.info[_fenced(mine)] = now


def _fenced(mine: Claim) -> tuple[str, uuid.UUID, int]:
    return ("export_job_fenced_at", mine.job_id, mine.fencing)


def finish(session: Session, mine: Claim, state: JobState, now: datetime) -> None:
    """Close the job under this claim's token (done or failed) while its lease runs, or raise LeaseLost.

    The lease must run at the time this transaction took the job row (``hold_fence``), or at ``now`` when it
    did not: from then on the transaction holds the row, so a long last transaction (the bundle's) may finish.
    """
    fenced_at: datetime = session.info.get(_fenced(mine), now)
    closed = session.execute(
        update(ExportJob)
        .where(
            ExportJob.id == mine.job_id,
            ExportJob.fencing == mine.fencing,
            ExportJob.state == JobState.RUNNING,
            ExportJob.lease_expires_at > fenced_at,
        )
        .values(state=state, finished_at=now, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(closed) != 1:
        raise LeaseLost


def requeue_failed(session: Session, export_id: uuid.UUID) -> bool:
    """Queue a failed job again, its claims counted from zero; False when the export's job is not failed.

    The fencing token is kept: the next claim raises it, so nothing of an earlier attempt can write."""
    queued = session.execute(
        update(ExportJob)
        .where(ExportJob.export_id == export_id, ExportJob.state == JobState.FAILED)
        .values(state=JobState.QUEUED, attempts=0, finished_at=None, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(queued) == 1


@dataclass(frozen=True)
class Swept:
    requeued: list[uuid.UUID]
    """Exports whose build is queued again after its worker stopped renewing."""
    failed: list[uuid.UUID]
    """Exports whose build has now been claimed MAX_ATTEMPTS times without finishing."""


def sweep(session: Session, now: datetime) -> Swept:
    """Reclaim expired leases: queued again, or failed after MAX_ATTEMPTS claims.

    The fencing token is left as it is; the next claim raises it, which is what locks the dead worker out.
    """
    expired = list(
        session.execute(
            select(ExportJob.id, ExportJob.export_id, ExportJob.fencing, ExportJob.attempts)
            .where(ExportJob.state == JobState.RUNNING, ExportJob.lease_expires_at <= now)
            .order_by(ExportJob.id)
            .with_for_update(skip_locked=session.get_bind().dialect.name == "postgresql")
        )
    )
    requeued: list[uuid.UUID] = []
    failed: list[uuid.UUID] = []
    for job_id, export_id, fencing, attempts in expired:
        give_up = attempts >= MAX_ATTEMPTS
        changed = session.execute(
            update(ExportJob)
            .where(ExportJob.id == job_id, ExportJob.fencing == fencing, ExportJob.state == JobState.RUNNING)
            .values(
                state=JobState.FAILED if give_up else JobState.QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now if give_up else None,
            )
            .execution_options(synchronize_session=False)
        )
        if changed_rows(changed) == 1 and export_id is not None:  # a key job's state is all it has to change
            (failed if give_up else requeued).append(export_id)
    return Swept(requeued, failed)
