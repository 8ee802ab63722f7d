"""decide(), rule by rule, with the boundaries: exactly at expires_at and at the withdrawal instant.

The property tests against a separate reference model are in test_decision_properties.py.
"""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.consent.decision import Decision, Reason, decide
from app.consent.decision_inputs import (
    ConsentHistory,
    ConsentRecord,
    DenyList,
    Grant,
    Recipient,
    Refusal,
    Restrictions,
    Source,
    Withdrawal,
)
from app.consent.vocabulary import DisclosureLevel
from app.interviews.vocabulary import InterviewState

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ICC = Recipient(id="icc", recipient_class="intl_criminal_investigators", jurisdiction="international")
PAPER = Recipient(id="paper", recipient_class="journalists", jurisdiction="AM")
NO_DENY = DenyList()


def _grant(gid: str = "g1", **kw: object) -> Grant:
    values: dict[str, object] = {
        "purpose": "criminal_investigation",
        "recipient_class": "intl_criminal_investigators",
        "categories": frozenset({"narrative_general", "identity", "current_location"}),
        "disclosure_level": "named_protected",
    }
    values.update(kw)
    return Grant(id=gid, **values)  # type: ignore[arg-type]


def _record(rid: str = "c1", *grants: Grant, status: str = "given", **kw: object) -> ConsentRecord:
    return ConsentRecord(id=rid, status=status, recorded_at=T0 - 24 * HOUR, grants=grants, **kw)  # type: ignore[arg-type]


def _history(*records: ConsentRecord, withdrawals: tuple[Withdrawal, ...] = ()) -> ConsentHistory:
    return ConsentHistory(records=records, withdrawals=withdrawals)


def _decide(
    history: ConsentHistory,
    *,
    purpose: str = "criminal_investigation",
    recipient: Recipient = ICC,
    category: str = "narrative_general",
    level: str = "pseudonymous",
    at: datetime = T0,
    deny_list: DenyList = NO_DENY,
    source: Source | None = None,
) -> Decision:
    return decide(history, purpose, recipient, category, level, at, deny_list, source)


def _denied(reason: Reason, grant_ids: tuple[str, ...] = ()) -> Decision:
    return Decision(allowed=False, level=None, grant_ids=grant_ids, reason=reason)


ONE_GRANT = _history(_record("c1", _grant()))
_ALLOWED_G1 = Decision(allowed=True, level=DisclosureLevel.PSEUDONYMOUS, grant_ids=("g1",), reason=Reason.ALLOWED)


def test_a_covering_grant_allows_at_the_requested_level() -> None:
    assert _decide(ONE_GRANT) == _ALLOWED_G1


def test_nothing_recorded_denies() -> None:
    assert _decide(_history()) == _denied(Reason.NO_GRANT)


@pytest.mark.parametrize(
    "change",
    [{"purpose": "media"}, {"category": "health"}, {"recipient": PAPER}],
    ids=["purpose", "category", "recipient class"],
)
def test_a_grant_covers_only_its_purpose_class_and_categories(change: dict[str, object]) -> None:
    assert _decide(ONE_GRANT, **change) == _denied(Reason.NO_GRANT)  # type: ignore[arg-type]


def test_a_grant_at_a_more_revealing_level_is_capped_to_the_request() -> None:
    history = _history(_record("c1", _grant(disclosure_level="named_public")))
    assert _decide(history, level="aggregate_only").level == "aggregate_only"
    assert _decide(history, level="named_public").level == "named_public"


def test_a_request_more_revealing_than_the_grant_is_denied() -> None:
    history = _history(_record("c1", _grant(disclosure_level="deidentified")))
    assert _decide(history, level="deidentified").allowed
    assert _decide(history, level="pseudonymous") == _denied(Reason.LEVEL_NOT_GRANTED, ("g1",))


def test_every_allowing_grant_is_listed() -> None:
    history = _history(_record("c1", _grant("g2")), _record("c2", _grant("g1"), _grant("g3", purpose="media")))
    assert _decide(history).grant_ids == ("g1", "g2")


@pytest.mark.parametrize(
    ("at", "allowed"),
    [(T0 - timedelta(microseconds=1), True), (T0, False), (T0 + HOUR, False)],
    ids=["just before", "exactly at", "after"],
)
def test_a_grant_expires_at_its_instant(at: datetime, allowed: bool) -> None:
    history = _history(_record("c1", _grant(expires_at=T0)))
    decision = _decide(history, at=at)
    assert decision.allowed is allowed
    if not allowed:
        assert decision == _denied(Reason.EXPIRED, ("g1",))


@pytest.mark.parametrize("offset", [-HOUR, timedelta(0), HOUR], ids=["before", "at the instant", "after"])
def test_a_withdrawal_denies_whatever_its_timestamp(offset: timedelta) -> None:
    history = _history(_record("c1", _grant()), withdrawals=(Withdrawal(record_id="c1", at=T0 + offset),))
    assert _decide(history) == _denied(Reason.WITHDRAWN, ("g1",))


def test_a_withdrawal_of_one_grant_leaves_the_others() -> None:
    record = _record("c1", _grant("g1"), _grant("g2"))
    history = _history(record, withdrawals=(Withdrawal(record_id="c1", at=T0, grant_ids=frozenset({"g1"})),))
    assert _decide(history).grant_ids == ("g2",)


def test_a_withdrawal_covers_later_amendments_but_a_new_record_grants_again() -> None:
    withdrawn = Withdrawal(record_id="c1", at=T0 - 2 * HOUR)
    amended = _record("c1v2", _grant("g9"), amends="c1")
    assert _decide(_history(_record("c1", _grant()), amended, withdrawals=(withdrawn,))) == _denied(
        Reason.WITHDRAWN, ("g9",)
    )
    fresh = _record("c2", _grant("g2"))
    history = _history(_record("c1", _grant()), amended, fresh, withdrawals=(withdrawn,))
    assert _decide(history).grant_ids == ("g2",)


def test_a_withdrawal_by_grant_id_follows_the_grant_into_an_amendment() -> None:
    amended = _record("c1v2", _grant("g1"), amends="c1")
    withdrawal = Withdrawal(record_id="c1", at=T0, grant_ids=frozenset({"g1"}))
    assert _decide(_history(_record("c1", _grant()), amended, withdrawals=(withdrawal,))).reason is Reason.WITHDRAWN


def test_the_latest_version_of_a_record_is_the_one_that_counts() -> None:
    narrowed = _record("c1v2", _grant(disclosure_level="deidentified"), amends="c1")
    history = _history(_record("c1", _grant(disclosure_level="named_public")), narrowed)
    assert _decide(history, level="pseudonymous") == _denied(Reason.LEVEL_NOT_GRANTED, ("g1",))
    emptied = _history(_record("c1", _grant()), _record("c1v2", amends="c1"))
    assert _decide(emptied) == _denied(Reason.NO_GRANT)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("given", Reason.ALLOWED),
        ("renewed", Reason.ALLOWED),
        ("requested", Reason.CONSENT_NOT_GIVEN),
        ("deferred", Reason.CONSENT_NOT_GIVEN),
        ("unknown", Reason.CONSENT_NOT_GIVEN),
        ("invalidated", Reason.CONSENT_NOT_GIVEN),
        ("refused", Reason.REFUSED),
        ("withdrawn", Reason.WITHDRAWN),
        ("expired", Reason.EXPIRED),
    ],
)
def test_only_given_or_renewed_consent_allows(status: str, reason: Reason) -> None:
    assert _decide(_history(_record("c1", _grant(), status=status))).reason is reason


def test_deferred_consent_confirmed_by_an_amendment_allows() -> None:
    history = _history(_record("c1", _grant(), status="deferred"), _record("c1v2", _grant(), amends="c1"))
    assert _decide(history).allowed


@pytest.mark.parametrize("status", ["invalidated", "withdrawn"])
def test_an_invalidated_or_withdrawn_version_is_not_revived_by_an_amendment(status: str) -> None:
    history = _history(_record("c1", _grant(), status=status), _record("c1v2", _grant(), amends="c1"))
    assert not _decide(history).allowed
    assert _decide(_history(*history.records, _record("c2", _grant("g2")))).grant_ids == ("g2",)


@pytest.mark.parametrize(
    "refusal",
    [
        Refusal(purpose="criminal_investigation", categories=frozenset({"narrative_general"}), recipient_id="icc"),
        Refusal(
            purpose="criminal_investigation",
            categories=frozenset({"narrative_general"}),
            recipient_class="intl_criminal_investigators",
        ),
    ],
    ids=["by recipient", "by class"],
)
def test_an_explicit_refusal_overrides_a_grant_in_any_record(refusal: Refusal) -> None:
    history = _history(_record("c1", _grant()), _record("c2", status="refused", refusals=(refusal,)))
    assert _decide(history) == _denied(Reason.REFUSED)
    assert _decide(history, category="identity", level="named_protected").allowed


def test_a_refusal_of_another_purpose_or_recipient_leaves_the_grant() -> None:
    other = Refusal(purpose="media", categories=frozenset({"narrative_general"}), recipient_id="icc")
    elsewhere = Refusal(purpose="criminal_investigation", categories=frozenset({"narrative_general"}), recipient_id="x")
    assert _decide(_history(_record("c1", _grant(), refusals=(other, elsewhere)))).allowed


@pytest.mark.parametrize(
    ("restrictions", "recipient"),
    [
        (Restrictions(recipient_ids=frozenset({"icc"})), ICC),
        (Restrictions(jurisdictions=frozenset({"international"})), ICC),
        (Restrictions(jurisdictions=frozenset({"AM"})), PAPER),
    ],
    ids=["recipient", "international", "country"],
)
def test_a_restriction_denies_whatever_the_record_status(restrictions: Restrictions, recipient: Recipient) -> None:
    grants = (_grant(), _grant("g2", purpose="media", recipient_class="journalists"))
    restricting = _record("c2", status="withdrawn", restrictions=restrictions)
    history = _history(_record("c1", *grants), restricting)
    purpose = "criminal_investigation" if recipient is ICC else "media"
    assert _decide(history, recipient=recipient, purpose=purpose) == _denied(Reason.RESTRICTED)


@pytest.mark.parametrize(
    "deny_list",
    [DenyList(recipient_ids=frozenset({"icc"})), DenyList(jurisdictions=frozenset({"international"}))],
    ids=["recipient", "jurisdiction"],
)
def test_the_deny_list_overrides_an_explicit_grant(deny_list: DenyList) -> None:
    assert _decide(ONE_GRANT, deny_list=deny_list) == _denied(Reason.DENY_LISTED)


def test_an_inactive_recipient_receives_nothing() -> None:
    inactive = Recipient(id="icc", recipient_class="intl_criminal_investigators", jurisdiction="AM", active=False)
    assert _decide(ONE_GRANT, recipient=inactive) == _denied(Reason.RECIPIENT_INACTIVE)


@pytest.mark.parametrize(
    "source",
    [
        Source(interview_state=InterviewState.STOPPED_BY_INTERVIEWEE.value),
        Source(interview_state="completed", stopped_by_interviewee=True),
    ],
    ids=["state", "flag"],
)
def test_an_interview_stopped_by_the_interviewee_gives_nothing_until_reconfirmed(source: Source) -> None:
    assert _decide(ONE_GRANT, source=source) == _denied(Reason.STOPPED_BY_INTERVIEWEE)
    reconfirmed = Source(
        interview_state=source.interview_state,
        stopped_by_interviewee=source.stopped_by_interviewee,
        reconfirmed_after_stop=True,
    )
    assert _decide(ONE_GRANT, source=reconfirmed).allowed
    assert _decide(ONE_GRANT, source=Source(interview_state=InterviewState.COMPLETED.value)).allowed


@pytest.mark.parametrize(
    ("child_assent", "guardian_consent", "allowed"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
)
def test_a_minor_needs_assent_and_guardian_consent(child_assent: bool, guardian_consent: bool, allowed: bool) -> None:
    record = _record("c1", _grant(), is_minor=True, child_assent=child_assent, guardian_consent=guardian_consent)
    decision = _decide(_history(record))
    assert decision.allowed is allowed
    assert decision.reason is (Reason.ALLOWED if allowed else Reason.MINOR_WITHOUT_ASSENT)


@pytest.mark.parametrize("category", ["identity", "contact", "audio_recording", "video_recording", "photos_of_person"])
@pytest.mark.parametrize("level", ["pseudonymous", "deidentified", "aggregate_only"])
def test_identifying_categories_go_only_named(category: str, level: str) -> None:
    history = _history(_record("c1", _grant(categories=frozenset({category}), disclosure_level="named_public")))
    assert _decide(history, category=category, level=level) == _denied(Reason.LEVEL_BELOW_NAMED)
    assert _decide(history, category=category, level="named_protected").allowed


@pytest.mark.parametrize("category", ["current_location", "third_party_info"])
def test_location_and_third_parties_go_above_deidentified_only_to_international_investigators(category: str) -> None:
    everyone = frozenset({"intl_criminal_investigators", "journalists"})
    grants = [
        _grant(f"g{i}", recipient_class=c, categories=frozenset({category}), disclosure_level="named_public")
        for i, c in enumerate(sorted(everyone))
    ]
    history = _history(_record("c1", *grants))
    assert _decide(history, category=category, level="pseudonymous").allowed
    assert _decide(history, category=category, level="pseudonymous", recipient=PAPER) == _denied(
        Reason.LEVEL_ABOVE_DEIDENTIFIED
    )
    assert _decide(history, category=category, level="deidentified", recipient=PAPER).allowed


@pytest.mark.parametrize(
    ("jurisdictions", "recipient_country", "allowed"),
    [
        (None, "AM", False),
        (frozenset({"AM"}), "AM", True),
        (frozenset({"AM"}), "GE", False),
        (frozenset({"international"}), "international", False),
    ],
)
def test_national_authorities_grants_name_the_country(
    jurisdictions: frozenset[str] | None, recipient_country: str, allowed: bool
) -> None:
    grant = _grant(recipient_class="national_authorities", jurisdictions=jurisdictions)
    police = Recipient(id="police", recipient_class="national_authorities", jurisdiction=recipient_country)
    decision = _decide(_history(_record("c1", grant)), recipient=police)
    assert decision == (_ALLOWED_G1 if allowed else _denied(Reason.NATIONAL_AUTHORITY_COUNTRY_NOT_LISTED, ("g1",)))


def test_a_grant_listing_jurisdictions_covers_only_those() -> None:
    history = _history(_record("c1", _grant(jurisdictions=frozenset({"NL"}))))
    assert _decide(history) == _denied(Reason.JURISDICTION_NOT_GRANTED, ("g1",))
    assert _decide(
        history, recipient=Recipient(id="icc", recipient_class=ICC.recipient_class, jurisdiction="NL")
    ).allowed


def test_when_no_grant_allows_the_closest_failure_is_reported() -> None:
    record = _record("c1", _grant("g1", disclosure_level="deidentified"), _grant("g2"))
    history = _history(record, withdrawals=(Withdrawal(record_id="c1", at=T0, grant_ids=frozenset({"g2"})),))
    assert _decide(history) == _denied(Reason.LEVEL_NOT_GRANTED, ("g1",))


BAD_WORD = "ethnicity"


@pytest.mark.parametrize(
    "change",
    [
        {"purpose": BAD_WORD},
        {"category": BAD_WORD},
        {"level": BAD_WORD},
        {"recipient": Recipient(id="icc", recipient_class=BAD_WORD, jurisdiction="AM")},
        {"recipient": Recipient(id="icc", recipient_class=ICC.recipient_class, jurisdiction="am")},
        {"deny_list": DenyList(jurisdictions=frozenset({"Armenia"}))},
        {"history": _history(_record("c1", _grant(), status=BAD_WORD))},
        {"history": _history(_record("c1", _grant(categories=frozenset({BAD_WORD}))))},
        {"history": _history(_record("c0", _grant("g0", disclosure_level=BAD_WORD)), _record("c1", _grant()))},
        {"history": _history(_record("c1", _grant(), refusals=(Refusal(purpose=BAD_WORD, categories=frozenset()),)))},
    ],
)
def test_unknown_vocabulary_denies_without_raising(change: dict[str, object]) -> None:
    arguments: dict[str, object] = {"history": ONE_GRANT, **change}
    assert _decide(**arguments) == _denied(Reason.UNKNOWN_VOCABULARY)  # type: ignore[arg-type]


NAIVE = datetime(2026, 11, 30, 12, 0)


@pytest.mark.parametrize(
    "history",
    [
        _history(_record("c1", _grant()), _record("c1", _grant("g2"))),
        _history(_record("c1", _grant()), _record("c2", amends="c9")),
        _history(_record("c1", _grant()), _record("c2", amends="c1"), _record("c3", amends="c1")),
        _history(_record("c1", _grant()), _record("c2", amends="c3"), _record("c3", amends="c2")),
        _history(_record("c1", _grant()), withdrawals=(Withdrawal(record_id="c9", at=T0),)),
        _history(_record("c1", _grant()), _record("c2", _grant())),
        _history(_record("c1", _grant(), _grant())),
        _history(_record("c1", _grant(expires_at=NAIVE))),
        _history(_record("c1", _grant(), refusals=(Refusal(purpose="media", categories=frozenset()),))),
    ],
    ids=[
        "one id twice",
        "amends nothing",
        "fork",
        "cycle",
        "withdrawal of nothing",
        "one grant in two records",
        "one grant twice",
        "naive time",
        "refusal of no one",
    ],
)
def test_a_malformed_history_denies(history: ConsentHistory) -> None:
    assert _decide(history) == _denied(Reason.MALFORMED_HISTORY)


def test_a_naive_clock_denies() -> None:
    assert _decide(ONE_GRANT, at=NAIVE) == _denied(Reason.MALFORMED_HISTORY)


def test_the_inputs_can_be_memoised() -> None:
    history = _history(_record("c1", _grant()), withdrawals=(Withdrawal(record_id="c1", at=T0),))
    assert hash(history) == hash(_history(_record("c1", _grant()), withdrawals=(Withdrawal(record_id="c1", at=T0),)))


@pytest.mark.parametrize("module", ["decision.py", "decision_inputs.py"])
def test_decide_imports_only_the_standard_library_and_the_vocabulary(module: str) -> None:
    tree = ast.parse((Path(__file__).parents[2] / "app" / "consent" / module).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    ours = {name for name in imported if name.split(".")[0] == "app"}
    assert ours <= {"app.consent.vocabulary", "app.consent.decision_inputs"}
    assert {name.split(".")[0] for name in imported - ours} <= set(sys.stdlib_module_names) | {"__future__"}
