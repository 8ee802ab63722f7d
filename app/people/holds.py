"""Whether a person is under a legal hold: the one question erasure and retention ask before deleting."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.people.models import HOLD_ACTIVE, LegalHold


def is_held(session: Session, person_id: uuid.UUID) -> bool:
    """True while a confirmed legal hold on the person has not been lifted.

    A hold only requested (not yet confirmed by a second custodian) does not hold. Callers that go on to
    delete take the person's row lock (app.people.records.hold) first, as setting and lifting a hold do,
    so the answer cannot change before their transaction ends.
    """
    stmt = select(exists().where(LegalHold.person_id == person_id, LegalHold.state == HOLD_ACTIVE))
    return bool(session.scalar(stmt))
