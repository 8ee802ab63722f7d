"""What erasing a person does to exports: bundles holding them go, ready exports go stale, and every export
already downloaded gets a recall notice for them.

People and erasure cannot import exports (the import contracts), so this module listens: importing it
registers ``on_erasure`` with ``app.people.erased`` (``app/models.py`` imports it). An erasure then calls it
in its own transaction, under the person's lock, after the person's data key is gone. The disclosure ledger
rows stay: they hold ids, codes, categories and grant ids, never content, and still answer "where did my
data go?". No feedback task is opened, and the person's open ones close as ``not_contactable``: the safe
channel to tell the survivor was sealed under the erased key. Recall notices stay open until the recipient is
told: they hold the export, the recipient and the person's per-export code, never content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.db import db_now
from app.exports import recalls, service, stored
from app.exports.models import DisclosureEntry, DisclosureFeedback, ExportRequest, RecallNotice
from app.exports.schemas import ExportStatus, FeedbackState
from app.people import erased
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def on_erasure(session: Session, runtime: Runtime, person: Person) -> None:
    """For each export whose ledger holds the person: erase its bundle, make it stale if it was ready, and
    raise a recall notice if it was downloaded (one per ledger row)."""
    rows = session.execute(
        select(DisclosureEntry, ExportRequest)
        .join(ExportRequest, ExportRequest.id == DisclosureEntry.export_id)
        .where(DisclosureEntry.person_id == person.id)
        .order_by(ExportRequest.id)
        .with_for_update(of=ExportRequest)
    ).all()
    noticed = set(session.scalars(select(RecallNotice.ledger_id).where(RecallNotice.person_id == person.id)))
    now = db_now(session)
    for row, export in rows:
        if export.status == ExportStatus.READY:
            service.move(session, export, ExportStatus.STALE, was=ExportStatus.READY)
        stored.erase_bundle(session, runtime.bundles, export.id)
        if export.downloads > 0 and row.id not in noticed:
            recalls.open_notice(session, row, export, now)
    session.execute(
        update(DisclosureFeedback)
        .where(DisclosureFeedback.person_id == person.id, DisclosureFeedback.state == FeedbackState.OPEN.value)
        .values(state=FeedbackState.NOT_CONTACTABLE.value, closed_at=now, closed_by=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def hold_after_restore(session: Session, runtime: Runtime) -> int:
    """After a restore: every ready export goes stale and its bundle is erased, so nothing built before the
    backup is downloaded until it is asked for, approved and built again under today's consent."""
    held = 0
    for export in session.scalars(
        select(ExportRequest).where(ExportRequest.status == ExportStatus.READY).with_for_update()
    ):
        service.move(session, export, ExportStatus.STALE, was=ExportStatus.READY)
        stored.erase_bundle(session, runtime.bundles, export.id)
        held += 1
    return held


erased.listen("exports.erasure", on_erasure)
erased.listen_restore("exports.restore", hold_after_restore)
