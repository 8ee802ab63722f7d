"""Finding a consent record from what the survivor holds: its reference code, or (for a documenter on the
person's case team) their pseudonym code, and always the withdrawal code word they chose.

Both values travel only in the request body. Lookups are throttled per reference (or pseudonym code) and
per account, counting failures, and every lookup is audited, found or not, without either value. A wrong
code word and an unknown (or unreachable) reference get the same answer. Finding a record is not proof
of who is calling: the answer reminds the caller to call back on the safe channel before acting.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.access import policy, throttle
from app.access.principal import Principal
from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.consent import grants, reference
from app.consent import service as participation
from app.consent.grant_models import UseConsent
from app.consent.grant_schemas import LookupIn, LookupMatch, LookupRead
from app.core.db import db_now
from app.core.errors import NotFound, ValidationFailed
from app.people import erased
from app.people.models import Person

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.runtime import Runtime  # the wiring above the domains; services only name its type

REMINDER = (
    "Finding this record does not prove who you are talking to. Before acting on it, end the call and call "
    "the person back on the safe channel recorded with their consent, at a safe time, and confirm it is them."
)
NO_MATCH = "no consent record matches these values"
REFERENCE_LOCKED = (
    "This reference code is locked for up to an hour after too many wrong code words: it may be someone "
    "other than the survivor trying it. A documenter on the person's case team can still find them by their "
    "pseudonym code with the code word."
)


def may_look_up(principal: Principal) -> None:
    """The lookup form is shown only to those who may look up (403 for the others, as the lookup answers)."""
    policy.require(principal, policy.Action.CONSENT_LOOKUP)


def lookup(session: Session, runtime: Runtime, principal: Principal, data: LookupIn) -> LookupRead:
    policy.require(principal, policy.Action.CONSENT_LOOKUP)
    if (data.reference is None) == (data.person_code is None):
        raise ValidationFailed("give either a reference code or a pseudonym code", fields=["reference", "person_code"])
    now = db_now(session)
    if data.reference is not None:
        normalised = reference.normalise(data.reference)
        if normalised is None:
            raise ValidationFailed(
                "a reference code is %(n)s letters and digits, as on the card",
                fields=["reference"],
                params={"n": str(reference.LENGTH)},
            )
        target = f"reference|{normalised}"
        try:
            throttle.check_lookup(session, runtime, target, principal.actor, now)
        except throttle.TargetLocked as exc:
            _locked(session, runtime, principal, normalised)
            raise throttle.TargetLocked(exc.retry_after, REFERENCE_LOCKED) from None
        person, chains = _by_reference(session, runtime, principal, normalised)
    else:
        assert data.person_code is not None  # LookupIn
        # Looking up by pseudonym code is reading the person: documenters on their case team only.
        policy.require(principal, policy.Action.PERSON_READ)
        code = data.person_code.strip().upper()
        target = f"person|{code}"
        throttle.check_lookup(session, runtime, target, principal.actor, now)
        person, chains = _by_person_code(session, principal, code)
    if person is not None:
        audit.touch(session, resource_id=chains[0] if chains else person.id, case_id=person.case_id)
    if person is not None and erased.is_erased(session, person.id):
        person = None  # the code word was sealed under the erased key: nothing matches it any more
    matches = person is not None and participation.code_word_matches(session, runtime, person, data.code_word)
    if not matches or person is None:
        throttle.count_lookup_failure(session, runtime, target, principal.actor, now)
        raise NotFound(NO_MATCH)
    throttle.succeeded(session)
    return LookupRead(
        person_id=person.id,
        person_code=person.code,
        consents=[_match(session, runtime, person, chain_id) for chain_id in chains],
        reminder=REMINDER,
    )


def _locked(session: Session, runtime: Runtime, principal: Principal, normalised: str) -> None:
    """Record the refusal as ``consent.lookup_locked``, naming the record the reference is for (ids only): a lock
    on a real reference can mean someone holding the survivor's card is trying code words."""
    person, chains = _by_reference(session, runtime, principal, normalised)
    audit.touch(
        session,
        resource_id=chains[0] if chains else None,
        case_id=person.case_id if person is not None else None,
        failed_action=AuditAction.CONSENT_LOOKUP_LOCKED,
    )


def _by_reference(
    session: Session, runtime: Runtime, principal: Principal, normalised: str
) -> tuple[Person | None, list[uuid.UUID]]:
    stmt = policy.scope(
        principal,
        policy.Action.CONSENT_LOOKUP,
        select(UseConsent).where(UseConsent.reference_hash == reference.code_hash(runtime, normalised)),
        UseConsent.case_id,
    )
    row = session.scalars(stmt).first()
    if row is None:
        return None, []
    return session.get(Person, row.person_id), [row.chain_id]


def _by_person_code(session: Session, principal: Principal, code: str) -> tuple[Person | None, list[uuid.UUID]]:
    stmt = policy.scope(principal, policy.Action.PERSON_READ, select(Person).where(Person.code == code), Person.case_id)
    person = session.scalars(stmt).first()
    if person is None:
        return None, []
    chains = session.scalars(
        select(UseConsent.chain_id)
        .where(UseConsent.person_id == person.id, UseConsent.version == 1)
        .order_by(UseConsent.id)
    )
    return person, list(chains)


def _match(session: Session, runtime: Runtime, person: Person, chain_id: uuid.UUID) -> LookupMatch:
    chain = grants.chain_of(session, chain_id)
    latest = chain.versions[-1]
    whole = grants.withdrawn_grants(session, runtime, person, chain)[0]
    state = "invalid" if chain.invalidations else "withdrawn" if whole else "current"
    return LookupMatch(consent_id=latest.chain_id, current_version_id=latest.id, state=state)
