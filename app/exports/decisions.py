"""One person's disclosure in one export: which categories go, under which grants, at which one level.

Pure: it calls ``decide()`` with what it is given (the person's history, the recipient's entry, the deny-list
and the database clock), and reads nothing. For each category wanted it finds the most revealing level, up to
the request's maximum, at which ``decide()`` allows it; a category allowed at no level is left out. The person
gets one level, the most protective of those, and then only the categories ``decide()`` allows at that very
level go (an identity allowed named but a narrative only pseudonymous: the narrative goes, pseudonymous, and
the identity stays). The caller memoises nothing across builds.

Identity documents (a passport scan, say) go only at a named level: ``decide()`` keeps identity, contact
and recordings of the person to named levels, and a document that names the person cannot be pseudonymous
or de-identified either, whatever a grant says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.consent.decision import Decision, decide
from app.consent.decision_inputs import ConsentHistory, DenyList, Recipient
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
    history: ConsentHistory, purpose: str, recipient: Recipient, at: datetime, deny_list: DenyList
) -> Decider:
    """decide() for one person at one instant, asked per category and level (each answer asked once)."""
    answers: dict[tuple[str, DisclosureLevel], Decision] = {}

    def ask(category: str, level: DisclosureLevel) -> Decision:
        key = (category, level)
        if key not in answers:
            answers[key] = decide(history, purpose, recipient, category, level.value, at, deny_list)
        return answers[key]

    return ask
