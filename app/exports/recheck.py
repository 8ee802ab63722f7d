"""Whether what an export carried for a person is still allowed now: ``decide()`` again for every category of
their ledger row, at the row's level, against the current history, deny-list and registry entry.

Used before a download (any row now denied makes the export stale) and on each consent change (a row now
denied in an export already downloaded raises a recall notice). The caller holds the person's lock and reads
the database clock after taking it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from app.consent import history
from app.consent.decision_inputs import DenyList
from app.consent.decision_inputs import Recipient as RecipientEntry
from app.consent.vocabulary import DisclosureLevel
from app.exports import decisions
from app.exports.models import DisclosureEntry, ExportRequest
from app.people.models import Person
from app.recipients.models import Recipient

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def entry_of(session: Session, export: ExportRequest) -> RecipientEntry:
    """The export's recipient as the registry holds it now."""
    recipient = session.get(Recipient, export.recipient_id)
    assert recipient is not None  # a foreign key
    return history.recipient_of(recipient)


def still_allowed(
    session: Session,
    runtime: Runtime,
    export: ExportRequest,
    row: DisclosureEntry,
    recipient: RecipientEntry,
    deny: DenyList,
    now: datetime,
) -> bool:
    """Every category of the row, at its level, is still allowed; False once the person is erased."""
    person = session.get(Person, row.person_id)
    if person is None:
        return False
    decider = decisions.decider_for(history.history_of(session, runtime, person), export.purpose, recipient, now, deny)
    level = DisclosureLevel(row.level)
    return all(decider(category, level).allowed for category in row.categories)
