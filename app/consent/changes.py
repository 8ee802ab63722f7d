"""Listeners told of every change to a person's use consent that can take something away.

A withdrawal, an amendment, a narrowing at reconfirmation and an invalidation each call ``changed`` once the
change is flushed, in the same transaction and under the person's lock (``app.people.records.hold``). Domains
above consent (the export ledger, which raises recall notices) ``listen`` when they are imported
(``app/models.py`` imports them all, as it does for the confirmation kinds), so consent never imports them:
the import contracts forbid ``app.consent`` to import ``app.exports``. A listener works inside the caller's
unit of work and must not commit; what it raises fails the change it was told of.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.people.models import Person
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


_listeners: dict[str, Callable[..., None]] = {}


def listen(name: str, listener: Callable[[Session, Runtime, Person], None]) -> None:
    """Be told of every consent change (once per name: importing twice registers once)."""
    _listeners[name] = listener


def changed(session: Session, runtime: Runtime, person: Person) -> None:
    """The person's use consent changed in a way that may deny what was allowed: tell every listener."""
    for name in sorted(_listeners):
        _listeners[name](session, runtime, person)
