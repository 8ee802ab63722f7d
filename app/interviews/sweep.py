"""The sweeper: abandoned uploads and the temp blobs a crash left behind.

It runs at start-up and then every ``attachments.sweep_every_minutes`` in each worker (app/main.py);
several workers sweeping at once do no harm, since every step takes the temp blob exclusively
first and every deletion of a row is conditional.

1. A resumable upload whose ``expires_at`` has passed loses its row and its temp blob, unless a
   transfer holds the blob right now (it is looked at again next time).
2. A temp blob nobody holds and unchanged for ``temp_grace_minutes`` is decided by the database:
   - its attachment row exists: the row committed and the process died before the rename, so the
     rename is done now (rolled forward, never lost); unless the final blob is already there, which
     then stands (a final blob is never replaced) and the temp blob goes;
   - its upload row exists: a resumable upload between transfers, kept;
   - neither: a failed or abandoned transfer, removed.

A key that fails (an I/O error, say) is logged by id and error type and counted in ``failed``; the
pass goes on with the next, and the key is tried again next time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.blobstore import BlobBusy, BlobStore, TempBlob
from app.core.config import AttachmentSettings
from app.core.db import db_now, unit_of_work
from app.interviews.models import Attachment, AttachmentUpload

log = logging.getLogger("testimony.attachments")


@dataclass
class SweepReport:
    expired_uploads: int = 0
    removed_temps: int = 0
    finalised: int = 0
    busy: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def sweep(factory: sessionmaker[Session], store: BlobStore, settings: AttachmentSettings) -> SweepReport:
    """One pass of the sweeper; see the module's docstring."""
    report = SweepReport()
    with unit_of_work(factory) as session:
        now = db_now(session)
        expired = list(session.scalars(select(AttachmentUpload.id).where(AttachmentUpload.expires_at <= now)))
    for upload_id in expired:
        _guarded(upload_id.hex, report, partial(_expire, factory, store, upload_id, report))
    for key in store.stale_temps(settings.temp_grace_minutes * 60):
        _guarded(key, report, partial(_settle_temp, factory, store, key, report))
    if report.expired_uploads or report.removed_temps or report.finalised or report.failed:
        log.info(
            "sweeper: %d abandoned uploads, %d temp blobs removed, %d blobs made final, %d failed",
            report.expired_uploads,
            report.removed_temps,
            report.finalised,
            len(report.failed),
        )
    return report


def _guarded(key: str, report: SweepReport, step: Callable[[], None]) -> None:
    """One key's step; its failure is logged (the id and the error's type, never a message) and the pass goes on."""
    try:
        step()
    except Exception as exc:
        log.warning("sweeper: could not settle blob %s: %s", key, type(exc).__name__)
        report.failed.append(key)


def _hold(store: BlobStore, key: str, report: SweepReport) -> tuple[bool, TempBlob | None]:
    """(free, blob): the temp blob held exclusively, or None when there is none; not free when busy."""
    try:
        return True, store.open_temp(key)
    except BlobBusy:
        report.busy.append(key)
        return False, None


def _expire(factory: sessionmaker[Session], store: BlobStore, upload_id: uuid.UUID, report: SweepReport) -> None:
    free, temp = _hold(store, upload_id.hex, report)
    if not free:
        return
    try:
        with unit_of_work(factory) as session:
            gone = session.execute(
                delete(AttachmentUpload).where(
                    AttachmentUpload.id == upload_id, AttachmentUpload.expires_at <= db_now(session)
                )
            )
            removed = getattr(gone, "rowcount", 0) == 1
    except BaseException:
        if temp is not None:
            temp.close()
        raise
    if not removed:  # resumed meanwhile
        if temp is not None:
            temp.close()
        return
    report.expired_uploads += 1
    if temp is not None:
        temp.discard()
        report.removed_temps += 1


def _settle_temp(factory: sessionmaker[Session], store: BlobStore, key: str, report: SweepReport) -> None:
    free, temp = _hold(store, key, report)
    if not free or temp is None:
        return
    try:
        object_id = uuid.UUID(hex=key)
        with unit_of_work(factory) as session:
            committed = session.get(Attachment, object_id) is not None
            resumable = session.get(AttachmentUpload, object_id) is not None
    except BaseException:
        temp.close()
        raise
    if committed and store.exists(key):
        # The final blob is the one whose row committed: a temp blob beside it is a leftover (a transfer
        # that lost the race to complete the upload), never a replacement.
        temp.discard()
        report.removed_temps += 1
    elif committed:
        temp.finalise()
        report.finalised += 1
    elif resumable:
        temp.close()
    else:
        temp.discard()
        report.removed_temps += 1
