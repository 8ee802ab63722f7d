"""One level per person, by property: for any answers decide() could give per category and level, the person
gets the most protective of the best levels their categories allow (capped by the maximum), and exactly the
categories allowed at that level go; nothing allowed means the person is left out. Identity documents count
only at a named level."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.consent.decision import Decision, Reason
from app.consent.vocabulary import DISCLOSURE_MOST_PROTECTIVE_FIRST, DataCategory, DisclosureLevel
from app.exports.decisions import disclosure, levels_up_to

RANK = {level: i for i, level in enumerate(DISCLOSURE_MOST_PROTECTIVE_FIRST)}
NAMED = {DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED}


def _counts(category: str, level: DisclosureLevel) -> bool:
    """A passport scan names the person at any level: it goes named or not at all."""
    return category != DataCategory.IDENTITY_DOCUMENTS.value or level in NAMED


CATEGORIES = st.lists(st.sampled_from([c.value for c in DataCategory]), min_size=1, max_size=6, unique=True)
LEVELS = st.sampled_from(list(DisclosureLevel))
Table = dict[tuple[str, DisclosureLevel], bool]


def _table(categories: list[str]) -> st.SearchStrategy[Table]:
    keys = [(c, level) for c in categories for level in DisclosureLevel]
    return st.fixed_dictionaries({k: st.booleans() for k in keys})


def test_the_levels_up_to_a_maximum_are_the_no_more_revealing_ones_most_revealing_first() -> None:
    assert levels_up_to(DisclosureLevel.PSEUDONYMOUS) == (
        DisclosureLevel.PSEUDONYMOUS,
        DisclosureLevel.DEIDENTIFIED,
        DisclosureLevel.AGGREGATE_ONLY,
    )
    assert levels_up_to(DisclosureLevel.NAMED_PUBLIC)[0] is DisclosureLevel.NAMED_PUBLIC
    assert levels_up_to(DisclosureLevel.AGGREGATE_ONLY) == (DisclosureLevel.AGGREGATE_ONLY,)


@settings(deadline=None, max_examples=300)
@given(data=st.data(), categories=CATEGORIES, maximum=LEVELS)
def test_one_level_per_person_matches_the_reference(
    data: st.DataObject, categories: list[str], maximum: DisclosureLevel
) -> None:
    table = data.draw(_table(categories))
    asked: list[tuple[str, DisclosureLevel]] = []

    def decider(category: str, level: DisclosureLevel) -> Decision:
        asked.append((category, level))
        allowed = table[(category, level)]
        return Decision(
            allowed,
            level if allowed else None,
            (f"g-{category}",) if allowed else (),
            Reason.ALLOWED if allowed else Reason.NO_GRANT,
        )

    got = disclosure(decider, categories, maximum)

    # The reference: per category, the most revealing allowed level up to the maximum.
    allowed_up_to_max = [lv for lv in DisclosureLevel if RANK[lv] <= RANK[maximum]]
    best = {}
    for c in categories:
        ok = [lv for lv in allowed_up_to_max if table[(c, lv)] and _counts(c, lv)]
        if ok:
            best[c] = max(ok, key=RANK.__getitem__)
    assert all(RANK[lv] <= RANK[maximum] for _, lv in asked)  # never asks above the maximum
    if not best:
        assert got is None
        return
    level = min(best.values(), key=RANK.__getitem__)
    going = tuple(c for c in categories if table[(c, level)] and _counts(c, level))
    assert got is not None
    assert got.level is level
    assert got.categories == going
    assert got.grant_ids == tuple(sorted(f"g-{c}" for c in going))
    assert going  # the category whose best level this is goes at it
