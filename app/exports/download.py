"""Downloading a ready export's bundle, and asking again for one that went stale.

Only the legal user who asked downloads, while the export is ``ready``, at most ``exports.max_downloads``
times and for ``exports.download_days`` days after it became ready (its ``updated_at``: no later move
happens to a ready export but ``stale``, and counting a download does not touch it). Before anything is
sent, every person in the ledger is held (``app.people.records.hold``, in the order of their ids, so two
downloads never wait on each other crosswise) and ``decide()`` is run again for every ledger row against the
current grants, deny-list and registry entry at the database clock (``app.exports.recheck``). Any row now
denied makes the export ``stale`` and erases its bundle and data key (in a transaction of its own, which
commits although the download is refused) and the answer is 409 ``stale``. Otherwise one conditional UPDATE
takes the download (``downloads < N``, still ready, not expired): its row count decides, so concurrent
downloads never exceed N.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import history
from app.core.db import changed_rows, db_now, on_failure
from app.core.errors import Conflict, NotFound
from app.crypto import aead
from app.crypto.errors import DecryptionFailed
from app.exports import recheck, service, stored
from app.exports.models import DisclosureEntry, ExportRequest
from app.exports.schemas import ExportCreate, ExportRead, ExportStatus
from app.keys import datakeys
from app.people import erased
from app.people.models import Person
from app.people.records import hold

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def _stale(session: Session, runtime: Runtime, export_id: uuid.UUID) -> None:
    """Make a ready export stale and erase its bundle (on the refused download's failure path)."""
    # Read again: an erasure may have made it stale while the refused download waited for a person's lock.
    row = session.get(ExportRequest, export_id, with_for_update=True, populate_existing=True)
    if row is not None and row.status == ExportStatus.READY:
        service.move(session, row, ExportStatus.STALE, was=ExportStatus.READY)
    stored.erase_bundle(session, runtime.bundles, export_id)


def still_consented(session: Session, runtime: Runtime, export: ExportRequest) -> bool:
    """Hold every person of the ledger (in id order), then decide() again for each row at the database clock;
    a person erased meanwhile denies."""
    rows = list(
        session.scalars(
            select(DisclosureEntry).where(DisclosureEntry.export_id == export.id).order_by(DisclosureEntry.person_id)
        )
    )
    for row in rows:
        person = session.get(Person, row.person_id)
        if person is not None:
            hold(session, person)
    if any(erased.is_erased(session, row.person_id) for row in rows):
        return False  # erased while this waited for the locks: nothing of them may leave again
    now = db_now(session)  # after the locks: a change that held one is in the history read next
    recipient = recheck.entry_of(session, export)
    deny = history.deny_list_of(session)
    if not recipient.active or deny.exclude(recipient):
        return False  # whoever is in the ledger, or nobody (a bundle of counts and exclusions only)
    return all(recheck.still_allowed(session, runtime, export, row, recipient, deny, now) for row in rows)


def download(
    session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID
) -> tuple[ExportRequest, stored.SealedBundle]:
    row = policy.load(session, principal, policy.Action.EXPORT_DOWNLOAD, ExportRequest, export_id)
    audit.touch(session, resource_id=row.id)
    if row.requester_id != principal.user_id:
        raise NotFound  # only the one who asked: a custodian or another lawyer is told nothing more
    policy.require_on_every_case(principal, row.case_ids)
    status = ExportStatus(row.status)
    if status is ExportStatus.STALE:
        raise Conflict("consent changed since this export was built: ask for it again", code="stale")
    if status is not ExportStatus.READY:
        raise Conflict(
            "this export is %(export_status)s: only a ready export can be downloaded",
            code="not_ready",
            params={"export_status": status.value},
        )
    settings = runtime.settings.exports
    now = db_now(session)
    until = row.updated_at + timedelta(days=settings.download_days)
    if now >= until:
        raise Conflict("the download period of this export has ended", code="expired")
    if row.downloads >= settings.max_downloads:
        raise Conflict("this export was downloaded as often as allowed", code="download_limit")
    if not datakeys.has_data_key(session, row.id) or not runtime.bundles.exists(row.id.hex):
        raise Conflict("this export has no bundle to download", code="no_bundle")
    if not still_consented(session, runtime, row):
        on_failure(session, lambda s: _stale(s, runtime, export_id))
        raise Conflict("consent changed since this export was built: ask for it again", code="stale")
    taken = session.execute(
        update(ExportRequest)
        .where(
            ExportRequest.id == row.id,
            ExportRequest.status == ExportStatus.READY,
            ExportRequest.downloads < settings.max_downloads,
            ExportRequest.updated_at > now - timedelta(days=settings.download_days),
        )
        .values(downloads=ExportRequest.downloads + 1)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(taken) != 1:
        raise Conflict("this export was downloaded as often as allowed", code="download_limit")
    try:
        bundle = stored.open_bundle(runtime.bundles, row.id, datakeys.data_key(session, runtime.keys, row.id))
    except DecryptionFailed:
        raise Conflict("this export has no bundle to download", code="no_bundle") from None
    session.refresh(row)
    return row, bundle


def request_again(session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID) -> ExportRead:
    """A stale export asked for again: the same request (checked again, as new), through the normal approval."""
    row = policy.load(session, principal, policy.Action.EXPORT_REQUEST, ExportRequest, export_id)
    if row.requester_id != principal.user_id:
        raise NotFound
    # Under the stale export's row lock, so two requests at once make one copy: the second sees the first's.
    session.get(ExportRequest, row.id, with_for_update=True, populate_existing=True)
    if row.status != ExportStatus.STALE:
        raise Conflict("only a stale export can be asked for again", fields=["status"], code="not_stale")
    open_copy = session.scalars(
        select(ExportRequest.id).where(ExportRequest.copy_of == row.id, ExportRequest.status.in_(OPEN_COPY)).limit(1)
    ).first()
    if open_copy is not None:
        raise Conflict("this export was asked for again already, and that request is still open", code="asked_again")
    data = ExportCreate.model_validate(
        {
            "case_ids": row.case_ids,
            "filters": {
                "people": row.person_ids,
                "interviewed_from": row.interviewed_from,
                "interviewed_to": row.interviewed_to,
            },
            "purpose": row.purpose,
            "recipient_id": row.recipient_id,
            "justification": justification_of(session, runtime, row),
            "categories": row.categories,
            "max_disclosure_level": row.max_disclosure_level,
        }
    )
    made = service.request_export(session, runtime, principal, data)
    copy = session.get(ExportRequest, made.id)
    assert copy is not None
    copy.copy_of = row.id
    session.flush()
    return service.read(session, runtime, copy)


OPEN_COPY = (
    ExportStatus.REQUESTED,
    ExportStatus.AWAITING_SECOND_APPROVAL,
    ExportStatus.APPROVED,
    ExportStatus.BUILDING,
    ExportStatus.READY,
)
"""A copy in one of these states is still open: asking again makes no second. A rejected, failed or stale copy
does not count (a stale copy may itself be asked for again)."""


def justification_of(session: Session, runtime: Runtime, row: ExportRequest) -> str:
    """The request's sealed justification, to copy it into the request made again (never shown)."""
    key = datakeys.service_key(session, runtime.keys)
    opened = aead.open(
        key, row.justification, table=service.TABLE, column="justification", row_id=row.id, person_id=None
    )
    return opened.decode()
