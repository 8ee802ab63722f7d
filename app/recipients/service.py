"""The recipient registry, and the two-person kinds of request that change who may receive.

A recipient's class, jurisdiction and age key decide what it may be sent and who can read it,
so creating a recipient and changing any of the three wait for a second admin; names, the recall
contact and whether it is active change at once. The command line acts at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.confirmations import service as confirmations
from app.confirmations.models import Confirmation
from app.consent.vocabulary import RecipientClass
from app.core.db import db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.recipients.models import Recipient
from app.recipients.schemas import (
    INTERNATIONAL,
    RecipientChange,
    RecipientCreate,
    RecipientRead,
    RecipientUpdate,
)

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

SENSITIVE = ("recipient_class", "jurisdiction", "age_recipient")
"""The fields that decide what a recipient may receive and who can open it."""


def check_fits(recipient_class: str, jurisdiction: str) -> None:
    """National authorities answer to one country: an allow-list names it, never "international"."""
    if recipient_class == RecipientClass.NATIONAL_AUTHORITIES and jurisdiction == INTERNATIONAL:
        raise ValidationFailed("national authorities need a country as their jurisdiction", fields=["jurisdiction"])


def _read(row: Recipient) -> RecipientRead:
    return RecipientRead.model_validate(row)


def _insert(session: Session, recipient_id: uuid.UUID, data: RecipientCreate, by: uuid.UUID | None) -> Recipient:
    now = db_now(session)
    row = Recipient(
        id=recipient_id,
        recipient_class=data.recipient_class.value,
        jurisdiction=data.jurisdiction,
        names=list(data.names),
        age_recipient=data.age_recipient,
        recall_contact=data.recall_contact,
        active=data.active,
        created_at=now,
        updated_at=now,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return row


def create_recipient(
    session: Session, runtime: Runtime, principal: Principal, data: RecipientCreate
) -> RecipientChange:
    """Register a recipient: at once from the command line, else when a second admin confirms.

    Until then nothing is stored but the request; the recipient gets the id the request names.
    """
    policy.require(principal, policy.Action.RECIPIENT_MANAGE)
    check_fits(data.recipient_class, data.jurisdiction)
    recipient_id = new_id()
    audit.touch(session, resource_id=recipient_id)
    if policy.acts_at_once(principal):
        return RecipientChange(recipient=_read(_insert(session, recipient_id, data, principal.user_id)))
    payload: dict[str, object] = {"recipient": data.model_dump(mode="json")}
    asked = confirmations.request_confirmation(session, runtime, principal, CREATE_RECIPIENT, recipient_id, payload)
    return RecipientChange(recipient=None, pending_confirmation=asked)


def list_recipients(
    session: Session,
    principal: Principal,
    page: PageRequest = FIRST_PAGE,
    *,
    recipient_class: RecipientClass | None = None,
    active: bool | None = None,
) -> Page[RecipientRead]:
    """Recipients in the order they were registered."""
    policy.require(principal, policy.Action.RECIPIENT_READ)
    stmt = select(Recipient)
    if recipient_class is not None:
        stmt = stmt.where(Recipient.recipient_class == recipient_class.value)
    if active is not None:
        stmt = stmt.where(Recipient.active.is_(active))
    rows, cursor = keyset(session, stmt, Recipient.id, page, uuid.UUID, lambda r: r.id)
    return Page[RecipientRead](items=[_read(r) for r in rows], next_cursor=cursor)


def get_recipient(session: Session, principal: Principal, recipient_id: uuid.UUID) -> RecipientRead:
    row = policy.load(session, principal, policy.Action.RECIPIENT_READ, Recipient, recipient_id)
    audit.touch(session, resource_id=row.id)
    return _read(row)


def _sensitive(row: Recipient) -> dict[str, str | None]:
    return {
        "recipient_class": row.recipient_class,
        "jurisdiction": row.jurisdiction,
        "age_recipient": row.age_recipient,
    }


def update_recipient(
    session: Session, runtime: Runtime, principal: Principal, recipient_id: uuid.UUID, data: RecipientUpdate
) -> RecipientChange:
    """Names, recall contact and active change at once; class, jurisdiction and age key are asked
    of a second admin (one such request per recipient at a time)."""
    # The row is held: a waiting request is checked for and opened as one step.
    row = policy.load(session, principal, policy.Action.RECIPIENT_MANAGE, Recipient, recipient_id, lock=True)
    audit.touch(session, resource_id=row.id)
    current = _sensitive(row)
    given = data.model_dump(mode="json", include=set(SENSITIVE) & data.model_fields_set)
    # Class and jurisdiction are never removed: a null there means "unchanged"; a null key removes it.
    changes = {k: v for k, v in given.items() if (v is not None or k == "age_recipient") and v != current[k]}
    if changes:
        after = {**current, **changes}
        check_fits(str(after["recipient_class"]), str(after["jurisdiction"]))
    if data.names is not None:
        row.names = list(data.names)
    if data.recall_contact is not None:
        row.recall_contact = data.recall_contact
    if data.active is not None:
        row.active = data.active
    row.updated_at = db_now(session)
    asked = None
    if changes and policy.acts_at_once(principal):
        _set_sensitive(row, changes)
    elif changes:
        if confirmations.pending(session, CHANGE_RECIPIENT, row.id):
            raise Conflict("a change of this recipient's class, jurisdiction or key already waits for a second admin")
        payload: dict[str, object] = {"changes": changes, "from": {k: current[k] for k in changes}}
        asked = confirmations.request_confirmation(session, runtime, principal, CHANGE_RECIPIENT, row.id, payload)
    session.flush()
    return RecipientChange(recipient=_read(row), pending_confirmation=asked)


def _set_sensitive(row: Recipient, changes: dict[str, object]) -> None:
    for key, value in changes.items():
        setattr(row, key, value)


def registered(session: Session, recipient_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these ids name a registered recipient (active or not)."""
    return set(session.scalars(select(Recipient.id).where(Recipient.id.in_(recipient_ids))))


# Two-person kinds of request about recipients --------------------------------


def _concerns(session: Session, row: Confirmation) -> confirmations.Subject:
    return confirmations.Subject()


def _apply_create(session: Session, row: Confirmation, now: datetime) -> str | None:
    try:
        data = RecipientCreate.model_validate(row.payload.get("recipient"))
        check_fits(data.recipient_class, data.jurisdiction)
    except (ValidationError, ValidationFailed):
        return "the request no longer describes a valid recipient"
    if session.get(Recipient, row.target_id) is not None:
        return "the recipient exists already"
    _insert(session, row.target_id, data, row.requested_by)
    return None


def _apply_change(session: Session, row: Confirmation, now: datetime) -> str | None:
    recipient = session.get(Recipient, row.target_id, with_for_update=True)
    if recipient is None:
        return "the recipient no longer exists"
    asked_from = row.payload.get("from")
    changes = row.payload.get("changes")
    if not isinstance(asked_from, dict) or not isinstance(changes, dict):
        return "the request no longer describes a change"
    current = _sensitive(recipient)
    if any(current.get(k) != v for k, v in asked_from.items()):
        return "the recipient changed while the request waited"
    try:
        checked = RecipientUpdate.model_validate(changes).model_dump(mode="json", include=set(SENSITIVE) & set(changes))
        after = {**current, **checked}
        check_fits(str(after["recipient_class"]), str(after["jurisdiction"]))
    except (ValidationError, ValidationFailed):
        return "the request no longer describes a valid change"
    _set_sensitive(recipient, checked)
    recipient.updated_at = now
    return None


CREATE_RECIPIENT = confirmations.register(confirmations.Kind("recipient.create", _apply_create, _concerns))
CHANGE_RECIPIENT = confirmations.register(confirmations.Kind("recipient.change", _apply_change, _concerns))
