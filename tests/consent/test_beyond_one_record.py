"""What a withdrawal, a refusal or a restriction keeps denying beyond the one grant or record it names: an
amendment cannot give again what was withdrawn by name, only the current version's grants are withdrawn by
name, a restriction outlives its recipient being switched off, a pending erasure and a participation consent
no longer agreeing to storage stop every use of the person, and a refusal reaches the records decided to be
the same person. Through the API, and decide() on the history built from the database."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI

from app.access.roles import Role
from app.consent import history
from app.consent.decision import Decision, decide
from app.core.db import db_now, unit_of_work
from app.people.models import Person
from app.recipients.models import Recipient
from tests.support.actors import Actor, actor
from tests.support.consent import (
    documenter_team,
    grant,
    participation,
    record_use_consent,
    register_recipient,
    use_consent,
)
from tests.support.interviews import consenting_person, same_person


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str]:
    doc, case_id = documenter_team(app)
    return doc, consenting_person(doc, case_id, app)


def _decide(app: FastAPI, person_id: str, recipient_id: str, level: str = "pseudonymous") -> Decision:
    with unit_of_work(app.state.sessionmaker) as s:
        person = s.get(Person, uuid.UUID(person_id))
        recipient = s.get(Recipient, uuid.UUID(recipient_id))
        assert person is not None
        assert recipient is not None
        built = history.history_of(s, app.state.runtime, person)
        return decide(
            built,
            "un_fact_finding",
            history.recipient_of(recipient),
            "narrative_general",
            level,
            db_now(s),
            history.deny_list_of(s),
        )


def _withdraw(doc: Actor, consent_id: str, scope: object) -> None:
    r = doc.post(
        f"/api/v1/consents/{consent_id}/withdraw",
        json={"scope": scope, "mode": "stop_future_use", "received_via": "phone"},
    )
    assert r.status_code == 201, r.text


def test_an_amendment_cannot_grant_again_what_was_withdrawn_by_name(app: FastAPI, team: tuple[Actor, str]) -> None:
    """SECURITY.md: "an amendment of the same record cannot undo [a withdrawal], only a new consent record
    can grant again". Naming the withdrawn grant's id is refused, but the same grant sent without an id is
    a "new" grant of the amendment, and decide() allows again what the person took back."""
    doc, person = team
    un = register_recipient(app)
    made = record_use_consent(doc, person, app)
    withdrawn = made["grants"][0]["id"]
    _withdraw(doc, made["id"], [withdrawn])
    assert not _decide(app, person, un).allowed
    again = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app, grants=[grant()]))
    assert (again.status_code, again.json()["fields"]) == (422, ["grants.0"]), again.text
    narrower = use_consent(
        app, grants=[grant(categories=["narrative_general", "health"], disclosure_level="deidentified")]
    )
    assert doc.post(f"/api/v1/consents/{made['id']}/amend", json=narrower).status_code == 422  # overlaps still
    assert not _decide(app, person, un).allowed
    # Another use, that the withdrawn grant did not give, may be added.
    other = use_consent(app, grants=[grant(purpose="research", recipient_class="researchers")])
    assert doc.post(f"/api/v1/consents/{made['id']}/amend", json=other).status_code == 201
    assert not _decide(app, person, un).allowed


def test_withdrawing_a_grant_a_later_version_lowered_withdraws_what_allows(
    app: FastAPI, team: tuple[Actor, str]
) -> None:
    """A grant lowered in an amendment gets a new id. A withdrawal naming the grant as the person's receipt
    (or an earlier read) shows it is accepted (201), yet decide() still allows through the lowered copy: the
    person is told it is withdrawn and it is not. Either refuse the withdrawal (it names a superseded grant)
    or let it cover the grants that continue it."""
    doc, person = team
    un = register_recipient(app)
    made = record_use_consent(doc, person, app, grants=[grant(disclosure_level="named_protected")])
    first = made["grants"][0]["id"]
    lowered = doc.post(
        f"/api/v1/consents/{made['id']}/amend",
        json=use_consent(app, grants=[grant(id=first, disclosure_level="pseudonymous")]),
    )
    assert lowered.status_code == 201, lowered.text
    r = doc.post(
        f"/api/v1/consents/{made['id']}/withdraw",
        json={"scope": [first], "mode": "stop_future_use", "received_via": "phone"},
    )
    assert (r.status_code, r.json()["fields"]) == (422, ["scope.0"]), r.text
    assert _decide(app, person, un).allowed  # nothing was withdrawn, and the person is not told otherwise
    current = lowered.json()["grants"][0]["id"]
    r = doc.post(
        f"/api/v1/consents/{made['id']}/withdraw",
        json={"scope": [current], "mode": "stop_future_use", "received_via": "phone"},
    )
    assert r.status_code == 201, r.text
    assert not _decide(app, person, un).allowed


def test_a_restriction_outlives_its_recipient_being_made_inactive(app: FastAPI, team: tuple[Actor, str]) -> None:
    """Restrictions may name only active recipients. One admin deactivates a restricted recipient (at once),
    and the record can then be amended (or narrowed) only by dropping the restriction; one admin reactivates
    it (at once) and decide() allows what the survivor had restricted. A restriction is protective: any
    registered recipient may be named, and keeping it is never refused."""
    doc, person = team
    admin = actor(app, "adm2", [Role.ADMIN])
    restricted = register_recipient(app)
    made = record_use_consent(doc, person, app, restrictions=[restricted])
    assert not _decide(app, person, restricted).allowed
    off = admin.request("PATCH", f"/api/v1/recipients/{restricted}", json={"active": False})
    assert off.status_code == 200, off.text
    kept = doc.post(
        f"/api/v1/consents/{made['id']}/amend",
        json=use_consent(app, grants=[grant(id=made["grants"][0]["id"])], restrictions=[restricted]),
    )
    assert kept.status_code == 201, kept.text
    other = consenting_person(doc, doc.get(f"/api/v1/people/{person}").json()["case_id"], app)
    new = doc.post(f"/api/v1/people/{other}/consents", json=use_consent(app, restrictions=[restricted]))
    assert new.status_code == 201, new.text
    on = admin.request("PATCH", f"/api/v1/recipients/{restricted}", json={"active": True})
    assert on.status_code == 200, on.text
    assert _decide(app, person, restricted).reason == "restricted"


def test_withdraw_and_erase_stops_every_use_of_the_person_not_one_record(app: FastAPI, team: tuple[Actor, str]) -> None:
    """An erasure request is the person's (one pending per person), and "withdraw_and_erase stops future use
    at once". A survivor holding the card of one record (a custodian finds only that chain by its reference,
    and cannot list the others) asks to withdraw and erase: the other record's grants still allow."""
    doc, person = team
    un = register_recipient(app)
    first = record_use_consent(doc, person, app)
    record_use_consent(doc, person, app, grants=[grant(categories=["narrative_general"])])
    r = doc.post(
        f"/api/v1/consents/{first['id']}/withdraw",
        json={"scope": "all", "mode": "withdraw_and_erase", "received_via": "phone"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["erasure_request_id"] is not None
    assert _decide(app, person, un).reason == "withdrawn"
    # Nothing new is recorded about the person's use consent while the erasure is pending.
    refused = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app))
    assert (refused.status_code, refused.json()["code"]) == (409, "erasure_pending"), refused.text


def test_a_refusal_protects_the_records_decided_to_be_the_same_person(app: FastAPI) -> None:
    """A custodian decides two records are one survivor. Her explicit refusal (and her restrictions) in one
    record do not reach the grants of the other: "a no is stronger than a yes written elsewhere" holds only
    within one person row, so what she refused goes out under the twin's grant."""
    doc, case = documenter_team(app)
    _custodian, _secret, person, twin = same_person(doc, case, app)
    un = register_recipient(app)
    no = {
        "purpose": "un_fact_finding",
        "categories": ["narrative_general"],
        "recipient_class": "un_investigative_bodies",
    }
    record_use_consent(doc, person, app, grants=[], refusals=[no], restrictions=[un])
    record_use_consent(doc, twin, app)
    assert not _decide(app, person, un).allowed
    assert _decide(app, twin, un).reason == "restricted"  # her restriction, in her other record
    # The refusal alone reaches the twin too.
    again = register_recipient(app)
    assert _decide(app, twin, again).reason == "refused"


def test_no_use_once_the_latest_participation_consent_refuses_storage(app: FastAPI, team: tuple[Actor, str]) -> None:
    """Grants are stored about the person "only while their participation consent agrees to storage"
    (app/consent/grants.py): a later participation consent that refuses storage blocks recording or amending
    grants, yet decide() reads only the use-consent history and still allows the earlier grants."""
    doc, person = team
    un = register_recipient(app)
    record_use_consent(doc, person, app)
    assert _decide(app, person, un).allowed
    decisions = {
        "interview_now": False,
        "notes": False,
        "audio_recording": False,
        "video_recording": False,
        "photos": False,
        "storage": False,
        "referral": False,
        "re_contact": False,
    }
    body = participation(app, decisions=decisions)
    body.pop("retention")
    r = doc.post(f"/api/v1/people/{person}/participation", json=body)
    assert r.status_code == 201, r.text
    assert _decide(app, person, un).reason == "withdrawn"
