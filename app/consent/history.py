"""The history builder: a person's stored use-consent records, withdrawals and invalidations, turned into the
plain values ``decide()`` takes (app/consent/decision_inputs.py).

``build`` is pure: it maps opened rows to the inputs, and never decides. A version found invalid is given the
status ``invalidated`` (so its whole chain allows nothing more); a withdrawal keeps its record, its time and
its scope (``None`` for "all"). Whether the person is a minor, and has assented with a guardian's consent,
comes from their latest participation consent, and holds for every record. ``history_of`` loads and opens
the rows; ``recipient_of`` and ``deny_list_of`` give the registry entry and the deny-list as ``decide()``
reads them. The caller passes the database clock to ``decide()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.consent import decision_inputs as inputs
from app.consent import grants
from app.consent import service as participation
from app.consent.checks import ADULT
from app.consent.grant_models import (
    ERASURE_PENDING,
    ConsentInvalidation,
    ConsentWithdrawal,
    ErasureRequest,
    UseConsent,
)
from app.consent.vocabulary import ConsentStatus, ParticipationDecision
from app.core.db import db_now
from app.keys import datakeys
from app.people import links
from app.people.models import Person, SamePersonLink
from app.recipients import deny_list
from app.recipients.models import Recipient

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


@dataclass(frozen=True)
class StoredVersion:
    """One version as stored: its clear columns and its opened contents."""

    id: uuid.UUID
    amends: uuid.UUID | None
    status: str
    recorded_at: datetime
    details: dict[str, Any]


@dataclass(frozen=True)
class StoredWithdrawal:
    consent_id: uuid.UUID
    at: datetime
    scope: str | list[str]


@dataclass(frozen=True)
class Minority:
    """What the person's latest participation consent says about their age and assent."""

    is_minor: bool = False
    child_assent: bool = False
    guardian_consent: bool = False


def build(
    versions: Sequence[StoredVersion],
    withdrawals: Sequence[StoredWithdrawal],
    invalidated: Collection[uuid.UUID],
    minority: Minority = Minority(),
) -> inputs.ConsentHistory:
    records = tuple(
        inputs.ConsentRecord(
            id=str(v.id),
            status=ConsentStatus.INVALIDATED.value if v.id in invalidated else v.status,
            recorded_at=v.recorded_at,
            amends=None if v.amends is None else str(v.amends),
            grants=tuple(_grant(g) for g in v.details["grants"]),
            refusals=tuple(_refusal(r) for r in v.details["refusals"]),
            restrictions=inputs.Restrictions(
                recipient_ids=frozenset(v.details["restrictions"]["recipient_ids"]),
                jurisdictions=frozenset(v.details["restrictions"]["jurisdictions"]),
            ),
            is_minor=minority.is_minor,
            child_assent=minority.child_assent,
            guardian_consent=minority.guardian_consent,
        )
        for v in versions
    )
    return inputs.ConsentHistory(
        records=records,
        withdrawals=tuple(
            inputs.Withdrawal(
                record_id=str(w.consent_id),
                at=w.at,
                grant_ids=None if w.scope == "all" else frozenset(w.scope),
            )
            for w in withdrawals
        ),
    )


def _grant(g: dict[str, Any]) -> inputs.Grant:
    return inputs.Grant(
        id=g["id"],
        purpose=g["purpose"],
        recipient_class=g["recipient_class"],
        categories=frozenset(g["categories"]),
        disclosure_level=g["disclosure_level"],
        jurisdictions=None if g["jurisdictions"] is None else frozenset(g["jurisdictions"]),
        expires_at=None if g["expires_at"] is None else datetime.fromisoformat(g["expires_at"]),
    )


def _refusal(r: dict[str, Any]) -> inputs.Refusal:
    return inputs.Refusal(
        purpose=r["purpose"],
        categories=frozenset(r["categories"]),
        recipient_class=r["recipient_class"],
        recipient_id=r["recipient_id"],
    )


def history_of(session: Session, runtime: Runtime, person: Person) -> inputs.ConsentHistory:
    """Everything recorded about the person's use consent, opened, as ``decide()`` takes it.

    Three things reach beyond one record, and the builder adds them, so ``decide()`` stays a function of its
    history: while the person's erasure is pending, or their latest participation consent no longer agrees to
    storage, every record of theirs is withdrawn whole (as of that moment); and the refusals and restrictions
    of the records decided to be the same person count here too (their grants do not: a yes given under one
    record is not spread to another, a no is)."""
    versions = _versions(session, runtime, person)
    built = _build_of(session, runtime, person, versions)
    stopped = _stopped_at(session, runtime, person)
    everything = (
        ()
        if stopped is None
        else tuple(inputs.Withdrawal(record_id=str(v.id), at=stopped) for v in versions if v.amends is None)
    )
    return inputs.ConsentHistory(
        records=built.records + _protections_of_the_same_person(session, runtime, person),
        withdrawals=built.withdrawals + everything,
    )


def _versions(session: Session, runtime: Runtime, person: Person) -> list[StoredVersion]:
    rows = list(session.scalars(select(UseConsent).where(UseConsent.person_id == person.id).order_by(UseConsent.id)))
    return [
        StoredVersion(r.id, r.amends, r.status, r.recorded_at, grants.details_of(session, runtime, person, r))
        for r in rows
    ]


def _build_of(
    session: Session, runtime: Runtime, person: Person, versions: Sequence[StoredVersion]
) -> inputs.ConsentHistory:
    withdrawals = [
        StoredWithdrawal(w.consent_id, w.withdrawn_at, grants.withdrawal_details(session, runtime, person, w)["scope"])
        for w in session.scalars(
            select(ConsentWithdrawal).where(ConsentWithdrawal.person_id == person.id).order_by(ConsentWithdrawal.id)
        )
    ]
    invalidated = set(
        session.scalars(select(ConsentInvalidation.consent_id).where(ConsentInvalidation.person_id == person.id))
    )
    return build(versions, withdrawals, invalidated, _minority(session, runtime, person))


def _stopped_at(session: Session, runtime: Runtime, person: Person) -> datetime | None:
    """When every use of the person stopped: their erasure was asked for, or their latest participation
    consent does not agree to storage (refused, deferred, blocked, or never given); None while neither."""
    erasure = session.scalar(
        select(ErasureRequest.requested_at).where(
            ErasureRequest.person_id == person.id, ErasureRequest.state == ERASURE_PENDING
        )
    )
    if erasure is not None:
        return erasure
    opened = participation.latest_opened(session, runtime, person)
    if participation.allows(opened, ParticipationDecision.STORAGE):
        return None
    return db_now(session) if opened is None else opened.row.obtained_at


def _protections_of_the_same_person(
    session: Session, runtime: Runtime, person: Person
) -> tuple[inputs.ConsentRecord, ...]:
    """The records of people decided to be this person, with their refusals and restrictions and no grants."""
    records: list[inputs.ConsentRecord] = []
    for other_id in sorted(links.members(session, person.id) - {person.id}):
        other = session.get(Person, other_id)
        assert other is not None  # a foreign key
        versions = [
            StoredVersion(v.id, v.amends, v.status, v.recorded_at, {**v.details, "grants": []})
            for v in _versions(session, runtime, other)
        ]
        records.extend(build(versions, [], set()).records)
    return tuple(records)


def _minority(session: Session, runtime: Runtime, person: Person) -> Minority:
    return _minority_of(participation.latest_opened(session, runtime, person))


def _minority_of(opened: participation.Opened | None) -> Minority:
    if opened is None:
        return Minority()
    age = opened.details.get("age_at_decision")
    if age is None or age >= ADULT:
        return Minority()
    minor = opened.details.get("minor") or {}
    guardian = minor.get("guardian") or {}
    stands_in = minor.get("guardian_conflict") and minor.get("social_worker") is not None
    return Minority(
        is_minor=True,
        child_assent=minor.get("assent") is True,
        guardian_consent=guardian.get("consent") is True or bool(stands_in),
    )


def recipient_of(row: Recipient) -> inputs.Recipient:
    return inputs.Recipient(
        id=str(row.id), recipient_class=row.recipient_class, jurisdiction=row.jurisdiction, active=row.active
    )


def deny_list_of(session: Session) -> inputs.DenyList:
    current = deny_list.current(session)
    if current is None:
        return inputs.DenyList()
    return inputs.DenyList(
        recipient_ids=frozenset(current.recipient_ids), jurisdictions=frozenset(current.jurisdictions)
    )


@dataclass
class _Page:
    """The rows a page of people's histories is built from, each kind read by one IN query."""

    people: dict[uuid.UUID, Person]
    versions: dict[uuid.UUID, list[UseConsent]]
    withdrawals: dict[uuid.UUID, list[ConsentWithdrawal]]
    invalidated: dict[uuid.UUID, set[uuid.UUID]]
    erasures: dict[uuid.UUID, datetime]
    participation: dict[uuid.UUID, uuid.UUID]
    groups: dict[uuid.UUID, frozenset[uuid.UUID]]
    held: list[Any]
    """Rows kept referenced while the page is built, so that ``session.get`` finds them in the identity map."""


def _grouped(rows: Sequence[Any], key: str) -> dict[uuid.UUID, list[Any]]:
    out: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


def _page(session: Session, people: Sequence[Person]) -> _Page:
    ids = [p.id for p in people]
    link_rows = session.execute(select(SamePersonLink.person_id, SamePersonLink.group_id).where(
        SamePersonLink.group_id.in_(select(SamePersonLink.group_id).where(SamePersonLink.person_id.in_(ids)))
    )).all()  # fmt: skip
    by_group: dict[uuid.UUID, set[uuid.UUID]] = {}
    for member, group in link_rows:
        by_group.setdefault(group, set()).add(member)
    group_of = {member: group for member, group in link_rows}
    groups = {p: frozenset(by_group[group_of[p]]) if p in group_of else frozenset({p}) for p in ids}
    everyone = sorted({m for members in groups.values() for m in members})
    known = {p.id: p for p in people}
    others = [o for o in everyone if o not in known]
    if others:
        known.update({o.id: o for o in session.scalars(select(Person).where(Person.id.in_(others)))})
    versions = list(
        session.scalars(select(UseConsent).where(UseConsent.person_id.in_(everyone)).order_by(UseConsent.id))
    )
    withdrawals = list(
        session.scalars(
            select(ConsentWithdrawal).where(ConsentWithdrawal.person_id.in_(ids)).order_by(ConsentWithdrawal.id)
        )
    )
    invalidated: dict[uuid.UUID, set[uuid.UUID]] = {}
    for person_id, consent_id in session.execute(
        select(ConsentInvalidation.person_id, ConsentInvalidation.consent_id).where(
            ConsentInvalidation.person_id.in_(ids)
        )
    ):
        invalidated.setdefault(person_id, set()).add(consent_id)
    erasures: dict[uuid.UUID, datetime] = {}
    for person_id, at in session.execute(
        select(ErasureRequest.person_id, ErasureRequest.requested_at)
        .where(ErasureRequest.person_id.in_(ids), ErasureRequest.state == ERASURE_PENDING)
        .order_by(ErasureRequest.id)
    ):
        erasures.setdefault(person_id, at)
    latest = participation.latest_of_each(session, ids)
    keys = datakeys.loaded(session, everyone)
    return _Page(
        people=known,
        versions=_grouped(versions, "person_id"),
        withdrawals=_grouped(withdrawals, "person_id"),
        invalidated=invalidated,
        erasures=erasures,
        participation={p: row.id for p, row in latest.items()},
        groups=groups,
        held=[*known.values(), *versions, *withdrawals, *latest.values(), *keys],
    )


def histories_of(
    session: Session, runtime: Runtime, people: Sequence[Person]
) -> dict[uuid.UUID, inputs.ConsentHistory]:
    """``history_of`` for a page of people, read with a fixed number of queries whatever the page's size.

    The rows are read by IN queries and then opened and built person by person exactly as ``history_of``
    does (the same ``build``, the same rules for a stop and for the records of the same person), so the two
    give equal histories; the caller holds the people's locks, as for ``history_of``."""
    if not people:
        return {}
    page = _page(session, people)
    now = db_now(session)
    out: dict[uuid.UUID, inputs.ConsentHistory] = {}
    for person in people:
        versions = _stored_versions(session, runtime, person, page)
        opened = (
            None
            if person.id not in page.participation
            else participation.opened_version(session, runtime, person, page.participation[person.id])
        )
        withdrawals = [
            StoredWithdrawal(
                w.consent_id, w.withdrawn_at, grants.withdrawal_details(session, runtime, person, w)["scope"]
            )
            for w in page.withdrawals.get(person.id, [])
        ]
        built = build(versions, withdrawals, page.invalidated.get(person.id, set()), _minority_of(opened))
        stopped = page.erasures.get(person.id)
        if stopped is None and not participation.allows(opened, ParticipationDecision.STORAGE):
            stopped = now if opened is None else opened.row.obtained_at
        everything = (
            ()
            if stopped is None
            else tuple(inputs.Withdrawal(record_id=str(v.id), at=stopped) for v in versions if v.amends is None)
        )
        same: list[inputs.ConsentRecord] = []
        for other_id in sorted(page.groups[person.id] - {person.id}):
            other = [
                StoredVersion(v.id, v.amends, v.status, v.recorded_at, {**v.details, "grants": []})
                for v in _stored_versions(session, runtime, page.people[other_id], page)
            ]
            same.extend(build(other, [], set()).records)
        out[person.id] = inputs.ConsentHistory(
            records=built.records + tuple(same), withdrawals=built.withdrawals + everything
        )
    return out


def _stored_versions(session: Session, runtime: Runtime, person: Person, page: _Page) -> list[StoredVersion]:
    return [
        StoredVersion(r.id, r.amends, r.status, r.recorded_at, grants.details_of(session, runtime, person, r))
        for r in page.versions.get(person.id, [])
    ]
