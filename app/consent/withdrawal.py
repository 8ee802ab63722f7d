"""Withdrawing use grants: of a whole record (every version of its chain) or of named grants.

A withdrawal takes effect at once: it is a row read by every later decision, whatever its timestamp.
``withdraw_and_erase`` also files a pending erasure request, which the erasure work carries out. Documenters
on the person's case team take a withdrawal as it comes; custodians may take one for any person, after a
fresh second factor. A custodian is shown the records decided to be the same person, and decides whether the
withdrawal applies to them too: it never spreads on its own.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import changes, grants
from app.consent.grant_models import ERASURE_PENDING, ConsentWithdrawal, ErasureRequest, UseConsent
from app.consent.grant_schemas import LinkedConsent, WithdrawalMode, WithdrawalRead, WithdrawIn
from app.core.db import db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.keys import journal
from app.keys.sealed import seal_json
from app.people import links
from app.people.models import Person
from app.people.records import hold_to_write, lock_wait

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.runtime import Runtime  # the wiring above the domains; services only name its type

LIMITS = (
    "Withdrawal stops every future use of what you told us, from now on. It cannot call back what was "
    "shared before it: we ask everyone who received something to return or destroy it, but we cannot force "
    "them, and what is already part of a court case may stay in that case's file. Counts that already "
    "include you, without your name, stay as they are."
)
"""The limits of withdrawal, as the standard form's withdrawal section explains them (docs/api.md)."""

PENDING = ERASURE_PENDING


def withdraw(
    session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID, data: WithdrawIn
) -> WithdrawalRead:
    row = policy.load(session, principal, policy.Action.CONSENT_WITHDRAW, UseConsent, consent_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    now = db_now(session)
    if policy.withdrawal_needs_step_up(principal, row.case_id):
        policy.require_step_up(principal, policy.Action.CONSENT_WITHDRAW, now)
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    hold_to_write(session, person.id, wait=lock_wait(runtime))
    chain = grants.chain_of(session, row.chain_id)
    scope: str | list[str]
    if data.scope == "all":
        scope = "all"
    else:
        # Only what allows now can be withdrawn by name: a grant an amendment changed lives on under a new id,
        # and withdrawing the old id would leave its continuation allowing while the person is told it stopped.
        current = {g["id"] for g in grants.details_of(session, runtime, person, chain.versions[-1])["grants"]}
        unknown = [f"scope.{i}" for i, grant_id in enumerate(data.scope) if str(grant_id) not in current]
        if unknown:
            raise ValidationFailed(
                "the record's current version has no grant with this id (a grant an amendment changed has a new "
                "id: read the current version, or withdraw the whole record)",
                fields=unknown,
            )
        scope = sorted({str(g) for g in data.scope})
    pending = pending_erasures(session, person.id)
    _adds_something(session, runtime, person, chain, scope, data.mode, pending)
    withdrawal = ConsentWithdrawal(
        id=new_id(),
        consent_id=row.id,
        person_id=person.id,
        case_id=row.case_id,
        mode=data.mode.value,
        received_via=data.received_via.value,
        withdrawn_by=principal.user_id,
        withdrawn_at=now,
        details=b"",
    )
    withdrawal.details = seal_json(
        session, runtime.keys, grants.withdrawal_place(person, withdrawal), {"scope": scope, "reason": data.reason}
    )
    session.add(withdrawal)
    session.flush()
    linked = _linked(session, principal, person.id)
    erasure = None
    if data.mode is WithdrawalMode.WITHDRAW_AND_ERASE and pending:
        erasure = pending[0]  # the person's erasure is pending already: this withdrawal joins it
    elif data.mode is WithdrawalMode.WITHDRAW_AND_ERASE:
        erasure = ErasureRequest(
            id=new_id(),
            person_id=person.id,
            case_id=row.case_id,
            withdrawal_id=withdrawal.id,
            state=PENDING,
            requested_by=principal.user_id,
            requested_at=now,
        )
        session.add(erasure)
        session.flush()
    changes.changed(session, runtime, person)
    journal.record(
        session,
        runtime,
        journal.WITHDRAWAL,
        person.id,
        withdrawal.id,
        now,
        {"consent": str(row.id), "mode": data.mode.value, "scope": scope, "via": data.received_via.value},
    )
    return WithdrawalRead(
        id=withdrawal.id,
        consent_id=row.id,
        person_id=person.id,
        scope=scope,
        mode=data.mode,
        received_via=data.received_via,
        withdrawn_at=now,
        withdrawn_by=principal.user_id,
        erasure_request_id=None if erasure is None else erasure.id,
        limits=LIMITS,
        linked_records=sorted(linked),
        linked_consents=[
            LinkedConsent(person_id=other.id, consent_id=record.id)
            for other in (session.get(Person, i) for i in sorted(linked))
            if other is not None
            for record in grants.current_records(session, runtime, other)
        ],
    )


def _adds_something(
    session: Session,
    runtime: Runtime,
    person: Person,
    chain: grants.ChainState,
    scope: str | list[str],
    mode: WithdrawalMode,
    pending: list[ErasureRequest],
) -> None:
    """409 ``already_withdrawn`` for a withdrawal that would change nothing: what it names is withdrawn
    already, and it asks for no erasure that is not already pending. Read after the person's row is held,
    so the same withdrawal sent twice at once (a double click, two channels) is recorded once."""
    whole, named, _ = grants.withdrawn_grants(session, runtime, person, chain)
    covered = whole or (scope != "all" and set(scope) <= named)
    if covered and (mode is WithdrawalMode.STOP_FUTURE_USE or pending):
        raise Conflict(
            "this is withdrawn already and its erasure is pending" if pending else "this is withdrawn already",
            fields=["scope"],
            code="already_withdrawn",
        )


def _linked(session: Session, principal: Principal, person_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Records decided to be the same person, shown to those who review duplicates (creators are never told)."""
    if not policy.allows(principal, policy.Action.DUPLICATE_REVIEW):
        return frozenset()
    return links.members(session, person_id) - {person_id}


def pending_erasures(session: Session, person_id: uuid.UUID) -> list[ErasureRequest]:
    return list(
        session.scalars(
            select(ErasureRequest).where(ErasureRequest.person_id == person_id, ErasureRequest.state == PENDING)
        )
    )
