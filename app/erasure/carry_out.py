"""Carrying out an erasure: what is deleted, what stays sealed under the deleted key, and what is recorded.

Called by the erasure service once two custodians agreed, under the person's lock, after the legal hold
check. In the caller's transaction:

- the person's wrapped data key is deleted: identity, contact, participation and use consent details,
  withdrawal and invalidation details, drafts, statements, redactions, incidents, custody salts, attachment
  metadata and legal hold details were all sealed under it and never open again;
- their blind-index rows are deleted, so no new record meets them as a duplicate; their open duplicate
  reviews are deleted and their same-person link is removed;
- listeners above (exports: bundles, stale, recall notices) are told through ``app.people.erased``;
- a tombstone (``erased_people``) records the pseudonym code, when, which request and the two custodians.

Once the transaction has committed: their attachment blobs and any upload in progress are removed, the
journal gets an ``erasure`` line, and on SQLite the WAL is checkpointed and truncated (the service's
connections run with ``secure_delete``, which overwrites freed pages, so the deleted key is not left in a
free page; the checkpoint keeps its old page out of the WAL file). On PostgreSQL the deleted row stays in a
dead tuple until VACUUM reclaims it: it is the wrapped key, useless without the KEK, and everything it
sealed is still unreadable once the transaction commits. A crash between the commit and the file removal leaves
blobs sealed under a key that no longer exists.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.core.blobstore import BlobBusy, BlobStore
from app.core.db import db_now, on_outcome
from app.interviews.models import Attachment, AttachmentUpload, FeedbackTask
from app.interviews.vocabulary import TaskState
from app.keys import datakeys, journal
from app.people import erased
from app.people.models import BlindIndexEntry, DuplicateReview, ErasedPerson, Person, SamePersonLink

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

log = logging.getLogger("testimony.erasure")


def erase_person(
    session: Session,
    runtime: Runtime,
    person: Person,
    *,
    erasure_id: uuid.UUID | None,
    origin: str,
    requested_by: uuid.UUID | None,
    confirmed_by: uuid.UUID | None,
    record: bool = True,
) -> ErasedPerson:
    """Erase one person (held by the caller, not erased yet, not under a legal hold); ``record=False`` when
    the erasure is re-applied from the journal, which holds it already."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    now = db_now(session)
    datakeys.erase_data_key(session, person.id)
    session.execute(delete(BlindIndexEntry).where(BlindIndexEntry.person_id == person.id))
    session.execute(delete(SamePersonLink).where(SamePersonLink.person_id == person.id))
    session.execute(
        delete(DuplicateReview).where(
            (DuplicateReview.person_a == person.id) | (DuplicateReview.person_b == person.id),
            DuplicateReview.status == "open",
        )
    )
    blobs = list(session.scalars(select(Attachment.id).where(Attachment.person_id == person.id)))
    uploads = list(session.scalars(select(AttachmentUpload.id).where(AttachmentUpload.person_id == person.id)))
    tomb = ErasedPerson(
        person_id=person.id,
        code=person.code,
        erased_at=now,
        erasure_id=erasure_id,
        origin=origin,
        requested_by=requested_by,
        confirmed_by=confirmed_by,
    )
    session.add(tomb)
    # What was promised to them was sealed under the key just deleted, and so was the channel to keep it: their
    # open promises close (done, by nobody, at the erasure), so no task waits on a person who cannot be told.
    session.execute(
        update(FeedbackTask)
        .where(FeedbackTask.person_id == person.id, FeedbackTask.state == TaskState.OPEN.value)
        .values(state=TaskState.DONE.value, done_at=now, done_by=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    erased.erased(session, runtime, person)
    if record:
        journal.record(session, runtime, journal.ERASURE, person.id, erasure_id or person.id, now)
    store = runtime.blobs
    on_outcome(session, committed=lambda: _remove_blobs(store, blobs, uploads), rolled_back=lambda: None)
    if sqlite:
        path = session.get_bind().engine.url.database
        on_outcome(session, committed=lambda: checkpoint(path), rolled_back=lambda: None)
    return tomb


def _remove_blobs(store: BlobStore, blobs: list[uuid.UUID], uploads: list[uuid.UUID]) -> None:
    for blob_id in blobs:
        store.remove(blob_id.hex)
    for upload_id in uploads:
        try:
            temp = store.open_temp(upload_id.hex)
        except BlobBusy:
            continue  # a transfer holds it: its upload row's person is erased, so it can never be finished
        if temp is not None:
            temp.discard()


def checkpoint(path: str | None) -> None:
    """Copy the WAL into the database and truncate it, so deleted pages do not linger in the WAL file."""
    if not path or path == ":memory:":
        return
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
