"""The current use-consent versions of a page of people, opened as ``standard_record.open_version`` opens one.

The export build writes a consent file per person (``app.exports.consent_file``); reading each version's
chain, withdrawals, invalidations and the person's participation consent one person at a time cost about ten
queries a person. Here each kind of row is read once for the whole page, by an IN query keyed by person, and
each version is then opened by ``standard_record.open_in_chain``, the same code ``open_version`` runs, so the
two give equal records. The caller keeps the page's data keys loaded (``app.keys.datakeys.loaded``), so each
person's key is unwrapped once for the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.consent import grants, standard_record
from app.consent import service as participation
from app.consent.grant_models import ConsentInvalidation, ConsentWithdrawal, UseConsent
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def current_versions(session: Session, person_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[UseConsent]]:
    """Each person's use-consent versions that no later version amends, in id order: one query."""
    later = aliased(UseConsent)
    amended = select(later.id).where(later.amends == UseConsent.id).exists()
    out: dict[uuid.UUID, list[UseConsent]] = {p: [] for p in person_ids}
    for row in session.scalars(
        select(UseConsent).where(UseConsent.person_id.in_(person_ids), ~amended).order_by(UseConsent.id)
    ):
        out[row.person_id].append(row)
    return out


def _chains(session: Session, person_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, grants.ChainState]:
    """``grants.chain_of`` for every chain of these people, by three queries."""
    chain_ids = select(UseConsent.chain_id).where(UseConsent.person_id.in_(person_ids))
    version_ids = select(UseConsent.id).where(UseConsent.chain_id.in_(chain_ids))
    chains: dict[uuid.UUID, grants.ChainState] = {}
    chain_of: dict[uuid.UUID, uuid.UUID] = {}
    for row in session.scalars(
        select(UseConsent).where(UseConsent.chain_id.in_(chain_ids)).order_by(UseConsent.chain_id, UseConsent.version)
    ):
        chains.setdefault(row.chain_id, grants.ChainState([], [], [])).versions.append(row)
        chain_of[row.id] = row.chain_id
    for w in session.scalars(
        select(ConsentWithdrawal).where(ConsentWithdrawal.consent_id.in_(version_ids)).order_by(ConsentWithdrawal.id)
    ):
        chains[chain_of[w.consent_id]].withdrawals.append(w)
    for i in session.scalars(
        select(ConsentInvalidation)
        .where(ConsentInvalidation.consent_id.in_(version_ids))
        .order_by(ConsentInvalidation.id)
    ):
        chains[chain_of[i.consent_id]].invalidations.append(i)
    return chains


def opened_current(
    session: Session, runtime: Runtime, people: Sequence[Person], now: datetime
) -> dict[uuid.UUID, list[standard_record.Opened]]:
    """Each person's current versions, opened for their 27560 record, read with a fixed number of queries
    whatever the page's size; ``now`` is the caller's one database clock reading for the page."""
    ids = [p.id for p in people]
    if not ids:
        return {}
    current = current_versions(session, ids)
    chains = _chains(session, ids)
    latest = participation.latest_of_each(session, ids)  # kept referenced: opened_version finds them in the session
    out: dict[uuid.UUID, list[standard_record.Opened]] = {}
    for person in people:
        rows = current[person.id]
        if not rows:
            out[person.id] = []
            continue
        joined = latest.get(person.id)
        opened = None if joined is None else participation.opened_version(session, runtime, person, joined.id)
        storage = None if opened is None else opened.details.get("retention")
        out[person.id] = [
            standard_record.open_in_chain(session, runtime, person, row, chains[row.chain_id], storage, now)
            for row in rows
        ]
    return out
