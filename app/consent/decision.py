"""The one decision on disclosure: may this category of a person's data go to this recipient, now?

``decide(history, purpose, recipient, category, level, at, deny_list, source=None) -> Decision`` is pure: the
consent history, the recipient's registry entry, the deny-list, the source interview and the database clock
(``at``) are all arguments, and it reads nothing else. It never raises for bad data; it denies. It imports
nothing but the standard library and the vocabulary (an import-linter contract in pyproject.toml), and
nothing else in the code decides disclosure. The inputs are the frozen dataclasses of ``decision_inputs``.

The history. Records form chains through ``amends`` (a version names the version it supersedes); the latest
version of a chain (the one no other version amends) is the one that counts for its status, grants,
refusals, restrictions and minor flags. Two exceptions make a chain dead for good, so that only a new
record (a new chain, from a new consent conversation) can grant again: a version with status ``withdrawn``
or ``invalidated`` anywhere in the chain, and a withdrawal covering the grant. A withdrawal is filed against
one record; ``grant_ids=None`` covers every grant of every version of that record's chain, including later
amendments, and named grant ids cover the grants with those ids wherever they are. Its timestamp does not
matter: a withdrawal covers a grant whether it is dated before, at or after ``at``. Grant ids are therefore
stable across amendments (a grant copied unchanged into an amendment keeps its id; a changed grant is a new
grant with a new id).

The checks, in this order; the first that fails is the reason:

1. ``unknown_vocabulary``: any purpose, recipient class, category, level or status (in the request, the
   recipient or anywhere in the history, superseded versions included) outside the vocabulary, or any
   jurisdiction that is neither two capital letters (ISO 3166-1 alpha-2) nor ``international``.
2. ``malformed_history``: a naive datetime; two versions with one id; an ``amends`` naming no version, two
   versions amending one, or a cycle; a withdrawal against no record; a refusal naming both or neither of a
   recipient class and a recipient id; one grant id twice in a version or in two chains. Ambiguous consent
   means no.
3. ``deny_listed``: the recipient's id or jurisdiction is on the deny-list.
4. ``restricted``: the recipient's id or jurisdiction is in the restrictions of the latest version of any
   chain, whatever its status (a protective term outlives the consent around it).
5. ``recipient_inactive``: the registry entry is not active.
6. ``stopped_by_interviewee``: the material comes from an interview stopped by the interviewee (by state or
   flag) with no reconfirmation after the stop.
7. ``level_below_named``: ``identity``, ``contact``, ``audio_recording``, ``video_recording`` or
   ``photos_of_person`` requested at a level other than ``named_*``.
8. ``level_above_deidentified``: ``current_location`` or ``third_party_info`` requested more revealing than
   ``deidentified``, for any recipient class other than ``intl_criminal_investigators``.
9. ``refused``: an explicit refusal in the latest version of any chain, whatever its status, names the
   purpose, the recipient's class or id, and the category. It overrides every grant, in any record.
10. ``no_grant``: no grant in the latest version of a chain names the purpose, the recipient's class and the
    category.

Each such covering grant is then checked, in this order, and allows when it passes all of them:
``withdrawn`` (a withdrawal covers it, or a version of its chain is withdrawn); ``consent_not_given`` (a
version of its chain is invalidated, or the latest is requested, deferred or unknown); ``refused`` (the
latest is refused); ``minor_without_assent`` (the latest version says minor, without both the child's
assent and a guardian's consent); ``expired`` (the latest is expired, or ``at >= expires_at``);
``national_authority_country_not_listed`` (a ``national_authorities`` grant whose jurisdictions do not name
the recipient's country: a grant without jurisdictions names none, and ``international`` is no country);
``jurisdiction_not_granted`` (another grant lists jurisdictions without the recipient's);
``level_not_granted`` (the requested level is more revealing than the grant's).

When a grant allows, the decision is allowed at the requested level (a grant at a more revealing level is
capped to the request) and ``grant_ids`` lists, sorted, every covering grant that allows. When none does,
the reason is the failure of the grant that came closest (latest in the order above) and ``grant_ids``
lists the grants failing for that reason, so a caller can say which grant was withdrawn or expired. Every
other denial has no level and no grant ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.consent.decision_inputs import (
    INTERNATIONAL,
    ConsentHistory,
    ConsentRecord,
    DenyList,
    Grant,
    Recipient,
    Source,
)
from app.consent.vocabulary import (
    ConsentStatus,
    DataCategory,
    DisclosureLevel,
    Purpose,
    RecipientClass,
    is_more_protective,
)


class Reason(StrEnum):
    """Why a decision came out as it did; everything but ``allowed`` is a denial."""

    ALLOWED = "allowed"
    UNKNOWN_VOCABULARY = "unknown_vocabulary"
    MALFORMED_HISTORY = "malformed_history"
    DENY_LISTED = "deny_listed"
    RESTRICTED = "restricted"
    RECIPIENT_INACTIVE = "recipient_inactive"
    STOPPED_BY_INTERVIEWEE = "stopped_by_interviewee"
    LEVEL_BELOW_NAMED = "level_below_named"
    LEVEL_ABOVE_DEIDENTIFIED = "level_above_deidentified"
    REFUSED = "refused"
    NO_GRANT = "no_grant"
    WITHDRAWN = "withdrawn"
    CONSENT_NOT_GIVEN = "consent_not_given"
    MINOR_WITHOUT_ASSENT = "minor_without_assent"
    EXPIRED = "expired"
    NATIONAL_AUTHORITY_COUNTRY_NOT_LISTED = "national_authority_country_not_listed"
    JURISDICTION_NOT_GRANTED = "jurisdiction_not_granted"
    LEVEL_NOT_GRANTED = "level_not_granted"


@dataclass(frozen=True)
class Decision:
    """The answer: allowed or not, at which level, on which grants, and why."""

    allowed: bool
    level: DisclosureLevel | None
    grant_ids: tuple[str, ...]
    reason: Reason


# A grant's failures, from furthest to closest to allowing (the module docstring's second list).
_GRANT_FAILURES = (
    Reason.WITHDRAWN,
    Reason.CONSENT_NOT_GIVEN,
    Reason.REFUSED,
    Reason.MINOR_WITHOUT_ASSENT,
    Reason.EXPIRED,
    Reason.NATIONAL_AUTHORITY_COUNTRY_NOT_LISTED,
    Reason.JURISDICTION_NOT_GRANTED,
    Reason.LEVEL_NOT_GRANTED,
)
_NAMED = frozenset({DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED})
_NAMED_ONLY = frozenset(
    {
        DataCategory.IDENTITY,
        DataCategory.CONTACT,
        DataCategory.AUDIO_RECORDING,
        DataCategory.VIDEO_RECORDING,
        DataCategory.PHOTOS_OF_PERSON,
    }
)
_DEIDENTIFIED_AT_MOST = frozenset({DataCategory.CURRENT_LOCATION, DataCategory.THIRD_PARTY_INFO})
_NOT_GIVEN = frozenset({ConsentStatus.REQUESTED, ConsentStatus.DEFERRED, ConsentStatus.UNKNOWN})
_COUNTRY = re.compile(r"[A-Z]{2}")


def decide(
    history: ConsentHistory,
    purpose: str,
    recipient: Recipient,
    category: str,
    level: str,
    at: datetime,
    deny_list: DenyList,
    source: Source | None = None,
) -> Decision:
    """Whether ``category`` may go to ``recipient`` for ``purpose`` at ``level`` at ``at`` (the database clock)."""
    if not _vocabulary_known(history, purpose, recipient, category, level, deny_list):
        return _deny(Reason.UNKNOWN_VOCABULARY)
    chains = _chains(history, at)
    if chains is None:
        return _deny(Reason.MALFORMED_HISTORY)
    requested = DisclosureLevel(level)
    latest = [chain[-1] for chain in chains]
    if deny_list.exclude(recipient):
        return _deny(Reason.DENY_LISTED)
    if any(r.restrictions.exclude(recipient) for r in latest):
        return _deny(Reason.RESTRICTED)
    if not recipient.active:
        return _deny(Reason.RECIPIENT_INACTIVE)
    if source is not None and _stopped(source) and not source.reconfirmed_after_stop:
        return _deny(Reason.STOPPED_BY_INTERVIEWEE)
    if category in _NAMED_ONLY and requested not in _NAMED:
        return _deny(Reason.LEVEL_BELOW_NAMED)
    if (
        category in _DEIDENTIFIED_AT_MOST
        and is_more_protective(DisclosureLevel.DEIDENTIFIED, requested)
        and recipient.recipient_class != RecipientClass.INTL_CRIMINAL_INVESTIGATORS
    ):
        return _deny(Reason.LEVEL_ABOVE_DEIDENTIFIED)
    if any(
        refusal.purpose == purpose
        and category in refusal.categories
        and refusal.recipient_id in (recipient.id, None)
        and refusal.recipient_class in (recipient.recipient_class, None)
        for r in latest
        for refusal in r.refusals
    ):
        return _deny(Reason.REFUSED)
    failures: dict[str, Reason | None] = {}
    for chain in chains:
        for grant in chain[-1].grants:
            if grant.purpose == purpose and grant.recipient_class == recipient.recipient_class:
                if category in grant.categories:
                    failures[grant.id] = _grant_failure(history, chain, grant, recipient, requested, at)
    if not failures:
        return _deny(Reason.NO_GRANT)
    allowing = sorted(grant_id for grant_id, failure in failures.items() if failure is None)
    if allowing:
        return Decision(allowed=True, level=requested, grant_ids=tuple(allowing), reason=Reason.ALLOWED)
    closest = max((f for f in failures.values() if f is not None), key=_GRANT_FAILURES.index)
    named = sorted(grant_id for grant_id, failure in failures.items() if failure is closest)
    return Decision(allowed=False, level=None, grant_ids=tuple(named), reason=closest)


def _deny(reason: Reason) -> Decision:
    return Decision(allowed=False, level=None, grant_ids=(), reason=reason)


def _stopped(source: Source) -> bool:
    # The state string is app.interviews' InterviewState.STOPPED_BY_INTERVIEWEE, which this module may not import.
    return source.stopped_by_interviewee or source.interview_state == "stopped_by_interviewee"


def _grant_failure(
    history: ConsentHistory,
    chain: tuple[ConsentRecord, ...],
    grant: Grant,
    recipient: Recipient,
    requested: DisclosureLevel,
    at: datetime,
) -> Reason | None:
    """The first check a covering grant fails, or None when it allows."""
    statuses = {ConsentStatus(version.status) for version in chain}
    chain_ids = {version.id for version in chain}
    latest = chain[-1]
    status = ConsentStatus(latest.status)
    withdrawn = any(
        (w.grant_ids is None and w.record_id in chain_ids) or (w.grant_ids is not None and grant.id in w.grant_ids)
        for w in history.withdrawals
    )
    if withdrawn or ConsentStatus.WITHDRAWN in statuses:
        return Reason.WITHDRAWN
    if ConsentStatus.INVALIDATED in statuses or status in _NOT_GIVEN:
        return Reason.CONSENT_NOT_GIVEN
    if status is ConsentStatus.REFUSED:
        return Reason.REFUSED
    if latest.is_minor and not (latest.child_assent and latest.guardian_consent):
        return Reason.MINOR_WITHOUT_ASSENT
    if status is ConsentStatus.EXPIRED or (grant.expires_at is not None and at >= grant.expires_at):
        return Reason.EXPIRED
    if grant.recipient_class == RecipientClass.NATIONAL_AUTHORITIES and (
        recipient.jurisdiction == INTERNATIONAL
        or grant.jurisdictions is None
        or recipient.jurisdiction not in grant.jurisdictions
    ):
        return Reason.NATIONAL_AUTHORITY_COUNTRY_NOT_LISTED
    if grant.jurisdictions is not None and recipient.jurisdiction not in grant.jurisdictions:
        return Reason.JURISDICTION_NOT_GRANTED
    if is_more_protective(DisclosureLevel(grant.disclosure_level), requested):
        return Reason.LEVEL_NOT_GRANTED
    return None


def _vocabulary_known(
    history: ConsentHistory, purpose: str, recipient: Recipient, category: str, level: str, deny_list: DenyList
) -> bool:
    purposes = [purpose]
    classes = [recipient.recipient_class]
    categories = [category]
    levels = [level]
    jurisdictions = [recipient.jurisdiction, *deny_list.jurisdictions]
    statuses = []
    for record in history.records:
        statuses.append(record.status)
        jurisdictions.extend(record.restrictions.jurisdictions)
        for grant in record.grants:
            purposes.append(grant.purpose)
            classes.append(grant.recipient_class)
            categories.extend(grant.categories)
            levels.append(grant.disclosure_level)
            jurisdictions.extend(grant.jurisdictions or ())
        for refusal in record.refusals:
            purposes.append(refusal.purpose)
            classes.extend(c for c in (refusal.recipient_class,) if c is not None)
            categories.extend(refusal.categories)
    return (
        _all_in(purposes, Purpose)
        and _all_in(classes, RecipientClass)
        and _all_in(categories, DataCategory)
        and _all_in(levels, DisclosureLevel)
        and _all_in(statuses, ConsentStatus)
        and all(j == INTERNATIONAL or _COUNTRY.fullmatch(j) for j in jurisdictions)
    )


def _all_in(values: Iterable[str], vocabulary: type[StrEnum]) -> bool:
    known = {term.value for term in vocabulary}
    return all(value in known for value in values)


def _chains(history: ConsentHistory, at: datetime) -> list[tuple[ConsentRecord, ...]] | None:
    """Every chain of versions, oldest first; None when the history is malformed."""
    records = history.records
    by_id = {record.id: record for record in records}
    amended = [record.amends for record in records if record.amends is not None]
    if (
        len(by_id) != len(records)
        or len(set(amended)) != len(amended)
        or any(a not in by_id for a in amended)
        or any(w.record_id not in by_id for w in history.withdrawals)
        or any(not _aware(moment) for moment in _moments(history, at))
        or any(
            (refusal.recipient_class is None) == (refusal.recipient_id is None)
            for record in records
            for refusal in record.refusals
        )
    ):
        return None
    successor = {record.amends: record for record in records if record.amends is not None}
    chains: list[tuple[ConsentRecord, ...]] = []
    for root in (record for record in records if record.amends is None):
        versions = [root]
        while versions[-1].id in successor:
            versions.append(successor[versions[-1].id])
        chains.append(tuple(versions))
    if sum(len(chain) for chain in chains) != len(records):
        return None  # the versions not reached from a root form a cycle
    owner: dict[str, int] = {}
    for index, chain in enumerate(chains):
        for version in chain:
            ids = [grant.id for grant in version.grants]
            if len(set(ids)) != len(ids) or any(owner.setdefault(i, index) != index for i in ids):
                return None
    return chains


def _moments(history: ConsentHistory, at: datetime) -> Iterator[datetime]:
    yield at
    for record in history.records:
        yield record.recorded_at
        yield from (grant.expires_at for grant in record.grants if grant.expires_at is not None)
    yield from (withdrawal.at for withdrawal in history.withdrawals)


def _aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None
