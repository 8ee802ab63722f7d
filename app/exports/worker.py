"""The export worker: sweep expired leases, claim a job, build it while a heartbeat thread renews the lease.

It runs the key jobs of the job table too (a KEK rotation or a re-wrap started from the Keys page,
``app.keys.rotation``), before any export build.

Several workers (on several hosts) may run at once: the claim decides which one builds, the fencing token
keeps a worker whose lease lapsed from writing, and the sweeper queues the job of a worker that died.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import db_now, make_engine, make_sessionmaker, unit_of_work
from app.exports import build, expiry, jobs
from app.exports.models import ExportRequest
from app.exports.schemas import ExportStatus
from app.exports.service import move
from app.keys import rotation

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

log = logging.getLogger("testimony.exports")


def session_settings(settings: Settings) -> dict[str, str]:
    """The PostgreSQL session parameters of the worker's connections: a stuck statement is cancelled, and a
    worker that stalls inside a transaction loses its connection, so neither holds a job row or a person's
    lock (which withdrawals, erasure and downloads wait for) for long. The lease's fence then keeps it from
    writing anything more."""
    exports = settings.exports
    return {
        "statement_timeout": f"{exports.worker_statement_timeout_seconds}s",
        "idle_in_transaction_session_timeout": f"{exports.worker_idle_in_transaction_seconds}s",
    }


def worker_name() -> str:
    """Who holds a lease: host, process and a random part, so two workers never share a name."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Heartbeat:
    """Renews a claim's lease every ``every`` until stopped; ``lost`` is set when the claim is no longer the job's.

    On SQLite the beat has its own connection whose busy timeout is the lease's margin (``lease - every``): a
    build transaction holds the one write lock, and a beat that gave up after the usual few seconds would miss
    while the lease still had time to run; it waits instead and renews once the lock is free. Each build
    transaction also renews the lease itself (``jobs.hold_fence``). On PostgreSQL a build transaction holds the
    job row only ``FOR KEY SHARE``, so a beat renews beside it at once, however long it runs."""

    def __init__(self, factory: sessionmaker[Session], mine: jobs.Claim, lease: timedelta, every: timedelta) -> None:
        self.mine, self.lease, self.every = mine, lease, every
        self.factory, self._engine = _beat_factory(factory, lease - every)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="export-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every.total_seconds()):
            try:
                with unit_of_work(self.factory) as s:
                    if not jobs.renew(s, self.mine, db_now(s), self.lease):
                        self.lost.set()
                        return
            except OperationalError as exc:
                if _write_lock_held(exc):  # a long build transaction holds it, and renews the lease itself
                    log.info("export heartbeat deferred: the database's write lock is held")
                else:
                    log.warning("export heartbeat failed: %s", type(exc).__name__)
            except Exception as exc:  # a missed beat is retried; the lease covers a few
                log.warning("export heartbeat failed: %s", type(exc).__name__)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._engine is not None:
            self._engine.dispose()


MIN_BEAT_WAIT = timedelta(milliseconds=100)


def _write_lock_held(exc: OperationalError) -> bool:
    """SQLite's busy answer: another connection (the build's own, for the bundle) held the write lock past the
    beat's wait. Only a fixed message is looked for; nothing of the error is logged."""
    return "database is locked" in str(exc.orig)


def _beat_factory(factory: sessionmaker[Session], wait: timedelta) -> tuple[sessionmaker[Session], Engine | None]:
    """The sessions the heartbeat renews in, and the engine made for them (None: the build's own factory)."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return factory, None  # PostgreSQL: a build holds the job row FOR KEY SHARE, which a beat does not wait for
    waits = max(wait, MIN_BEAT_WAIT)
    engine = make_engine(
        bind.url.render_as_string(hide_password=False), busy_timeout_ms=int(waits / timedelta(milliseconds=1))
    )
    return make_sessionmaker(engine), engine


@dataclass
class Worker:
    factory: sessionmaker[Session]
    runtime: Runtime
    name: str = field(default_factory=worker_name)
    lease: timedelta = jobs.LEASE
    heartbeat: timedelta = jobs.HEARTBEAT

    def sweep(self) -> jobs.Swept:
        """Queue again the jobs whose lease expired; fail the export of one that kept dying."""
        with unit_of_work(self.factory) as s:
            swept = jobs.sweep(s, db_now(s))
            for export_id in swept.failed:
                export = s.get(ExportRequest, export_id, with_for_update=True)
                if export is not None and export.status in (ExportStatus.APPROVED, ExportStatus.BUILDING):
                    move(s, export, ExportStatus.FAILED, was=ExportStatus(export.status), failure=build.FAILED_BUILD)
        return swept

    def claim(self) -> jobs.Claim | None:
        """A key job first (a rotation is the remedy for a leaked key), then the oldest export build."""
        with unit_of_work(self.factory) as s:
            mine = jobs.claim(s, self.name, db_now(s), self.lease, kind=jobs.JobKind.KEYS)
        if mine is not None:
            return mine
        with unit_of_work(self.factory) as s:
            return jobs.claim(s, self.name, db_now(s), self.lease)

    def sweep_bundles(self) -> list[uuid.UUID]:
        """Delete the bundles of ready exports nobody may download any more (``app.exports.expiry``)."""
        try:
            with unit_of_work(self.factory) as s:
                return expiry.sweep_bundles(s, self.runtime)
        except Exception as exc:  # a bundle left a while longer is no reason to stop building
            log.error("bundle sweep failed: %s", type(exc).__name__)
            return []

    def run_once(self) -> bool:
        """Sweep leases and spent bundles, then claim and build one job; False when there was none to claim."""
        self.sweep()
        self.sweep_bundles()
        mine = self.claim()
        if mine is None:
            return False
        with Heartbeat(self.factory, mine, self.lease, self.heartbeat):
            if mine.kind is jobs.JobKind.KEYS:
                rotation.run(self.factory, self.runtime, mine)
            else:
                build.run_build(self.factory, self.runtime, mine)
        return True

    def build_one(self, export_id: uuid.UUID, progress: build.Progress | None = None) -> ExportStatus | None:
        """Claim the queued job of this export and build it here, telling ``progress``; None when there was no
        such job to claim (another worker took it first)."""
        with unit_of_work(self.factory) as s:
            mine = jobs.claim(s, self.name, db_now(s), self.lease, export_id=export_id)
        if mine is None:
            return None
        with Heartbeat(self.factory, mine, self.lease, self.heartbeat):
            return build.run_build(self.factory, self.runtime, mine, progress=progress)

    def run(self, stop: threading.Event, idle: timedelta = timedelta(seconds=2)) -> None:
        """Work until ``stop`` is set, waiting ``idle`` whenever no job is queued."""
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception as exc:  # the database away for a moment: wait, then try again
                log.error("export worker: %s", type(exc).__name__)
                worked = False
            if not worked:
                stop.wait(idle.total_seconds())
