"""Whether a person was erased, and the listeners told when one is; no data key is ever made for them again.

Erasing a person (app/erasure) deletes what people, consent and interviews hold of them; domains above
(exports: stale bundles, recall notices) ``listen`` when they are imported (``app/models.py`` imports them
all, as it does for the consent change listeners), so nothing below them imports them: the import
contracts forbid ``app.people``, ``app.consent`` and ``app.erasure`` to import ``app.exports``. A listener
works inside the erasure's unit of work, under the person's lock, after their data key is gone, and must not
commit; what it raises fails the erasure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, exists, select

from app.core.db import core
from app.core.errors import Conflict
from app.keys import datakeys
from app.people.models import ErasedPerson

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.people.models import Person
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


_listeners: dict[str, Callable[..., None]] = {}
_restore_listeners: dict[str, Callable[..., int]] = {}


def listen(name: str, listener: Callable[[Session, Runtime, Person], None]) -> None:
    """Be told of every erasure (once per name: importing twice registers once)."""
    _listeners[name] = listener


def erased(session: Session, runtime: Runtime, person: Person) -> None:
    """The person was erased in this transaction: tell every listener."""
    for name in sorted(_listeners):
        _listeners[name](session, runtime, person)


def listen_restore(name: str, listener: Callable[[Session, Runtime], int]) -> None:
    """Be told when a backup was restored and brought forward from the journal (``testimony restore``)."""
    _restore_listeners[name] = listener


def restored(session: Session, runtime: Runtime) -> int:
    """A restored backup was brought forward: each listener holds what it must; the count of things held."""
    return sum(_restore_listeners[name](session, runtime) for name in sorted(_restore_listeners))


def is_erased(session: Session, person_id: uuid.UUID) -> bool:
    return bool(core(session).scalar(_ERASED, {"person_id": person_id}))


_ERASED = select(exists().where(cast(Table, ErasedPerson.__table__).c.person_id == bindparam("person_id")))


def erased_among(session: Session, person_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these people were erased, in one query."""
    if not person_ids:
        return set()
    return set(session.scalars(select(ErasedPerson.person_id).where(ErasedPerson.person_id.in_(person_ids))))


def refuse_if_erased(session: Session, person_id: uuid.UUID) -> None:
    """409 ``erased``: what was sealed under the person's key can never be opened or added to again."""
    if is_erased(session, person_id):
        raise Conflict("this person's records were erased", code="erased")


# Nothing new is ever sealed for an erased person: it would be sealed under a fresh key that opens.
datakeys.guard_new_keys("people.erased", refuse_if_erased)
