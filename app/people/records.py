"""Finding a person for an authorised caller, and opening their sealed columns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.keys.sealed import Place, open_json
from app.keys.store import Keys
from app.people.erased import refuse_if_erased
from app.people.models import Person
from app.people.schemas import Identity

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "people"


def person_row(session: Session, principal: Principal, action: policy.Action, person_id: uuid.UUID) -> Person:
    """Role check, then lookup, then need-to-know: a person outside the user's cases is 404; an erased one 409."""
    person = policy.load(session, principal, action, Person, person_id)
    audit.touch(session, case_id=person.case_id)
    refuse_if_erased(session, person.id)
    return person


def person_to_write(session: Session, principal: Principal, action: policy.Action, person_id: uuid.UUID) -> Person:
    """``person_row`` for a write: the person is held (``hold_to_write``) before the erasure check."""
    person = policy.load(session, principal, action, Person, person_id)
    audit.touch(session, case_id=person.case_id)
    hold_to_write(session, person.id)
    return person


def hold(session: Session, person: Person, *, wait: timedelta | None = None) -> None:
    """Hold the person's row until the transaction ends. Recording their participation consent and every
    write that depends on it take turns, so nothing is done under a decision that was changed meanwhile.

    FOR NO KEY UPDATE (FOR UPDATE elsewhere): holds exclude each other, while a foreign key check of
    another transaction (FOR KEY SHARE, as inserting a row that points at the person takes) passes, so a
    transaction that changed an interview and then adds a row naming the person never waits on a hold
    that waits on that interview.

    ``wait``: on PostgreSQL, how long to wait for a hold another transaction has (a stalled export worker, say)
    before failing with ``lock_not_available``, which the API answers 503 with Retry-After."""
    _hold(session, person.id, wait)


# The whole row, not its id alone: the lock costs the same, and a write that holds it reads the person next
# (``session.get`` then answers from the identity map, one statement fewer).
_HOLD = select(Person).where(Person.id == bindparam("person_id")).with_for_update(key_share=True)


def _hold(session: Session, person_id: uuid.UUID, wait: timedelta | None) -> Person | None:
    bounded = wait is not None and session.get_bind().dialect.name == "postgresql"
    if bounded:
        assert wait is not None
        session.execute(text(f"SET LOCAL lock_timeout = {max(int(wait.total_seconds() * 1000), 1)}"))
    person = session.scalars(_HOLD, {"person_id": person_id}).one_or_none()
    if bounded:
        session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    return person


def lock_wait(runtime: Runtime) -> timedelta:
    """How long a survivor's-rights action (a withdrawal, an invalidation, an erasure) waits for a person's lock
    on PostgreSQL before answering 503 with Retry-After rather than hanging behind a stalled holder."""
    return timedelta(seconds=runtime.settings.exports.lock_wait_seconds)


_HELD = "testimony.people_held_to_write"


def hold_to_write(session: Session, person_id: uuid.UUID, *, wait: timedelta | None = None) -> None:
    """Hold the person's row, then refuse (409 ``erased``) if they were erased. Every write on a person's records
    (the person, their consent, their interviews and what hangs from them) comes here before it opens or seals
    anything: erasure holds the same row, so a write either commits before the erasure begins or sees its
    tombstone here, never a data key deleted under it (which would fail to open: a 500) nor sealing under it.

    Once per person and transaction: a write that comes here again (``consent.service.require`` after the
    write's own call) holds the row already, and nobody can have erased them meanwhile."""
    # The rows held, kept for the transaction: the session's identity map holds rows only while something else does.
    held: dict[uuid.UUID, Person | None] = session.info.setdefault(_HELD, {})
    if person_id in held:
        return
    person = _hold(session, person_id, wait)
    refuse_if_erased(session, person_id)
    held[person_id] = person


@event.listens_for(Session, "after_transaction_end")
def _forget_held(session: Session, _transaction: SessionTransaction) -> None:
    """A commit or a rollback (even to a savepoint, which gives back the locks taken since) ends the holds."""
    session.info.pop(_HELD, None)


def hold_all(session: Session, person_ids: Sequence[uuid.UUID]) -> list[Person]:
    """``hold`` for a small batch of people in one statement, taken in id order (so two batches never wait on
    each other in a cycle); the rows of those still there, in id order."""
    if not person_ids:
        return []
    session.execute(
        select(Person.id).where(Person.id.in_(person_ids)).order_by(Person.id).with_for_update(key_share=True)
    )
    return list(session.scalars(select(Person).where(Person.id.in_(person_ids)).order_by(Person.id)))


def place(person: Person, column: str) -> Place:
    """Identity and contact are bound to the person's case and code: editing either in the database
    makes them fail to open rather than show them to another team or under another code.

    Moving a person to another case (not offered) would have to re-seal these and every
    participation consent's details under the new case.
    """
    return Place(TABLE, column, person.id, person.id, {"case": person.case_id.hex, "code": person.code})


def open_column(session: Session, keys: Keys, person: Person, column: str) -> Any:
    blob = getattr(person, column)
    if blob is None:
        return None
    return open_json(session, keys, place(person, column), blob)


def identity_of(session: Session, keys: Keys, person: Person) -> Identity | None:
    value = open_column(session, keys, person, "identity")
    return Identity.model_validate(value) if value is not None else None
