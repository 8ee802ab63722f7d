"""One person's disclosure in one export: which categories go, under which grants, at which one level.

Pure: it calls ``decide()`` with what it is given (the person's history, the recipient's entry, the deny-list
and the database clock), and reads nothing. For each category wanted it finds the most revealing level, up to
the request's maximum, at which ``decide()`` allows it; a category allowed at no level is left out. The person
gets one level, the most protective of those, and then only the categories ``decide()`` allows at that very
level go (an identity allowed named but a narrative only pseudonymous: the narrative goes, pseudonymous, and
the identity stays).

``DecisionCache`` lets one build ask ``decide()`` once per distinct consent history: the key is the history
with its record and grant ids replaced by their order of first appearance and every instant reduced to what
``decide()`` reads of it (whether it is timezone-aware, and whether ``at`` has reached a grant's expiry), so
two people whose records say the same thing share one answer, whose grant ids are then mapped back to each
person's own. A cache lives for one build (the build makes it and drops it); nothing outlives the build.

Identity documents (a passport scan, say) go only at a named level: ``decide()`` keeps identity, contact
and recordings of the person to named levels, and a document that names the person cannot be pseudonymous
or de-identified either, whatever a grant says.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from app.consent.decision import Decision, decide
from app.consent.decision_inputs import ConsentHistory, DenyList, Recipient, Source
from app.consent.vocabulary import (
    DISCLOSURE_MOST_PROTECTIVE_FIRST,
    DataCategory,
    DisclosureLevel,
    is_more_protective,
    most_protective,
)


@dataclass(frozen=True)
class PersonDisclosure:
    level: DisclosureLevel
    categories: tuple[str, ...]
    grant_ids: tuple[str, ...]


Decider = Callable[[str, DisclosureLevel], Decision]

NAMED_ONLY = frozenset({DataCategory.IDENTITY_DOCUMENTS.value})
"""Categories that leave only at a named level, beyond those decide() keeps there."""
_NAMED = frozenset({DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED})


def _may(category: str, level: DisclosureLevel) -> bool:
    return category not in NAMED_ONLY or level in _NAMED


def levels_up_to(maximum: DisclosureLevel) -> tuple[DisclosureLevel, ...]:
    """The levels no more revealing than ``maximum``, most revealing first."""
    return tuple(
        level for level in reversed(DISCLOSURE_MOST_PROTECTIVE_FIRST) if not is_more_protective(maximum, level)
    )


def disclosure(decider: Decider, categories: Sequence[str], maximum: DisclosureLevel) -> PersonDisclosure | None:
    """The person's one level and what goes at it; None when nothing they allow is wanted."""
    levels = levels_up_to(maximum)
    best: list[DisclosureLevel] = []
    for category in categories:
        allowed = next((lv for lv in levels if _may(category, lv) and decider(category, lv).allowed), None)
        if allowed is not None:
            best.append(allowed)
    if not best:
        return None
    level = most_protective(best)
    going: list[str] = []
    grants: set[str] = set()
    for category in categories:
        if not _may(category, level):
            continue
        decision = decider(category, level)
        if decision.allowed:
            going.append(category)
            grants.update(decision.grant_ids)
    return PersonDisclosure(level, tuple(going), tuple(sorted(grants)))


def decider_for(
    history: ConsentHistory,
    purpose: str,
    recipient: Recipient,
    at: datetime,
    deny_list: DenyList,
    cache: DecisionCache | None = None,
) -> Decider:
    """decide() for one person at one instant, asked per category and level (each answer asked once; with a
    build's ``cache``, once per distinct history)."""
    answers: dict[tuple[str, DisclosureLevel], Decision] = {}
    shared = None if cache is None else cache.view(history, at)

    def ask(category: str, level: DisclosureLevel) -> Decision:
        key = (category, level)
        if key not in answers:
            if shared is None:
                answers[key] = decide(history, purpose, recipient, category, level.value, at, deny_list)
            else:
                answers[key] = shared.decide(purpose, recipient, category, level.value, deny_list)
        return answers[key]

    return ask


def _aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def canonical(history: ConsentHistory, at: datetime) -> tuple[Hashable, dict[str, str]]:
    """The history as ``decide()`` at ``at`` sees it, without its ids: the key, and each id's stand-in."""
    alias: dict[str, str] = {}

    def a(value: str) -> str:
        return alias.setdefault(value, f"#{len(alias)}")

    def expiry(moment: datetime | None) -> tuple[bool, bool] | None:
        if moment is None:
            return None
        aware = _aware(moment)
        return aware, aware and _aware(at) and at >= moment

    records = tuple(
        (
            a(r.id),
            r.status,
            _aware(r.recorded_at),
            None if r.amends is None else a(r.amends),
            tuple(
                (
                    a(g.id),
                    g.purpose,
                    g.recipient_class,
                    g.categories,
                    g.disclosure_level,
                    g.jurisdictions,
                    expiry(g.expires_at),
                )
                for g in r.grants
            ),
            r.refusals,
            r.restrictions,
            r.is_minor,
            r.child_assent,
            r.guardian_consent,
        )
        for r in history.records
    )
    withdrawals = tuple(
        (
            a(w.record_id),
            _aware(w.at),
            None if w.grant_ids is None else tuple(sorted(a(g) for g in sorted(w.grant_ids))),
        )
        for w in history.withdrawals
    )
    return (records, withdrawals, _aware(at)), alias


class DecisionCache:
    """``decide()`` answers of one build, shared by the people whose histories say the same thing."""

    def __init__(self) -> None:
        self._answers: dict[Hashable, Decision] = {}
        self.asked = 0
        self.computed = 0

    def view(self, history: ConsentHistory, at: datetime) -> CachedHistory:
        key, alias = canonical(history, at)
        return CachedHistory(self, history, at, key, alias)

    def decide(
        self,
        history: ConsentHistory,
        purpose: str,
        recipient: Recipient,
        category: str,
        level: str,
        at: datetime,
        deny_list: DenyList,
        source: Source | None = None,
    ) -> Decision:
        return self.view(history, at).decide(purpose, recipient, category, level, deny_list, source)


@dataclass(frozen=True)
class CachedHistory:
    """One person's history under a build's cache: asks the cache first, ``decide()`` on a miss."""

    cache: DecisionCache
    history: ConsentHistory
    at: datetime
    key: Hashable
    alias: dict[str, str]

    def decide(
        self,
        purpose: str,
        recipient: Recipient,
        category: str,
        level: str,
        deny_list: DenyList,
        source: Source | None = None,
    ) -> Decision:
        self.cache.asked += 1
        full = (self.key, purpose, recipient, category, level, deny_list, source)
        stored = self.cache._answers.get(full)
        if stored is None:
            self.cache.computed += 1
            answer = decide(self.history, purpose, recipient, category, level, self.at, deny_list, source)
            self.cache._answers[full] = replace(answer, grant_ids=tuple(self.alias[g] for g in answer.grant_ids))
            return answer
        real = {stand_in: value for value, stand_in in self.alias.items()}
        return replace(stored, grant_ids=tuple(sorted(real[g] for g in stored.grant_ids)))
