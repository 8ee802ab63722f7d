"""KEK rotation and re-wrapping started from the Keys page, run by a worker; and a signing-key rotation, at once.

An admin with a fresh second factor starts one (``start``): it is queued as a job of the job table (kind
``keys``, beside the export builds) with a ``key_jobs`` row naming the operation and the primary KEK the
admin saw. A worker (``testimony worker``) claims it with a lease and runs ``app.keys.service.rotate`` or
``rewrap`` under the job's fencing token: every transaction of the operation first checks the lease
(``jobs.hold_fence``), so a worker that lost its job writes nothing more, and the sweeper queues the job of a
worker that died; the next claim resumes it (``service.rotate`` makes no new KEK once ``kek_from`` is no longer
primary). At most one key job is queued or running at a time (a partial unique index), and a new KEK is decided
under ``service.lock_key_changes``, so two admins, or the page and the command line, never make two.

The HTTP request only queues: nothing is re-wrapped inside it. Ids, versions and counts only, never content.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.core.db import db_now, unit_of_work
from app.core.errors import Conflict
from app.crypto.errors import KeyringError
from app.exports import jobs
from app.exports.models import ExportJob
from app.keys import service
from app.keys.models import KeyJob
from app.keys.store import EnvKeyStore, KeyStore

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

log = logging.getLogger("testimony.keys")

BATCH = 2000
"""Data keys re-wrapped per transaction (as `testimony keys rotate`)."""

MATERIAL_REFUSED = (
    "the keys come from TESTIMONY_KEYS__MATERIAL, which cannot be changed from here: rotate them with a key "
    "file on the server, as the operations guide says"
)
ALREADY_RUNNING = "a key rotation or re-wrap is already queued or running; wait for it to end"
ROTATED_MEANWHILE = "the keys changed since this page was shown; read it again"
NOTHING_TO_REWRAP = "no data key is waiting to be re-wrapped"
NOT_SAVED = (
    "the key store refused to save the new keys; nothing changed: rotate them on the server, as the operations guide "
    "says"
)


class Operation(StrEnum):
    ROTATE = "rotate"
    REWRAP = "rewrap"


ACTIONS = {Operation.ROTATE: AuditAction.KEYS_ROTATE, Operation.REWRAP: AuditAction.KEYS_REWRAP}


def can_save(store: KeyStore) -> bool:
    """Whether a rotation can store a new keyring: not in TESTIMONY_KEYS__MATERIAL, nor with a provider that says
    it cannot write (``writable = False`` on the provider's store)."""
    return not isinstance(store, EnvKeyStore) and bool(getattr(store, "writable", True))


@dataclass(frozen=True)
class KeyJobView:
    """What the Keys page shows of the latest key job."""

    id: uuid.UUID
    operation: str
    state: str
    """queued, running, done or failed (a JobState)."""
    kek_from: int
    kek_to: int | None
    total: int | None
    done: int
    unreadable: int
    retired: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.state in (jobs.JobState.QUEUED, jobs.JobState.RUNNING)


def latest(session: Session, principal: Principal) -> KeyJobView | None:
    """The most recent key job, if any."""
    policy.require(principal, policy.Action.KEYS_MANAGE)
    row = session.execute(
        select(KeyJob, ExportJob.state, ExportJob.finished_at)
        .join(ExportJob, ExportJob.id == KeyJob.id)
        .order_by(KeyJob.created_at.desc(), KeyJob.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    job, state, finished_at = row
    return KeyJobView(
        id=job.id,
        operation=job.operation,
        state=state,
        kek_from=job.kek_from,
        kek_to=job.kek_to,
        total=job.total,
        done=job.done,
        unreadable=job.unreadable,
        retired=job.retired,
        created_at=job.created_at,
        finished_at=finished_at,
    )


def start(session: Session, runtime: Runtime, principal: Principal, operation: Operation, kek_seen: int) -> uuid.UUID:
    """Queue a rotation or a re-wrap for a worker; its job id. ``kek_seen``: the primary KEK the admin saw.

    Refused (409, nothing written) when the keys cannot be saved (TESTIMONY_KEYS__MATERIAL), when the keys
    changed since the page was shown, when a key job is already queued or running, and for a re-wrap with
    nothing to re-wrap."""
    policy.require(principal, policy.Action.KEYS_MANAGE)
    now = db_now(session)
    policy.require_step_up(principal, policy.Action.KEYS_MANAGE, now)
    if not can_save(runtime.keys.store):
        raise Conflict(MATERIAL_REFUSED)
    keyring = runtime.keys.for_wrapping()
    if keyring.kek_primary != kek_seen:
        raise Conflict(ROTATED_MEANWHILE)
    if operation is Operation.REWRAP and service.status(session, principal, keyring).pending_rewrap == 0:
        raise Conflict(NOTHING_TO_REWRAP)
    job = jobs.enqueue_key_job(session, now)
    if job is None:
        raise Conflict(ALREADY_RUNNING)
    assert principal.user_id is not None  # a browser session's admin (require_step_up refuses anything else)
    session.add(
        KeyJob(
            id=job.id,
            operation=operation,
            kek_from=keyring.kek_primary,
            done=0,
            unreadable=0,
            requested_by=principal.user_id,
            created_at=now,
        )
    )
    session.flush()
    audit.touch(session, resource_id=job.id)
    return job.id


def rotate_signing(session: Session, runtime: Runtime, principal: Principal, key_seen: str) -> service.SigningRotation:
    """Make a new signing key from the Keys page, at once (no job: one keyring change); ``key_seen``: the signing
    key id the admin saw.

    ``service.rotate_signing`` as `testimony keys rotate-signing` runs it, under the request's transaction: the
    database's key-change lock is taken in it, so the page's audit event commits with the change. Refused (409,
    nothing changed) when the keys cannot be saved here, when another rotation made a new signing key since the page
    was shown (two admins at once make one new key), or when the store refuses the save."""
    policy.require(principal, policy.Action.KEYS_MANAGE)
    policy.require_step_up(principal, policy.Action.KEYS_MANAGE, db_now(session))
    store = runtime.keys.store
    if not can_save(store):
        raise Conflict(MATERIAL_REFUSED if isinstance(store, EnvKeyStore) else NOT_SAVED)
    try:
        result = service.rotate_signing(principal, store, session=session, key_seen=key_seen)
    except KeyringError:  # its words may name paths or a provider's internals: the page gets fixed ones
        log.warning("the key store refused to save a new signing key")
        raise Conflict(NOT_SAVED) from None
    audit.touch(session, resource_id=result.new_key_id)
    return result


def _set(session: Session, job_id: uuid.UUID, **values: object) -> None:
    session.execute(
        update(KeyJob).where(KeyJob.id == job_id).values(**values).execution_options(synchronize_session=False)
    )


def _record(session: Session, operation: Operation, outcome: audit.Outcome, job_id: uuid.UUID) -> None:
    system = Principal.system("worker")
    trail = audit.Trail(action=ACTIONS[operation], actor=system.actor, resource_type="key_job", resource_id=str(job_id))
    audit.append(session, trail, outcome)


def run(factory: sessionmaker[Session], runtime: Runtime, mine: jobs.Claim, *, batch: int = BATCH) -> str | None:
    """Run the claimed key job to its end; the job's final state, or None when the claim was lost (another
    worker goes on with it, from where this one stopped)."""
    system = Principal.system("worker")

    def fence(session: Session) -> None:
        jobs.hold_fence(session, mine)

    def on_start(total: int) -> None:
        with unit_of_work(factory) as s:
            fence(s)
            _set(s, mine.job_id, total=total, done=0)

    def on_batch(n: int) -> None:
        with unit_of_work(factory) as s:
            fence(s)
            _set(s, mine.job_id, done=KeyJob.done + n)

    operation: Operation | None = None
    try:
        with unit_of_work(factory) as s:
            fence(s)
            row = s.get(KeyJob, mine.job_id)
            if row is None:  # a key job without its row: nothing to run
                jobs.finish(s, mine, jobs.JobState.FAILED, db_now(s))
                return jobs.JobState.FAILED
            operation, kek_from = Operation(row.operation), row.kek_from
            if row.total is None:
                _record(s, operation, audit.Outcome.STARTED, mine.job_id)
        store = runtime.keys.store
        if operation is Operation.ROTATE:
            result = service.rotate(
                system,
                factory,
                store,
                batch_size=batch,
                on_start=on_start,
                on_batch=on_batch,
                kek_from=kek_from,
                fence=fence,
            )
        else:
            result = service.rewrap(
                system, factory, store, batch_size=batch, on_start=on_start, on_batch=on_batch, fence=fence
            )
        state = jobs.JobState.FAILED if result.unreadable else jobs.JobState.DONE
        with unit_of_work(factory) as s:
            fence(s)
            _set(
                s,
                mine.job_id,
                kek_to=result.kek_primary,
                unreadable=len(result.unreadable),
                retired=",".join(map(str, result.retired)) or None,
            )
            outcome = audit.Outcome.FAILED if result.unreadable else audit.Outcome.ALLOWED
            _record(s, operation, outcome, mine.job_id)
            jobs.finish(s, mine, state, db_now(s))
        return state
    except jobs.LeaseLost:
        log.warning("key job lost its lease; another worker holds the job")
        return None
    except Exception as exc:
        log.error("key job failed: %s", type(exc).__name__)
        try:
            with unit_of_work(factory) as s:
                fence(s)
                if operation is not None:
                    _record(s, operation, audit.Outcome.FAILED, mine.job_id)
                jobs.finish(s, mine, jobs.JobState.FAILED, db_now(s))
        except jobs.LeaseLost:
            return None
        return jobs.JobState.FAILED
