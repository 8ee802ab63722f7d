"""Key operations for the operator: status, KEK rotation, re-wrapping and pruning."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.access import policy
from app.access.principal import Principal
from app.core.db import db_now, unit_of_work
from app.core.errors import Conflict
from app.crypto import envelope
from app.crypto.errors import DecryptionFailed
from app.crypto.keyring import Keyring
from app.crypto.signing import fingerprint
from app.keys.datakeys import SERVICE_SUBJECT, create_data_key, data_key, has_data_key, service_key
from app.keys.models import DataKey
from app.keys.store import EnvKeyStore, KeyStore

# Custody of data keys lives in datakeys; the names stay reachable here for the operations' callers.
__all__ = ["SERVICE_SUBJECT", "DecryptionFailed", "create_data_key", "data_key", "has_data_key", "service_key"]


@dataclass(frozen=True)
class KeyStatus:
    kek_primary: int
    kek_versions: list[int]
    kek_retired: list[int]
    root_primary: int
    signing_key_id: str
    data_keys_by_version: dict[int, int]

    @property
    def pending_rewrap(self) -> int:
        return sum(n for v, n in self.data_keys_by_version.items() if v != self.kek_primary)


def status(session: Session, principal: Principal, keyring: Keyring) -> KeyStatus:
    policy.require(principal, policy.Action.KEYS_MANAGE)
    rows = session.execute(select(DataKey.kek_version, func.count()).group_by(DataKey.kek_version)).all()
    return KeyStatus(
        kek_primary=keyring.kek_primary,
        kek_versions=sorted(keyring.keks),
        kek_retired=sorted(keyring.kek_retired),
        root_primary=keyring.root_primary,
        signing_key_id=keyring.signer.key_id,
        data_keys_by_version={int(v): int(n) for v, n in rows},
    )


@dataclass
class Batch:
    rewrapped: int = 0
    unreadable: list[uuid.UUID] = field(default_factory=list)
    last: uuid.UUID | None = None


def rewrap_batch(session: Session, keyring: Keyring, batch_size: int, after: uuid.UUID | None = None) -> Batch:
    """Re-wrap up to batch_size data keys not under the primary KEK, in subject order after ``after``.

    A key that will not unwrap is left as it is and reported, so one damaged row
    cannot stop a rotation from finishing. The rows are read as plain tuples and written back in one
    executemany, each only if it is still under the version read: a key another rotation re-wrapped
    meanwhile is left as that one wrote it.
    """
    stmt = (
        select(DataKey.subject_id, DataKey.kek_version, DataKey.wrapped)
        .where(DataKey.kek_version != keyring.kek_primary)
        .order_by(DataKey.subject_id)
    )
    if after is not None:
        stmt = stmt.where(DataKey.subject_id > after)
    rows = session.execute(stmt.limit(batch_size)).all()
    now = db_now(session)
    batch = Batch()
    changes: list[dict[str, object]] = []
    for subject_id, version, wrapped in rows:
        batch.last = subject_id
        try:
            new = envelope.rewrap(keyring, subject_id, envelope.WrappedKey(version, wrapped))
        except DecryptionFailed:
            batch.unreadable.append(subject_id)
            continue
        changes.append(
            {
                "key": subject_id,
                "old": version,
                "kek_version": new.kek_version,
                "wrapped": new.blob,
                "rewrapped_at": now,
            }
        )
    if changes:
        table = cast(Table, DataKey.__table__)
        session.connection().execute(
            table.update()
            .where(table.c.subject_id == bindparam("key"), table.c.kek_version == bindparam("old"))
            .values(
                kek_version=bindparam("kek_version"),
                wrapped=bindparam("wrapped"),
                rewrapped_at=bindparam("rewrapped_at"),
            ),
            changes,
        )
    batch.rewrapped = len(changes)
    return batch


@dataclass(frozen=True)
class RotationResult:
    kek_primary: int
    resumed: bool
    rewrapped: int
    retired: list[int]
    unreadable: list[uuid.UUID] = field(default_factory=list)
    """Data keys that would not unwrap: damaged or moved rows, left for investigation."""


Fence = Callable[[Session], None]
"""Called first in every transaction of a rotation or re-wrap: a worker's job checks its lease there
(``app.exports.jobs.hold_fence``) and raises when it lost it, so that transaction writes nothing."""

LOCK_CLASS = 0x0DEC  # the advisory-lock namespace of key-file changes


def _no_fence(_session: Session) -> None:
    return None


def lock_key_changes(session: Session) -> None:
    """Changes of the keyring one at a time, across processes and hosts, until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock; SQLite: every transaction already begins IMMEDIATE and
    holds the one write lock. Whoever holds it loads the keyring again before deciding anything."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(CAST(:c AS integer), 0)"), {"c": LOCK_CLASS})


Change = Callable[[Keyring, Session | None], Keyring | None]
"""Given the keyring as loaded under the locks (and the locked transaction, where a database is involved): the
keyring to save, or None to leave it as it is."""


def update(
    store: KeyStore,
    change: Change,
    *,
    factory: sessionmaker[Session] | None = None,
    session: Session | None = None,
    fence: Fence = _no_fence,
) -> tuple[Keyring, Keyring]:
    """The one way the keyring is changed: (as loaded, as saved; the same object when nothing was saved).

    With a database, one transaction takes ``lock_key_changes`` first, then the key file's lock; without one,
    the key file's lock alone. Always in that order, so no two changes wait for each other. Under both, the
    keyring is loaded again, changed and saved: changes in any process run one after another and each starts
    from what the one before saved. ``FileKeyStore.save`` also refuses a file changed since it was loaded. A
    provider store (a KMS) has no file lock and is responsible for its own compare-and-swap.

    ``session`` instead of ``factory``: the caller's transaction takes the database's lock (held until it ends), so
    that what the caller records (a page's audit event) commits with the change's lock, and is refused with it.
    """
    locked = getattr(store, "locked", None)
    if callable(locked):
        store.load()  # read before the locks, so the read under them is of bytes already decrypted (no scrypt)
    work: AbstractContextManager[Session | None] = (
        unit_of_work(factory) if factory is not None else nullcontext(session)
    )
    with work as session:
        if session is not None:
            fence(session)
            lock_key_changes(session)
        guard: AbstractContextManager[object] = locked() if callable(locked) else nullcontext()
        with guard:
            keyring = store.load()
            changed = change(keyring, session)
            if changed is None:
                return keyring, keyring
            store.save(changed)
    return keyring, changed


def highest_kek_in_use(session: Session) -> int:
    """The highest KEK version any data key names (0 when none): a new KEK is numbered above it, so a version
    is never given to a second key even if a key file lost the one that had it."""
    return int(session.scalar(select(func.max(DataKey.kek_version))) or 0)


def rotate(
    principal: Principal,
    factory: sessionmaker[Session],
    store: KeyStore,
    *,
    batch_size: int = 500,
    on_start: Callable[[int], None] = lambda total: None,
    on_batch: Callable[[int], None] = lambda done: None,
    kek_from: int | None = None,
    fence: Fence = _no_fence,
) -> RotationResult:
    """Make a new primary KEK and re-wrap every data key under it; data is never re-encrypted.

    The new keyring is saved before any key is re-wrapped, and each batch commits
    on its own, so an interrupted rotation resumes where it stopped when run again.

    A new KEK is made only while ``kek_from`` (by default, the primary when this call loaded the keys) is
    still primary and no data key waits for a re-wrap, decided under both locks (``update``): two rotations
    started at once (two workers, a page and the command line) make one new KEK, and the later one resumes it.
    """
    policy.require(principal, policy.Action.KEYS_MANAGE)
    seen = store.load().kek_primary if kek_from is None else kek_from

    def new_kek(keyring: Keyring, session: Session | None) -> Keyring | None:
        assert session is not None
        pending = status(session, principal, keyring).pending_rewrap
        if pending > 0 or keyring.kek_primary != seen:
            return None
        return keyring.with_new_kek(above=highest_kek_in_use(session))

    before, after = update(store, new_kek, factory=factory, fence=fence)
    resumed = after is before
    result = rewrap(principal, factory, store, batch_size=batch_size, on_start=on_start, on_batch=on_batch, fence=fence)
    return RotationResult(result.kek_primary, resumed, result.rewrapped, result.retired, result.unreadable)


def rewrap(
    principal: Principal,
    factory: sessionmaker[Session],
    store: KeyStore,
    *,
    batch_size: int = 500,
    on_start: Callable[[int], None] = lambda total: None,
    on_batch: Callable[[int], None] = lambda done: None,
    fence: Fence = _no_fence,
) -> RotationResult:
    """Re-wrap every data key not under the primary KEK (e.g. made by a worker that had not yet
    reloaded the keyring after a rotation), then mark the older KEKs retired."""
    policy.require(principal, policy.Action.KEYS_MANAGE)
    keyring = store.load()
    with unit_of_work(factory) as session:
        fence(session)
        total = status(session, principal, keyring).pending_rewrap
    on_start(total)
    done, unreadable, after = 0, [], None
    while True:
        with unit_of_work(factory) as session:
            fence(session)
            batch = rewrap_batch(session, keyring, batch_size, after)
        if batch.last is None:
            break
        after = batch.last
        done += batch.rewrapped
        unreadable += batch.unreadable
        on_batch(batch.rewrapped + len(batch.unreadable))
    retired: list[int] = []

    def retire(current: Keyring, _session: Session | None) -> Keyring | None:
        # Loaded again under the locks: a rotation that made another KEK meanwhile is kept, and retires for us.
        if current.kek_primary != keyring.kek_primary:
            return None
        # Versions still wrapping an unreadable key stay as they are, so nothing is lost by retiring.
        retired[:] = sorted(set(current.keks) - {current.kek_primary} - set(current.kek_retired))
        return current.with_retired_keks(set(retired)) if retired else None

    update(store, retire, factory=factory, fence=fence)
    return RotationResult(keyring.kek_primary, False, done, retired, unreadable)


def prune(principal: Principal, factory: sessionmaker[Session], store: KeyStore) -> list[int]:
    """Destroy retired KEKs that wrap no data key any more; returns the versions removed.

    Backups taken while a KEK was in use need it to be restored: prune only after
    those backups have expired.
    """
    policy.require(principal, policy.Action.KEYS_MANAGE)
    removable: list[int] = []

    def destroy(keyring: Keyring, session: Session | None) -> Keyring | None:
        assert session is not None
        in_use = status(session, principal, keyring).data_keys_by_version
        removable[:] = sorted(v for v in keyring.kek_retired if not in_use.get(v))
        return keyring.without_keks(set(removable)) if removable else None

    update(store, destroy, factory=factory)
    return removable


@dataclass(frozen=True)
class SigningRotation:
    old_key_id: str
    new_key_id: str
    new_fingerprint: str
    transition: dict[str, str]


def refuse_unchangeable(store: KeyStore) -> None:
    """Keys given in the environment cannot be rotated in place: say so before anything is recorded or changed."""
    if isinstance(store, EnvKeyStore):
        store.save(store.load())  # raises KeyringError, explaining what to do instead


SIGNING_ROTATED_MEANWHILE = "the signing key changed since this page was shown; read it again"


def rotate_signing(
    principal: Principal,
    store: KeyStore,
    factory: sessionmaker[Session] | None = None,
    *,
    session: Session | None = None,
    key_seen: str | None = None,
) -> SigningRotation:
    """Make a new Ed25519 signing key, retire the current one and have it sign the transition to the new one.

    The keyring is read, changed and written under the locks (``update``: the database's, given ``factory`` or
    ``session``, then the key file's), so it waits for a KEK rotation's save as two signing rotations wait for each
    other: the second starts from what the first saved, and the chain stays one line with one active key.

    ``key_seen``: the signing key the admin saw (the Keys page). Decided under the locks: when another rotation made
    a new key meanwhile, nothing changes (409), so two admins clicking at once make one new key, not two.
    """
    policy.require(principal, policy.Action.KEYS_MANAGE)
    refuse_unchangeable(store)

    def new_signing_key(current: Keyring, _session: Session | None) -> Keyring:
        if key_seen is not None and current.signer.key_id != key_seen:
            raise Conflict(SIGNING_ROTATED_MEANWHILE)
        return current.with_new_signing_key()

    keyring, rotated = update(store, new_signing_key, factory=factory, session=session)
    new = rotated.signing_keys[-1]
    assert new.transition is not None
    return SigningRotation(
        old_key_id=keyring.signer.key_id,
        new_key_id=new.key_id,
        new_fingerprint=fingerprint(rotated.signer.public_key),
        transition=new.transition,
    )
