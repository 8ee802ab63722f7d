"""One person's disclosure in one export: which categories go, under which grants, at which one level.

Pure: it calls ``decide()`` with what it is given (the person's history, the recipient's entry, the deny-list
and the database clock), and reads nothing. For each category wanted it finds the most revealing level, up to
the request's maximum, at which ``decide()`` allows it; a category allowed at no level is left out. The person
gets one level, the most protective of those, and then only the categories ``decide()`` allows at that very
level go (an identity allowed named but a narrative only pseudonymous: the narrative goes, pseudonymous, and
the identity stays). The caller memoises nothing across builds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.consent.decision import Decision, decide
from app.consent.decision_inputs import ConsentHistory, DenyList, Recipient
from app.consent.vocabulary import (
    DISCLOSURE_MOST_PROTECTIVE_FIRST,
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
        allowed = next((level for level in levels if decider(category, level).allowed), None)
        if allowed is not None:
            best.append(allowed)
    if not best:
        return None
    level = most_protective(best)
    going: list[str] = []
    grants: set[str] = set()
    for category in categories:
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
