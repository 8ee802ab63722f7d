"""Legal holds: a court or mechanism needs a person's records kept, whatever erasure or retention asks.

A custodian asks (``POST /people/{id}/legal-hold``, fresh second factor, never by token); a second custodian
confirms (``POST /legal-holds/{id}/decision``), through the confirmation kind ``legal_hold.set``: the engine
refuses the first custodian, decides once, and an unanswered request expires. The reason and the
proceedings reference are sealed under the person's data key and never logged or read back. One custodian
lifts an active hold with a reason; erasing afterwards still takes two.

Every step holds the person's row (``app.people.records.hold``), as erasure does before it asks
``is_held``: a hold confirmed while an erasure runs waits for it, and the other way round.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.confirmations import service as confirmations
from app.confirmations.models import Confirmation
from app.core.db import db_now, new_id, on_failure
from app.core.errors import Conflict
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.erasure.schemas import DecisionIn, HoldState, LegalHoldIn, LegalHoldRead, LiftIn
from app.keys.sealed import Place, seal_json
from app.people.erased import refuse_if_erased
from app.people.models import LegalHold, Person
from app.people.records import hold

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

ACTION = policy.Action.LEGAL_HOLD_MANAGE


def _place(row: LegalHold, column: str) -> Place:
    return Place("legal_holds", column, row.id, row.person_id, {"case": row.case_id.hex, "hold": row.id.hex})


def _read(session: Session, row: LegalHold) -> LegalHoldRead:
    waiting = confirmations.pending(session, SET_HOLD, row.id) if row.state == HoldState.REQUESTED else []
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    return LegalHoldRead(
        id=row.id,
        person_id=row.person_id,
        person_code=person.code,
        state=HoldState(row.state),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        confirmed_by=row.confirmed_by,
        confirmed_at=row.confirmed_at,
        lifted_by=row.lifted_by,
        lifted_at=row.lifted_at,
        confirmation_id=waiting[0].id if waiting else None,
    )


def _person(session: Session, principal: Principal, person_id: uuid.UUID) -> tuple[Person, datetime]:
    """The person, for a custodian with a fresh second factor, held until the transaction ends."""
    person = policy.load(session, principal, ACTION, Person, person_id)
    audit.touch(session, resource_id=person.id, case_id=person.case_id)
    now = db_now(session)
    policy.require_step_up(principal, ACTION, now)
    hold(session, person)
    return person, now


def _current(session: Session, person_id: uuid.UUID) -> LegalHold | None:
    return session.scalars(
        select(LegalHold).where(
            LegalHold.person_id == person_id, LegalHold.state.in_([HoldState.REQUESTED, HoldState.ACTIVE])
        )
    ).first()


def request_hold(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, data: LegalHoldIn
) -> LegalHoldRead:
    assert principal.user_id is not None
    person, now = _person(session, principal, person_id)
    refuse_if_erased(session, person.id)
    confirmations.close_expired(session, now)  # a request left unanswered no longer stands in the way
    current = _current(session, person.id)
    if current is not None:
        raise Conflict(
            "a legal hold on this person is %(hold_state)s already",
            code="legal_hold_exists",
            params={"hold_state": current.state},
        )
    row = LegalHold(
        id=new_id(),
        person_id=person.id,
        case_id=person.case_id,
        state=HoldState.REQUESTED,
        details=b"",
        requested_by=principal.user_id,
        requested_at=now,
    )
    row.details = seal_json(
        session, runtime.keys, _place(row, "details"), {"reason": data.reason, "reference": data.proceedings_reference}
    )
    session.add(row)
    session.flush()
    confirmations.request_confirmation(session, runtime, principal, SET_HOLD, row.id, {})
    return _read(session, row)


def decide_hold(
    session: Session, runtime: Runtime, principal: Principal, hold_id: uuid.UUID, data: DecisionIn
) -> LegalHoldRead:
    """A second custodian confirms or rejects a requested hold (the engine refuses the one who asked)."""
    row = policy.load(session, principal, ACTION, LegalHold, hold_id)
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    _, now = _person(session, principal, person.id)
    if data.confirm:
        refuse_if_erased(session, person.id)  # erased while the hold waited: there is nothing left to keep
    session.refresh(row)
    waiting = confirmations.pending(session, SET_HOLD, row.id)
    if row.state != HoldState.REQUESTED or not waiting:
        on_failure(session, lambda s: confirmations.close_expired(s, now))
        state = HoldState.EXPIRED if row.state == HoldState.REQUESTED else HoldState(row.state)
        raise Conflict(
            "this legal hold is %(hold_state)s: it is not waiting for a decision",
            code="state",
            params={"hold_state": state.value},
        )
    confirmations.decide_confirmation(session, runtime, principal, waiting[0].id, data.confirm, action=ACTION)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)  # the hold, not the engine's request
    session.refresh(row)
    if data.confirm:
        row.confirmed_by = principal.user_id
    else:
        row.state = HoldState.REJECTED
    session.flush()
    return _read(session, row)


def lift_hold(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, data: LiftIn
) -> LegalHoldRead:
    person, now = _person(session, principal, person_id)
    row = session.scalars(
        select(LegalHold).where(LegalHold.person_id == person.id, LegalHold.state == HoldState.ACTIVE)
    ).first()
    if row is None:
        raise Conflict("no legal hold is on this person", code="no_legal_hold")
    row.state = HoldState.LIFTED
    row.lifted_by = principal.user_id
    row.lifted_at = now
    row.lift_details = seal_json(session, runtime.keys, _place(row, "lift_details"), {"reason": data.reason})
    session.flush()
    return _read(session, row)


# The second custodian, as a two-person kind of request -------------------------------------------------


def _concerns(session: Session, row: Confirmation) -> confirmations.Subject:
    return confirmations.Subject()


def _apply(session: Session, row: Confirmation, now: datetime) -> str | None:
    held = session.get(LegalHold, row.target_id, with_for_update=True)
    if held is None or held.state != HoldState.REQUESTED:
        return "the legal hold changed while it waited"
    held.state = HoldState.ACTIVE
    held.confirmed_at = now
    session.flush()
    return None


def _expired(session: Session, row: Confirmation) -> None:
    held = session.get(LegalHold, row.target_id, with_for_update=True)
    if held is not None and held.state == HoldState.REQUESTED:
        held.state = HoldState.EXPIRED
        session.flush()


SET_HOLD = confirmations.register(
    confirmations.Kind("legal_hold.set", _apply, _concerns, decide_action=ACTION, step_up=True, on_expire=_expired)
)


def list_holds(session: Session, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[LegalHoldRead]:
    """Holds that stand or wait for a second custodian (requested, active), oldest first: ids and states only."""
    stmt = policy.scope(principal, ACTION, select(LegalHold), LegalHold.case_id).where(
        LegalHold.state.in_([HoldState.REQUESTED, HoldState.ACTIVE])
    )
    rows, cursor = keyset(session, stmt, LegalHold.id, page, uuid.UUID, lambda r: r.id)
    return Page[LegalHoldRead](items=[_read(session, r) for r in rows if not _lapsed(session, r)], next_cursor=cursor)


def _lapsed(session: Session, row: LegalHold) -> bool:
    """A requested hold whose confirmation expired unanswered: no longer waiting (the next write closes it)."""
    return row.state == HoldState.REQUESTED and not confirmations.pending(session, SET_HOLD, row.id)
