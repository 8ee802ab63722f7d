"""Re-sealing people's values made before AAD v2 (`testimony keys reseal`).

Each batch commits on its own and only values still in the old format are selected,
so an interrupted run resumes where it stopped and a second run finds nothing to do.
When none is left, the database stops accepting the old format.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, LargeBinary, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from app.access import policy
from app.access.principal import Principal
from app.consent import service as consent
from app.consent.models import ParticipationConsent
from app.core.db import unit_of_work
from app.crypto import aead
from app.crypto.errors import DecryptionFailed
from app.keys import sealed
from app.keys.store import Keys
from app.people.models import Person
from app.people.records import place


def _old(column: InstrumentedAttribute[bytes | None] | InstrumentedAttribute[bytes]) -> ColumnElement[bool]:
    """A stored value whose format byte is not v2's."""
    return column.is_not(None) & (func.substr(column, 1, 1) != literal(aead.FORMAT_V2, LargeBinary))


def _reseal_person(session: Session, keys: Keys, person: Person) -> int:
    # Both columns are opened before either is replaced, so a row is re-sealed whole or not at all.
    new = {
        column: sealed.reseal(session, keys, place(person, column), blob)
        for column in ("identity", "contact")
        if (blob := getattr(person, column)) is not None and not aead.is_bound(blob)
    }
    for column, blob in new.items():
        setattr(person, column, blob)
    return len(new)


def _reseal_consent(session: Session, keys: Keys, row: ParticipationConsent) -> int:
    person = session.get(Person, row.person_id)
    if person is None:
        raise DecryptionFailed
    row.details = sealed.reseal(session, keys, consent.place(person, row), row.details)
    return 1


@dataclass(frozen=True)
class _Target:
    model: type[Person] | type[ParticipationConsent]
    pending: ColumnElement[bool]
    reseal: Callable[[Session, Keys, Any], int]


TARGETS = (
    _Target(Person, or_(_old(Person.identity), _old(Person.contact)), _reseal_person),
    _Target(ParticipationConsent, _old(ParticipationConsent.details), _reseal_consent),
)


@dataclass
class _Batch:
    resealed: int = 0
    rows: int = 0
    unreadable: list[str] = field(default_factory=list)
    last: uuid.UUID | None = None


def _batch(session: Session, keys: Keys, target: _Target, size: int, after: uuid.UUID | None) -> _Batch:
    """Up to ``size`` rows still holding an old value, in id order after ``after``, locked until commit
    so that a concurrent update is neither lost nor overwritten."""
    stmt = select(target.model).where(target.pending).order_by(target.model.id)
    if after is not None:
        stmt = stmt.where(target.model.id > after)
    batch = _Batch()
    found = session.scalars(stmt.limit(size).with_for_update()).all()
    rows = cast("Sequence[Person | ParticipationConsent]", found)
    for row in rows:
        batch.last, batch.rows = row.id, batch.rows + 1
        try:
            batch.resealed += target.reseal(session, keys, row)
        except DecryptionFailed:
            batch.unreadable.append(f"{target.model.__tablename__} {row.id}")
    session.flush()
    return batch


def pending(session: Session) -> int:
    """Rows that still hold a value sealed before AAD v2."""
    return sum(
        session.scalar(select(func.count()).select_from(target.model).where(target.pending)) or 0 for target in TARGETS
    )


@dataclass(frozen=True)
class ResealResult:
    resealed: int
    """Values sealed again as v2."""
    accepts_v1: bool
    """Whether the database still accepts values in the old format."""
    unreadable: list[str] = field(default_factory=list)
    """Rows whose old value would not open (damaged, moved, or put back after the re-seal completed)."""

    @property
    def complete(self) -> bool:
        return not self.unreadable and not self.accepts_v1


def reseal(
    principal: Principal,
    factory: sessionmaker[Session],
    keys: Keys,
    *,
    batch_size: int = 500,
    on_start: Callable[[int], None] = lambda total: None,
    on_batch: Callable[[int], None] = lambda rows: None,
) -> ResealResult:
    """Seal every person's identity, contact and consent details again as v2, then stop accepting v1.

    A value that will not open is left as it is and reported, and the database keeps accepting
    v1 until a later run leaves none: making it strict would lose what a restored key could open.
    """
    policy.require(principal, policy.Action.KEYS_MANAGE)
    with unit_of_work(factory) as session:
        on_start(pending(session))
    done, unreadable = 0, []
    for target in TARGETS:
        after = None
        while True:
            with unit_of_work(factory) as session:
                batch = _batch(session, keys, target, batch_size, after)
            if batch.last is None:
                break
            after = batch.last
            done += batch.resealed
            unreadable += batch.unreadable
            on_batch(batch.rows)
    with unit_of_work(factory) as session:
        # Checked again in the transaction that flips the flag: workers seal only v2, but an old
        # value could have been put back meanwhile.
        if not unreadable and pending(session) == 0 and sealed.accepts_v1(session):
            sealed.mark_resealed(session)
        return ResealResult(done, sealed.accepts_v1(session), unreadable)
