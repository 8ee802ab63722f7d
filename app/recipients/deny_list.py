"""The deployment-wide deny-list: registered recipients and countries that never receive anything,
whatever a grant says. Every change waits for a second admin and writes a new version; versions
are never changed, so the list in force at any moment can be told afterwards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.confirmations import service as confirmations
from app.confirmations.models import Confirmation
from app.core.db import db_now
from app.core.errors import Conflict, ValidationFailed
from app.recipients.models import DenyListVersion
from app.recipients.schemas import DenyListChange, DenyListRead, DenyListUpdate
from app.recipients.service import registered

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

DENY_LIST_ID = uuid.UUID("00000000-0000-7000-8000-00000000d1e5")
"""The one deny-list, as the target of its two-person requests."""


def current(session: Session) -> DenyListVersion | None:
    """The version in force: the highest one written; none before the first."""
    return session.scalars(select(DenyListVersion).order_by(DenyListVersion.version.desc()).limit(1)).first()


def _read(row: DenyListVersion | None) -> DenyListRead:
    if row is None:
        return DenyListRead(
            version=0, recipient_ids=[], jurisdictions=[], created_at=None, requested_by=None, confirmation_id=None
        )
    return DenyListRead.model_validate(row)


def get_deny_list(session: Session, principal: Principal) -> DenyListRead:
    policy.require(principal, policy.Action.DENY_LIST_READ)
    return _read(current(session))


def _entries(data: DenyListUpdate) -> tuple[list[str], list[str]]:
    """The list in one canonical form (sorted, each entry once), so equal lists compare equal."""
    return sorted({str(r) for r in data.recipient_ids}), sorted(set(data.jurisdictions))


def _write(
    session: Session, version: int, data: DenyListUpdate, by: uuid.UUID | None, confirmation_id: uuid.UUID | None
) -> DenyListVersion | None:
    """Write ``version``; None when another change wrote it first (the version is the primary key)."""
    recipient_ids, jurisdictions = _entries(data)
    row = DenyListVersion(
        version=version,
        recipient_ids=recipient_ids,
        jurisdictions=jurisdictions,
        created_at=db_now(session),
        requested_by=by,
        confirmation_id=confirmation_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def set_deny_list(session: Session, runtime: Runtime, principal: Principal, data: DenyListUpdate) -> DenyListChange:
    """Ask for a new deny-list (the whole list); a second admin's confirmation puts it in force."""
    policy.require(principal, policy.Action.DENY_LIST_MANAGE)
    unknown = {r for r in data.recipient_ids} - registered(session, list(data.recipient_ids))
    if unknown:
        raise ValidationFailed("every entry must be the id of a registered recipient", fields=["recipient_ids"])
    now_in_force = current(session)
    version = now_in_force.version if now_in_force else 0
    in_force = (now_in_force.recipient_ids, now_in_force.jurisdictions) if now_in_force else ([], [])
    if _entries(data) == in_force:
        return DenyListChange(deny_list=_read(now_in_force))
    if policy.acts_at_once(principal):
        written = _write(session, version + 1, data, principal.user_id, None)
        if written is None:
            raise Conflict("the deny-list changed meanwhile; read it again")
        return DenyListChange(deny_list=_read(written))
    recipient_ids, jurisdictions = _entries(data)
    payload: dict[str, object] = {
        "recipient_ids": recipient_ids,
        "jurisdictions": jurisdictions,
        "from_version": version,
    }
    asked = confirmations.request_confirmation(session, runtime, principal, CHANGE_DENY_LIST, DENY_LIST_ID, payload)
    return DenyListChange(deny_list=_read(now_in_force), pending_confirmation=asked)


def _concerns(session: Session, row: Confirmation) -> confirmations.Subject:
    return confirmations.Subject()


def _apply(session: Session, row: Confirmation, now: datetime) -> str | None:
    """Write the asked list as the next version, unless the list changed since it was asked for."""
    try:
        data = DenyListUpdate.model_validate(
            {"recipient_ids": row.payload.get("recipient_ids"), "jurisdictions": row.payload.get("jurisdictions")}
        )
    except ValidationError:
        return "the request no longer describes a deny-list"
    asked_from = row.payload.get("from_version")
    in_force = current(session)
    if asked_from != (in_force.version if in_force else 0) or not isinstance(asked_from, int):
        return "the deny-list changed while the request waited"
    if _write(session, asked_from + 1, data, row.requested_by, row.id) is None:
        return "the deny-list changed while the request waited"
    return None


CHANGE_DENY_LIST = confirmations.register(confirmations.Kind("deny_list.change", _apply, _concerns))
