"""The history builder: records, amendments, withdrawals and invalidations stored through the real API,
turned into decide()'s inputs and decided on with the database clock. A withdrawn grant is denied with
reason ``withdrawn`` and a live one allowed; a narrowing and a stop by the interviewee take effect at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from app.access.principal import Principal
from app.access.roles import Role
from app.consent import history
from app.consent.decision import Decision, Reason, decide
from app.consent.decision_inputs import Recipient as Entry
from app.core.db import db_now, unit_of_work
from app.interviews import reconfirm as reconfirmation
from app.interviews.models import Interview
from app.people.models import Person
from app.recipients import deny_list
from app.recipients.models import Recipient
from app.recipients.schemas import DenyListUpdate
from tests.support.actors import Actor, actor
from tests.support.consent import documenter_team, grant, record_use_consent, register_recipient, use_consent
from tests.support.interviews import checklist, consenting_person, new_interview, patch, reconfirm


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str]:
    doc, case_id = documenter_team(app)
    return doc, consenting_person(doc, case_id, app)


def _decide(
    app: FastAPI,
    person_id: str,
    recipient_id: str,
    purpose: str = "un_fact_finding",
    category: str = "narrative_general",
    level: str = "pseudonymous",
    interview_id: str | None = None,
) -> Decision:
    """Build the person's history from the database and decide, at the database clock."""
    with unit_of_work(app.state.sessionmaker) as s:
        person = s.get(Person, uuid.UUID(person_id))
        recipient = s.get(Recipient, uuid.UUID(recipient_id))
        assert person is not None
        assert recipient is not None
        built = history.history_of(s, app.state.runtime, person)
        source = None
        if interview_id is not None:
            interview = s.get(Interview, uuid.UUID(interview_id))
            assert interview is not None
            source = reconfirmation.source_of(s, interview)
        return decide(
            built,
            purpose,
            history.recipient_of(recipient),
            category,
            level,
            db_now(s),
            history.deny_list_of(s),
            source,
        )


def test_a_withdrawn_grant_is_denied_as_withdrawn_and_a_live_one_allowed(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    un = register_recipient(app)
    researchers = register_recipient(app, "researchers", "FR")
    made = record_use_consent(
        doc, person, app, grants=[grant(), grant(purpose="research", recipient_class="researchers")]
    )
    un_grant, research_grant = (g["id"] for g in made["grants"])
    assert _decide(app, person, un) == Decision(True, "pseudonymous", (un_grant,), Reason.ALLOWED)  # type: ignore[arg-type]
    assert _decide(app, person, researchers, "research").allowed
    r = doc.post(
        f"/api/v1/consents/{made['id']}/withdraw",
        json={"scope": [research_grant], "mode": "stop_future_use", "received_via": "phone"},
    )
    assert r.status_code == 201, r.text
    withdrawn = _decide(app, person, researchers, "research")
    assert (withdrawn.allowed, withdrawn.reason, withdrawn.grant_ids) == (False, Reason.WITHDRAWN, (research_grant,))
    assert _decide(app, person, un).allowed  # the other grant stands
    # Withdrawing the whole record denies the rest; a new record grants again.
    r = doc.post(
        f"/api/v1/consents/{made['id']}/withdraw",
        json={"scope": "all", "mode": "stop_future_use", "received_via": "phone"},
    )
    assert r.status_code == 201, r.text
    assert _decide(app, person, un).reason is Reason.WITHDRAWN
    again = record_use_consent(doc, person, app)
    assert _decide(app, person, un) == Decision(True, "pseudonymous", (again["grants"][0]["id"],), Reason.ALLOWED)  # type: ignore[arg-type]


def test_an_amendment_counts_and_an_invalid_record_allows_nothing(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    un = register_recipient(app)
    made = record_use_consent(doc, person, app)
    amended = doc.post(
        f"/api/v1/consents/{made['id']}/amend", json=use_consent(app, grants=[grant(disclosure_level="deidentified")])
    )
    assert amended.status_code == 201, amended.text
    assert _decide(app, person, un).reason is Reason.LEVEL_NOT_GRANTED
    assert _decide(app, person, un, level="deidentified").allowed
    custodian = actor(app, "keeper", [Role.CUSTODIAN])
    found = custodian.post(f"/api/v1/consents/{made['id']}/invalidate", json={"reason": "Under pressure."})
    assert found.status_code == 200, found.text
    assert _decide(app, person, un, level="deidentified").reason is Reason.CONSENT_NOT_GIVEN


def test_restrictions_and_the_deny_list_override_a_grant(app: FastAPI, team: tuple[Actor, str]) -> None:
    doc, person = team
    french = register_recipient(app, "un_investigative_bodies", "FR")
    other = register_recipient(app)
    record_use_consent(doc, person, app, restrictions=[other])
    assert _decide(app, person, french).allowed
    assert _decide(app, person, other).reason is Reason.RESTRICTED
    with unit_of_work(app.state.sessionmaker) as s:
        deny_list.set_deny_list(s, app.state.runtime, Principal.system("test"), DenyListUpdate(jurisdictions=["FR"]))
    assert _decide(app, person, french).reason is Reason.DENY_LISTED


def test_a_narrowing_at_the_end_of_the_interview_takes_effect_at_once(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    un = register_recipient(app)
    made = record_use_consent(doc, person, app)
    interview = patch(doc, new_interview(doc, person, checklist=checklist()), state="in_progress").json()
    assert _decide(app, person, un, interview_id=interview["id"]).allowed
    lowered = {**grant(disclosure_level="deidentified"), "id": made["grants"][0]["id"]}
    reconfirm(doc, app, interview["id"], outcome="narrowed", consent_id=made["id"], narrowed={"grants": [lowered]})
    assert _decide(app, person, un, interview_id=interview["id"]).reason is Reason.LEVEL_NOT_GRANTED
    assert _decide(app, person, un, level="deidentified", interview_id=interview["id"]).allowed


def test_an_interview_stopped_by_the_interviewee_gives_no_use_until_reconfirmed(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    un = register_recipient(app)
    record_use_consent(doc, person, app)
    interview = patch(doc, new_interview(doc, person, checklist=checklist()), state="in_progress").json()
    stopped = patch(doc, interview, state="stopped_by_interviewee").json()
    assert _decide(app, person, un, interview_id=stopped["id"]).reason is Reason.STOPPED_BY_INTERVIEWEE
    assert _decide(app, person, un).allowed  # material from elsewhere is not touched by the stop
    reconfirm(doc, app, stopped["id"], outcome="confirmed")
    assert _decide(app, person, un, interview_id=stopped["id"]).allowed


def test_build_maps_stored_rows_to_the_inputs() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = uuid.uuid4(), uuid.uuid4()
    g = {
        "id": "g1",
        "purpose": "research",
        "recipient_class": "researchers",
        "jurisdictions": ["FR"],
        "categories": ["health"],
        "disclosure_level": "deidentified",
        "expires_at": "2030-01-01T00:00:00+00:00",
    }
    details = {
        "grants": [g],
        "refusals": [
            {"purpose": "media", "categories": ["health"], "recipient_class": "journalists", "recipient_id": None}
        ],
        "restrictions": {"recipient_ids": ["r1"], "jurisdictions": ["RU"]},
    }
    built = history.build(
        [
            history.StoredVersion(first, None, "given", at, details),
            history.StoredVersion(second, first, "given", at, details),
        ],
        [history.StoredWithdrawal(second, at, ["g1"]), history.StoredWithdrawal(first, at, "all")],
        {second},
        history.Minority(is_minor=True, child_assent=True, guardian_consent=False),
    )
    one, two = built.records
    assert (one.status, two.status, two.amends) == ("given", "invalidated", str(first))
    assert one.grants[0].jurisdictions == frozenset({"FR"})
    assert one.grants[0].expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert one.refusals[0].recipient_class == "journalists"
    assert one.restrictions.exclude(Entry("r1", "researchers", "DE"))
    assert (one.is_minor, one.child_assent, one.guardian_consent) == (True, True, False)
    assert [(w.record_id, w.grant_ids) for w in built.withdrawals] == [
        (str(second), frozenset({"g1"})),
        (str(first), None),
    ]


def test_a_grant_withdrawn_by_name_is_not_revived_by_a_later_version(app: FastAPI) -> None:
    """A lowered copy of a grant would get a new id that no withdrawal names: continuing a withdrawn grant
    is refused, in an amendment and in an end-of-interview narrowing, and decide() keeps denying it."""
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    un = register_recipient(app)
    researchers = register_recipient(app, "researchers", "FR")
    made = record_use_consent(
        doc, person, app, grants=[grant(), grant(purpose="research", recipient_class="researchers")]
    )
    un_grant, research_grant = made["grants"]
    r = doc.post(
        f"/api/v1/consents/{made['id']}/withdraw",
        json={"scope": [research_grant["id"]], "mode": "stop_future_use", "received_via": "phone"},
    )
    assert r.status_code == 201, r.text
    research = {"purpose": "research", "recipient_class": "researchers"}
    lowered = {**grant(disclosure_level="deidentified", **research), "id": research_grant["id"]}
    kept = {**grant(), "id": un_grant["id"]}
    for grants in (
        [kept, lowered],  # continued, lowered
        [kept, {**grant(**research), "id": research_grant["id"]}],  # continued unchanged
    ):
        refused = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app, grants=grants))
        assert (refused.status_code, refused.json()["fields"]) == (422, ["grants.1.id"]), refused.text
    twice = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app, grants=[kept, kept]))
    assert (twice.status_code, twice.json()["fields"]) == (422, ["grants.1.id"]), twice.text
    interview = patch(doc, new_interview(doc, person, checklist=checklist()), state="in_progress").json()
    narrowed = doc.post(
        f"/api/v1/interviews/{interview['id']}/reconfirm-consent",
        json={"outcome": "narrowed", "consent_id": made["id"], "narrowed": {"grants": [kept, lowered]}},
    )
    assert (narrowed.status_code, narrowed.json()["fields"]) == (422, ["narrowed.grants.1.id"]), narrowed.text
    split = {**grant(disclosure_level="deidentified"), "id": un_grant["id"]}
    narrowed = doc.post(
        f"/api/v1/interviews/{interview['id']}/reconfirm-consent",
        json={"outcome": "narrowed", "consent_id": made["id"], "narrowed": {"grants": [kept, split]}},
    )
    assert (narrowed.status_code, narrowed.json()["fields"]) == (422, ["narrowed.grants.1.id"]), narrowed.text
    assert len(doc.get(f"/api/v1/people/{person}/consents").json()["items"]) == 1  # nothing was stored
    for level in ("pseudonymous", "deidentified"):
        denied = _decide(app, person, researchers, "research", level=level)
        assert (denied.allowed, denied.reason, denied.grant_ids) == (False, Reason.WITHDRAWN, (research_grant["id"],))
    # Leaving the withdrawn grant out is how the record is amended; it stays withdrawn.
    amended = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app, grants=[kept]))
    assert amended.status_code == 201, amended.text
    assert [g["id"] for g in amended.json()["grants"]] == [un_grant["id"]]
    assert _decide(app, person, researchers, "research").reason is Reason.NO_GRANT  # the current version has none
    assert _decide(app, person, un).allowed
