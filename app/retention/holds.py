"""Whether a person is under legal hold: the one question retention asks before deleting anything."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session


def is_held(session: Session, person_id: uuid.UUID) -> bool:
    """Every "is it held?" check of retention goes through here."""
    return False
