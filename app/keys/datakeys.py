"""Per-subject data keys: made, wrapped under the primary KEK, and unwrapped. Key custody only;
it imports no domain, so every domain that seals can use it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, delete, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.core.db import core, db_now
from app.core.errors import Conflict
from app.crypto import envelope
from app.crypto.errors import DecryptionFailed
from app.keys.models import DataKey
from app.keys.store import Keys

# Data that belongs to no person (TOTP secrets) is sealed under this subject's key.
SERVICE_SUBJECT = uuid.UUID("00000000-0000-7000-8000-000000000001")


def create_data_key(session: Session, keys: Keys, subject_id: uuid.UUID) -> bytes:
    """Make, wrap and store a fresh data key for a subject; returns the plaintext key."""
    if session.get(DataKey, subject_id) is not None:
        raise Conflict("a data key already exists for this subject")
    return _store_new_key(session, keys, subject_id)


def _store_new_key(session: Session, keys: Keys, subject_id: uuid.UUID) -> bytes:
    """Insert a fresh wrapped key; a key stored meanwhile for the subject is an IntegrityError."""
    dek = envelope.new_data_key()
    wrapped = envelope.wrap(keys.for_wrapping(), subject_id, dek)
    session.add(
        DataKey(
            subject_id=subject_id, kek_version=wrapped.kek_version, wrapped=wrapped.blob, created_at=db_now(session)
        )
    )
    session.flush()
    _opened(session)[subject_id] = dek
    return dek


_OPENED = "testimony.opened_data_keys"


def _opened(session: Session) -> dict[uuid.UUID, bytes]:
    """The data keys this session has unwrapped: a cache for one unit of work, gone with the session.

    A request that seals or opens several values of one person unwraps the key once. Nothing outlives
    the session, so no worker's answer depends on what it served before, and an erasure made through
    this session drops its entry at once.
    """
    opened: dict[uuid.UUID, bytes] = session.info.setdefault(_OPENED, {})
    return opened


def forget(session: Session, subject_ids: Sequence[uuid.UUID]) -> None:
    """Drop these subjects' unwrapped keys from the session's cache: a long unit of work (an export's bundle,
    a page of people at a time) is done with them, and neither keeps them in memory nor grows with them."""
    opened = session.info.get(_OPENED)
    if opened:
        for subject_id in subject_ids:
            opened.pop(subject_id, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: object) -> None:
    """A rollback, even to a savepoint, may undo a key this session made: unwrap afresh after one."""
    session.info.pop(_OPENED, None)


_guards: dict[str, Callable[[Session, uuid.UUID], None]] = {}


def guard_new_keys(name: str, guard: Callable[[Session, uuid.UUID], None]) -> None:
    """Be asked before a subject's first data key is made; raising refuses it (an erased person gets none)."""
    _guards[name] = guard


def sealing_key(session: Session, keys: Keys, subject_id: uuid.UUID) -> bytes:
    """The subject's data key, made on first use.

    Two requests that seal a subject's first value at once would both make a key; the second to
    store its key finds the first one's (the primary key decides) and uses that, so both values
    open under one key. The insert is not preceded by a second look: a key committed between the
    look above and the insert must reach the primary key, not a 409.
    """
    if subject_id in _opened(session):
        return data_key(session, keys, subject_id)
    found = _wrapped(session, subject_id)
    if found is not None:
        return _unwrap(session, keys, subject_id, found)  # a key that will not unwrap is an integrity failure
    for name in sorted(_guards):
        _guards[name](session, subject_id)
    try:
        with session.begin_nested():
            return _store_new_key(session, keys, subject_id)
    except IntegrityError:
        return data_key(session, keys, subject_id)


def has_data_key(session: Session, subject_id: uuid.UUID) -> bool:
    return subject_id in _opened(session) or _wrapped(session, subject_id) is not None


# The two columns, by a statement built once: loading the row as an object, by ``session.get``, which builds its
# select and cache key again each time, cost more than the database's answer.
_KEYS = cast(Table, DataKey.__table__)
_WRAPPED = select(_KEYS.c.kek_version, _KEYS.c.wrapped).where(_KEYS.c.subject_id == bindparam("subject_id"))


def _wrapped(session: Session, subject_id: uuid.UUID) -> tuple[int, bytes] | None:
    """The subject's KEK version and wrapped key: from the row in the session when it holds one (``loaded``),
    else read."""
    row = session.identity_map.get(identity_key(DataKey, subject_id))
    if isinstance(row, DataKey):
        return row.kek_version, row.wrapped
    found = core(session).execute(_WRAPPED, {"subject_id": subject_id}).first()
    return None if found is None else (found[0], found[1])


def loaded(session: Session, subject_ids: Sequence[uuid.UUID]) -> list[DataKey]:
    """Read many subjects' wrapped keys in one query; while the caller keeps the list, ``data_key`` finds
    them in the session's identity map instead of asking the database once per subject."""
    return list(session.scalars(select(DataKey).where(DataKey.subject_id.in_(subject_ids))))


def data_key(session: Session, keys: Keys, subject_id: uuid.UUID) -> bytes:
    """The subject's data key; DecryptionFailed if it was erased or cannot be unwrapped."""
    opened = _opened(session)
    if (dek := opened.get(subject_id)) is not None:
        return dek
    found = _wrapped(session, subject_id)
    if found is None:
        raise DecryptionFailed
    return _unwrap(session, keys, subject_id, found)


def _unwrap(session: Session, keys: Keys, subject_id: uuid.UUID, found: tuple[int, bytes]) -> bytes:
    kek_version, wrapped = found
    dek = envelope.unwrap(keys.with_kek(kek_version), subject_id, envelope.WrappedKey(kek_version, wrapped))
    _opened(session)[subject_id] = dek
    return dek


def erase_data_key(session: Session, subject_id: uuid.UUID) -> None:
    """Delete a subject's data key (with the caller's transaction): what it sealed can never be opened again."""
    _opened(session).pop(subject_id, None)
    session.execute(delete(DataKey).where(DataKey.subject_id == subject_id))
    session.flush()


def service_key(session: Session, keys: Keys) -> bytes:
    """The service subject's data key, made on first use."""
    return sealing_key(session, keys, SERVICE_SUBJECT)
