"""The bundle sweeper: a ready export's bundle is deleted once nobody may download it any more.

A ready export whose downloads are used up (``exports.max_downloads``) or whose download period ended
(``exports.download_days`` after it became ready) still had its sealed bundle on disk until now; nothing
could send it, but a copy of the data dir would hold it. The sweep erases the file and its data key
(``stored.erase_bundle``) and marks the export (``bundle_removed_at``), so the export's read shows it and a
download still answers ``expired`` or ``download_limit``. The worker runs it before each claim; ``testimony
exports sweep`` runs it once.

Each export is taken under its row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): a download in flight
holds it from its conditional count until its commit, and has opened the file by then, so a sweep never
pulls the file from under a download that was allowed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.core.db import db_now
from app.exports import stored
from app.exports.models import ExportRequest
from app.exports.schemas import ExportStatus

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

SYSTEM = Principal.system("bundle-sweeper")


def sweep_bundles(session: Session, runtime: Runtime, principal: Principal = SYSTEM) -> list[uuid.UUID]:
    """Erase the bundle of every ready export past its downloads or its period; the exports swept."""
    policy.require(principal, policy.Action.EXPORT_SWEEP)
    settings = runtime.settings.exports
    now = db_now(session)
    done = (
        select(ExportRequest)
        .where(
            ExportRequest.status == ExportStatus.READY,
            ExportRequest.bundle_sha256.is_not(None),
            ExportRequest.bundle_removed_at.is_(None),
            or_(
                ExportRequest.downloads >= settings.max_downloads,
                ExportRequest.updated_at <= now - timedelta(days=settings.download_days),
            ),
        )
        .order_by(ExportRequest.id)
        .with_for_update(skip_locked=session.get_bind().dialect.name == "postgresql")
    )
    swept = []
    for export in session.scalars(done):
        stored.erase_bundle(session, runtime.bundles, export.id)
        export.bundle_removed_at = now
        swept.append(export.id)
    session.flush()
    for export_id in swept:  # last, after every row lock this transaction takes
        audit.append(
            session,
            audit.Trail(
                action=AuditAction.EXPORT_SWEEP,
                actor=principal.actor,
                resource_type="export",
                resource_id=str(export_id),
            ),
            audit.Outcome.ALLOWED,
        )
    return swept
