"""A build's decision cache answers exactly as decide() does, and once per distinct consent history.

The requests are the random ones of tests/consent/test_decision_properties.py (chains, withdrawals, expiries,
minors, corruptions). A history whose record and grant ids are all renamed says the same thing: the cache
answers it without asking decide() again, with the renamed grant ids; any other pair of requests through one
cache gets decide()'s own answers.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.consent.decision import Reason, decide
from app.consent.decision_inputs import ConsentHistory, ConsentRecord, DenyList, Grant, Recipient
from app.exports.decisions import DecisionCache
from tests.consent.test_decision_properties import Request, requests


def _renamed(history: ConsentHistory, shift: timedelta) -> tuple[ConsentHistory, dict[str, str]]:
    """The same history with new ids, and recorded and withdrawn at other instants (which decide() only
    needs to be timezone-aware: a withdrawal counts whenever it was made)."""
    names: dict[str, str] = {}

    def n(value: str) -> str:
        return names.setdefault(value, str(uuid.uuid4()))

    records = tuple(
        replace(
            r,
            id=n(r.id),
            recorded_at=r.recorded_at + shift,
            amends=None if r.amends is None else n(r.amends),
            grants=tuple(replace(g, id=n(g.id)) for g in r.grants),
        )
        for r in history.records
    )
    withdrawals = tuple(
        replace(
            w,
            record_id=n(w.record_id),
            at=w.at + shift,
            grant_ids=None if w.grant_ids is None else frozenset(n(g) for g in w.grant_ids),
        )
        for w in history.withdrawals
    )
    return ConsentHistory(records=records, withdrawals=withdrawals), names


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.integers(min_value=-72, max_value=72))
def test_a_history_with_other_ids_is_answered_from_the_cache_with_its_own_grant_ids(
    request: Request, hours: int
) -> None:
    history, *rest = request
    renamed, names = _renamed(history, timedelta(hours=hours))
    cache = DecisionCache()
    first = cache.decide(*request)
    again = cache.decide(renamed, *rest)  # type: ignore[arg-type]
    assert first == decide(*request)
    assert again == decide(renamed, *rest)  # type: ignore[arg-type]
    assert again.grant_ids == tuple(sorted(names[g] for g in first.grant_ids))
    assert (cache.asked, cache.computed) == (2, 1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), requests())
def test_any_two_requests_through_one_cache_get_decides_own_answers(one: Request, other: Request) -> None:
    cache = DecisionCache()
    assert cache.decide(*one) == decide(*one)
    assert cache.decide(*other) == decide(*other)
    assert cache.decide(*one) == decide(*one)
    assert cache.computed <= 2


def test_an_instant_past_a_grants_expiry_is_another_question() -> None:
    t0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    grant = Grant(
        id="g",
        purpose="criminal_investigation",
        recipient_class="intl_criminal_investigators",
        categories=frozenset({"narrative_general"}),
        disclosure_level="pseudonymous",
        expires_at=t0,
    )
    history = ConsentHistory(records=(ConsentRecord(id="r", status="given", recorded_at=t0, grants=(grant,)),))
    court = Recipient(id="r1", recipient_class="intl_criminal_investigators", jurisdiction="international")
    cache = DecisionCache()
    ask = (history, "criminal_investigation", court, "narrative_general", "pseudonymous")
    before = cache.decide(*ask, t0 - timedelta(seconds=1), DenyList())
    later = cache.decide(*ask, t0 - timedelta(hours=1), DenyList())
    after = cache.decide(*ask, t0, DenyList())
    assert (before.allowed, later.allowed, after.allowed) == (True, True, False)
    assert after.reason is Reason.EXPIRED
    assert (cache.asked, cache.computed) == (3, 2)  # two instants before the expiry are the same question
