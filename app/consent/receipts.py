"""Reading a consent record in the standard structure, and the survivor's receipt: documenters on the
person's case team, audited like every read of a consent record."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import standard_record
from app.consent.grant_models import UseConsent
from app.consent.record_schemas import ConsentRecord
from app.people.models import Person

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def _opened(session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID) -> standard_record.Opened:
    row = policy.load(session, principal, policy.Action.CONSENT_READ, UseConsent, consent_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    return standard_record.open_version(session, runtime, person, row)


def record(session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID) -> ConsentRecord:
    """The version in the structure of ISO/IEC TS 27560 (as W3C DPV maps it), with its chain's events."""
    opened = _opened(session, runtime, principal, consent_id)
    return standard_record.build(opened, runtime.forms.get(opened.row.form_id, opened.row.form_version))
