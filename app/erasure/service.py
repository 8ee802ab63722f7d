"""Erasure requests: the custodians' queue, asking, confirming (two custodians) and refusing.

A request comes from a survivor's withdraw_and_erase withdrawal (pending at once) or from a custodian
(``POST /people/{id}/erase``). Either way a custodian with a fresh second factor asks for it to be carried out,
with a reason and the linked records (decided to be the same person) it is to cover; that opens a request of the
confirmation kind ``erasure.carry_out``, and a second custodian confirms it (``POST /erasures/{id}/decision``).
The engine refuses the first custodian and decides once; the erasure is then carried out (app/erasure/carry_out)
in the same transaction. A second custodian's "no", or a confirmation left to expire, puts the request back in
the queue: only a refusal with a reason (``POST /erasures/{id}/refuse``) closes it without erasing.

Every step holds the rows of the person and of the linked records it covers, in id order, as withdrawals,
legal holds and export downloads do: an erasure asked for twice at once is carried out once, and a download
racing it either finished first (and gets a recall notice) or finds the export stale.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.confirmations import service as confirmations
from app.confirmations.models import Confirmation
from app.confirmations.schemas import Status
from app.consent.grant_models import ERASURE_DONE, ERASURE_PENDING, ERASURE_REFUSED, ErasureRequest
from app.consent.withdrawal import pending_erasures
from app.core.db import db_now, new_id, on_failure
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.crypto import aead
from app.erasure import carry_out
from app.erasure.schemas import DecisionIn, ErasureIn, ErasureRead, ErasureState, LinkedRecord, RefuseIn
from app.keys import datakeys
from app.people import erased, links
from app.people.holds import is_held
from app.people.models import Person
from app.people.records import hold, lock_wait

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

ACTION = policy.Action.ERASURE_MANAGE


TABLE = "erasure_requests"


def _seal(session: Session, runtime: Runtime, row: ErasureRequest, reasons: dict[str, str]) -> bytes:
    """The reasons, under the service key: they must outlive the person's own key. Never read back by the API."""
    key = datakeys.service_key(session, runtime.keys)
    return aead.seal(
        key, json.dumps(reasons).encode(), table=TABLE, column="details", row_id=row.id, person_id=row.person_id
    )


def _reasons(session: Session, runtime: Runtime, row: ErasureRequest) -> dict[str, str]:
    if row.details is None:
        return {}
    key = datakeys.service_key(session, runtime.keys)
    opened = aead.open(key, row.details, table=TABLE, column="details", row_id=row.id, person_id=row.person_id)
    return dict(json.loads(opened))


def _linked(session: Session, person_id: uuid.UUID) -> list[Person]:
    ids = sorted(links.members(session, person_id) - {person_id})
    people = [p for p in (session.get(Person, i) for i in ids) if p is not None]
    return [p for p in people if not erased.is_erased(session, p.id)]


def _read(session: Session, row: ErasureRequest, now: datetime) -> ErasureRead:
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    waiting = confirmations.pending(session, CARRY_OUT, row.id) if row.state == ERASURE_PENDING else []
    included = [uuid.UUID(i) for i in row.include_linked or []]
    state = ErasureState(row.state)
    if state is ErasureState.PENDING and waiting:
        state = ErasureState.AWAITING_CONFIRMATION
    live = row.state == ERASURE_PENDING
    return ErasureRead(
        id=row.id,
        person_id=person.id,
        person_code=person.code,
        origin="withdrawal" if row.withdrawal_id else "custodian",
        state=state,
        requested_at=row.requested_at,
        asked_by=row.asked_by,
        confirmation_id=waiting[0].id if waiting else None,
        confirmation_expires_at=waiting[0].expires_at if waiting else None,
        linked_records=[LinkedRecord(person_id=p.id, code=p.code) for p in _linked(session, person.id)] if live else [],
        include_linked=included,
        legal_hold=live and any(is_held(session, i) for i in [person.id, *included]),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def _hold_all(session: Session, runtime: Runtime, ids: Iterable[uuid.UUID]) -> list[Person]:
    """Hold every person's row in id order (two erasures of linked records never wait on each other crosswise),
    each wait bounded as a withdrawal's is: a lock held longer (a stalled export worker) answers 503."""
    people = []
    for person_id in sorted(set(ids)):
        person = session.get(Person, person_id)
        assert person is not None  # a foreign key, or checked against the links
        hold(session, person, wait=lock_wait(runtime))
        people.append(person)
    return people


def _refuse_if_held(session: Session, ids: Iterable[uuid.UUID]) -> None:
    held = [str(i) for i in sorted(set(ids)) if is_held(session, i)]
    if held:
        raise Conflict(
            "a legal hold is on this person (or a linked record to erase): their records must be kept until it is "
            "lifted; a withdrawal still stops every new use",
            code="legal_hold",
            held=held,
        )


def request_erasure(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, data: ErasureIn
) -> ErasureRead:
    """A custodian asks for the person's erasure: their pending request (a survivor's), or a new one."""
    assert principal.user_id is not None
    person = policy.load(session, principal, ACTION, Person, person_id)
    audit.touch(session, resource_id=person.id, case_id=person.case_id)
    now = db_now(session)
    policy.require_step_up(principal, ACTION, now)
    linked = {p.id for p in _linked(session, person.id)}
    unknown = [f"include_linked.{i}" for i, other in enumerate(data.include_linked) if other not in linked]
    if unknown:
        raise ValidationFailed("not a record decided to be the same person as this one", fields=unknown)
    _hold_all(session, runtime, [person.id, *data.include_linked])
    erased.refuse_if_erased(session, person.id)
    _refuse_if_held(session, [person.id, *data.include_linked])
    confirmations.close_expired(session, now)
    pending = pending_erasures(session, person.id)
    if pending and confirmations.pending(session, CARRY_OUT, pending[0].id):
        raise Conflict("this erasure waits for a second custodian already", code="awaiting_confirmation")
    row = pending[0] if pending else None
    if row is None:
        row = ErasureRequest(
            id=new_id(),
            person_id=person.id,
            case_id=person.case_id,
            withdrawal_id=None,
            state=ERASURE_PENDING,
            requested_by=principal.user_id,
            requested_at=now,
        )
        session.add(row)
    row.asked_by = principal.user_id
    row.include_linked = [str(i) for i in sorted(set(data.include_linked))]
    row.details = _seal(session, runtime, row, {"reason": data.reason})
    session.flush()
    confirmations.request_confirmation(
        session, runtime, principal, CARRY_OUT, row.id, {"include_linked": row.include_linked}
    )
    return _read(session, row, now)


def _load(
    session: Session, runtime: Runtime, principal: Principal, erasure_id: uuid.UUID
) -> tuple[ErasureRequest, datetime]:
    row = policy.load(session, principal, ACTION, ErasureRequest, erasure_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    now = db_now(session)
    policy.require_step_up(principal, ACTION, now)
    _hold_all(session, runtime, [row.person_id, *(uuid.UUID(i) for i in row.include_linked or [])])
    session.refresh(row)  # as it is now that the people are held
    if row.state != ERASURE_PENDING:
        raise Conflict("this erasure request is %(erasure_state)s", code="state", params={"erasure_state": row.state})
    return row, now


def decide_erasure(
    session: Session, runtime: Runtime, principal: Principal, erasure_id: uuid.UUID, data: DecisionIn
) -> ErasureRead:
    """The second custodian's answer: confirm (the erasure is carried out now) or not (back to the queue)."""
    row, now = _load(session, runtime, principal, erasure_id)
    waiting = confirmations.pending(session, CARRY_OUT, row.id)
    if not waiting:
        on_failure(session, lambda s: confirmations.close_expired(s, now))
        raise Conflict(
            "no custodian has asked for this erasure to be carried out (or the wait expired): ask again",
            code="no_confirmation",
        )
    included = [uuid.UUID(i) for i in row.include_linked or []]
    if data.confirm:
        _refuse_if_held(session, [row.person_id, *included])
    decided = confirmations.decide_confirmation(session, runtime, principal, waiting[0].id, data.confirm, action=ACTION)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)  # the erasure, not the engine's request
    if decided.status is Status.CONFIRMED:
        _carry_out(session, runtime, principal, row, included, now)
    return _read(session, row, now)


def _carry_out(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    row: ErasureRequest,
    included: list[uuid.UUID],
    now: datetime,
) -> None:
    origin = "withdrawal" if row.withdrawal_id else "custodian"
    for person_id, why in [(row.person_id, origin), *((i, "linked") for i in included)]:
        person = session.get(Person, person_id)
        assert person is not None
        if erased.is_erased(session, person.id):
            continue  # a linked record erased on its own meanwhile
        carry_out.erase_person(
            session,
            runtime,
            person,
            erasure_id=row.id,
            origin=why,
            requested_by=row.asked_by,
            confirmed_by=principal.user_id,
        )
    # The linked records' own pending requests are carried out with this one.
    session.execute(
        update(ErasureRequest)
        .where(ErasureRequest.person_id.in_([row.person_id, *included]), ErasureRequest.state == ERASURE_PENDING)
        .values(state=ERASURE_DONE, decided_by=principal.user_id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)


def refuse_erasure(
    session: Session, runtime: Runtime, principal: Principal, erasure_id: uuid.UUID, data: RefuseIn
) -> ErasureRead:
    """Close a pending request without erasing, with a reason (sealed); an open confirmation is voided."""
    row, now = _load(session, runtime, principal, erasure_id)
    for waiting in confirmations.pending(session, CARRY_OUT, row.id):
        session.execute(
            update(Confirmation)
            .where(Confirmation.id == waiting.id, Confirmation.status == Status.PENDING)
            .values(
                status=Status.VOID,
                payload={**waiting.payload, "void_reason": "the erasure was refused"},
                decided_by=principal.user_id,
                decided_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    row.state = ERASURE_REFUSED
    row.decided_by = principal.user_id
    row.decided_at = now
    row.details = _seal(session, runtime, row, {**_reasons(session, runtime, row), "refusal": data.reason})
    session.flush()
    return _read(session, row, now)


def list_erasures(
    session: Session, principal: Principal, state: ErasureState | None = None, page: PageRequest = FIRST_PAGE
) -> Page[ErasureRead]:
    """The custodians' queue (pending, with or without a confirmation waiting) by default; oldest first."""
    stmt = policy.scope(principal, policy.Action.ERASURE_READ, select(ErasureRequest), ErasureRequest.case_id)
    if state is None or state in (ErasureState.PENDING, ErasureState.AWAITING_CONFIRMATION):
        stmt = stmt.where(ErasureRequest.state == ERASURE_PENDING)
    else:
        stmt = stmt.where(ErasureRequest.state == state.value)
    rows, cursor = keyset(session, stmt, ErasureRequest.id, page, uuid.UUID, lambda r: r.id)
    now = db_now(session)
    return Page[ErasureRead](items=[_read(session, r, now) for r in rows], next_cursor=cursor)


# The second custodian, as a two-person kind of request -------------------------------------------------


def _concerns(session: Session, row: Confirmation) -> confirmations.Subject:
    return confirmations.Subject()


def _apply(session: Session, row: Confirmation, now: datetime) -> str | None:
    """The engine's part: the request must still be pending; the caller then carries it out."""
    request = session.get(ErasureRequest, row.target_id)
    if request is None or request.state != ERASURE_PENDING:
        return "the erasure request changed while it waited"
    return None


CARRY_OUT = confirmations.register(
    confirmations.Kind("erasure.carry_out", _apply, _concerns, decide_action=ACTION, step_up=True)
)
