"""Retention through the real app, on SQLite and PostgreSQL: the custodians' queue shows what comes due in the
next 30 days; the run, under an injected clock, deletes exactly what is due and reviewed for deletion (the
sealed columns nulled, the re-contact details sealed again without them), and leaves what is not yet due,
unreviewed or kept; the withdrawal code word and the reference code survive; `testimony retention run` deletes
in one audited system transaction per person."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.principal import Principal
from app.access.roles import Role
from app.audit.models import AuditEvent
from app.consent import service as participation
from app.consent.grant_models import UseConsent
from app.core.db import unit_of_work
from app.people.models import BlindIndexEntry, Person
from app.retention import run
from tests.support.actors import Actor, actor, login, now, shift_clock
from tests.support.consent import CODE_WORD, documenter_team, identity, recontact, record_use_consent
from tests.support.consent import participation as consent_body
from tests.support.interviews import consenting_person

SYSTEM = Principal.system("test")


def _contact(days: int) -> dict[str, Any]:
    return {"contact": {**recontact(days), "value": "+374 10 000000"}}


def _person(app: FastAPI, doc: Actor, case_id: str, contact_days: int | None, **consent: Any) -> str:
    """A consenting person with an identity and, if given, a safe contact and re-contact running out in that
    many days."""
    if contact_days is not None:
        decisions = {**consent_body(app)["decisions"], "re_contact": True}
        consent = {"decisions": decisions, "recontact": recontact(contact_days), **consent}
    person = consenting_person(doc, case_id, app, **consent)
    body = identity(sex_gender="female", place_of_origin="Martuni")
    if contact_days is not None:
        body |= _contact(contact_days)
    r = doc.request("PATCH", f"/api/v1/people/{person}", json=body)
    assert r.status_code == 200, r.text
    return person


def _later(app: FastAPI, by: timedelta, *who: Actor) -> list[Actor]:
    """Move the clock, and log the same users in again (their sessions ended meanwhile)."""
    shift_clock(app, by)
    return [login(app, a.username, a.totp_secret) for a in who]


def _queue(custodian: Actor) -> list[dict[str, Any]]:
    r = custodian.get("/api/v1/retention/due")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _review(custodian: Actor, item: dict[str, Any], decision: str = "delete", **more: Any) -> Any:
    body = {k: item[k] for k in ("person_id", "category", "due_on")} | {"decision": decision, **more}
    return custodian.post("/api/v1/retention/reviews", json=body)


def _row(app: FastAPI, person: str) -> Person:
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(Person, uuid.UUID(person))
        assert row is not None
        s.expunge(row)
        return row


def _run(app: FastAPI, at: datetime) -> dict[str, list[str]]:
    """The run at ``at``: one transaction per person with something to delete, as the command line does."""
    with unit_of_work(app.state.sessionmaker) as s:
        going = {i.person_id for i in run.due_now(s, app.state.runtime, SYSTEM, at) if i.state == "delete"}
    deleted = {}
    for person_id in sorted(going):
        with unit_of_work(app.state.sessionmaker) as s:
            deleted[str(person_id)] = [
                c.value for c in run.delete_due(s, app.state.runtime, SYSTEM, person_id, at).deleted
            ]
    return deleted


def _recontact_of(app: FastAPI, person: str) -> object:
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(Person, uuid.UUID(person))
        assert row is not None
        opened = participation.latest_opened(s, app.state.runtime, row)
        assert opened is not None
        return opened.details.get("recontact")


def _code_word_matches(app: FastAPI, person: str) -> bool:
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(Person, uuid.UUID(person))
        assert row is not None
        return participation.code_word_matches(s, app.state.runtime, row, CODE_WORD)


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str, Actor]:
    doc, case_id = documenter_team(app)
    return doc, case_id, actor(app, "keeper", [Role.CUSTODIAN], cases=(uuid.UUID(case_id),))


def test_the_queue_shows_the_next_30_days(app: FastAPI, team: tuple[Actor, str, Actor]) -> None:
    doc, case_id, custodian = team
    soon = _person(app, doc, case_id, contact_days=20)
    later = _person(app, doc, case_id, contact_days=45)
    refused = _person(app, doc, case_id, contact_days=None)  # no contact held: nothing of theirs comes due
    items = _queue(custodian)
    assert [(i["person_id"], i["category"], i["state"]) for i in items] == [(soon, "contact", "unreviewed")]
    today = now(app).date()
    assert items[0]["due_on"] == (today + timedelta(days=20)).isoformat()
    assert items[0]["basis"] == "re_contact_expired"
    assert set(items[0]) == {
        "person_id",
        "person_code",
        "case_id",
        "category",
        "due_on",
        "basis",
        "state",
        "reviewed_at",
    }  # ids, the code, the category and dates: never content
    assert "+374" not in str(items)
    assert "Grigoryan" not in str(items)
    # Twenty days on: the later one is within 30 days, the first overdue.
    doc, custodian = _later(app, timedelta(days=20), doc, custodian)
    assert [(i["person_id"], i["category"]) for i in _queue(custodian)] == [(soon, "contact"), (later, "contact")]
    assert refused not in str(_queue(custodian))
    assert doc.get("/api/v1/retention/due").status_code == 403


def test_the_run_deletes_exactly_what_is_due_and_reviewed(app: FastAPI, team: tuple[Actor, str, Actor]) -> None:
    doc, case_id, custodian = team
    due = _person(app, doc, case_id, contact_days=10)
    record = record_use_consent(doc, due, app, retention={"identity": "P2Y"})
    unreviewed = _person(app, doc, case_id, contact_days=10)
    kept = _person(app, doc, case_id, contact_days=10)
    not_yet = _person(app, doc, case_id, contact_days=100)
    by_person = {i["person_id"]: i for i in _queue(custodian)}
    assert set(by_person) == {due, unreviewed, kept}
    assert _review(custodian, by_person[due]).status_code == 201
    again = _review(custodian, by_person[due], "keep", reason="Asked by the prosecutor.")
    assert (again.status_code, again.json()["code"]) == (409, "reviewed")
    no_reason = _review(custodian, by_person[kept], "keep")
    assert (no_reason.status_code, no_reason.json()["fields"]) == (422, ["reason"])
    keep = _review(custodian, by_person[kept], "keep", reason="Needed for the hearing in March.")
    assert (keep.status_code, keep.json()["reason_given"]) == (201, True)
    assert "March" not in keep.text
    wrong_date = _review(custodian, {**by_person[unreviewed], "due_on": "2030-01-01"})
    assert (wrong_date.status_code, wrong_date.json()["code"]) == (409, "not_due")
    before = {p: _row(app, p) for p in (due, unreviewed, kept, not_yet)}

    start = now(app)
    assert _run(app, start + timedelta(days=5)) == {}  # reviewed, but not yet due
    assert _row(app, due).contact == before[due].contact

    assert _run(app, start + timedelta(days=11)) == {due: ["contact"]}
    gone = _row(app, due)
    assert gone.contact is None  # the sealed column itself, not hidden
    assert _recontact_of(app, due) is None  # the re-contact details of participation consent too
    assert gone.identity == before[due].identity  # identity is due in two years
    assert _code_word_matches(app, due)  # the code word is never deleted by retention
    with unit_of_work(app.state.sessionmaker) as s:
        first = s.get(UseConsent, uuid.UUID(record["chain_id"]))
        assert first is not None
        assert first.reference_hash is not None
    for person in (unreviewed, kept, not_yet):
        assert _row(app, person).contact == before[person].contact
        assert _recontact_of(app, person) is not None
    read = doc.get(f"/api/v1/people/{due}").json()
    assert read["contact"] is None
    assert read["identity"]["full_name"] == "Ashot Grigoryan"
    assert _run(app, start + timedelta(days=11)) == {}  # nothing left to delete


def test_identity_comes_due_by_a_use_grant_and_goes_with_its_blind_index(
    app: FastAPI, team: tuple[Actor, str, Actor]
) -> None:
    doc, case_id, custodian = team
    person = _person(app, doc, case_id, contact_days=None)
    record_use_consent(doc, person, app, retention={"identity": "P1Y"})
    [custodian] = _later(app, timedelta(days=360), custodian)
    [item] = _queue(custodian)
    assert (item["category"], item["basis"]) == ("identity", "use_grant")
    assert _review(custodian, item).status_code == 201
    assert _run(app, now(app) + timedelta(days=10)) == {person: ["identity"]}
    row = _row(app, person)
    assert row.identity is None
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalars(select(BlindIndexEntry).where(BlindIndexEntry.person_id == row.id)).all() == []
    assert _code_word_matches(app, person)


def test_retention_run_from_the_command_line(
    app: FastAPI, team: tuple[Actor, str, Actor], cli_env: dict[str, str]
) -> None:
    doc, case_id, custodian = team
    # Contact kept although the person does not agree to re-contact: due at once.
    person = consenting_person(doc, case_id, app)
    assert doc.request("PATCH", f"/api/v1/people/{person}", json=_contact(300)).status_code == 200
    other = consenting_person(doc, case_id, app)
    assert doc.request("PATCH", f"/api/v1/people/{other}", json=_contact(300)).status_code == 200
    items = {i["person_id"]: i for i in _queue(custodian)}
    assert items[person]["basis"] == "re_contact_ended"
    assert _review(custodian, items[person]).status_code == 201
    env = {**os.environ, **cli_env}
    due = subprocess.run(
        [sys.executable, "-m", "app.cli", "retention", "due", "--json"], env=env, capture_output=True, check=False
    )
    assert due.returncode == 0, due.stderr.decode()
    assert b"+374" not in due.stdout
    states = {i["person_id"]: i["state"] for i in json.loads(due.stdout)}
    assert states == {person: "delete", other: "unreviewed"}
    declined = subprocess.run(
        [sys.executable, "-m", "app.cli", "retention", "run"], env=env, input=b"n\n", capture_output=True, check=False
    )
    assert declined.returncode == 1
    assert _row(app, person).contact is not None
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "retention", "run", "--yes"], env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert _row(app, person).contact is None
    assert _row(app, other).contact is not None
    with unit_of_work(app.state.sessionmaker) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.delete")).all()
    assert [(e.actor, e.resource_id, e.outcome) for e in events] == [("system:cli", person, "allowed")]


def test_a_minor_who_comes_of_age_appears_in_the_reconsent_queue(app: FastAPI, team: tuple[Actor, str, Actor]) -> None:
    from tests.support.consent import child_texts

    doc, case_id, custodian = team
    today: date = now(app).date()
    born = (today.replace(year=today.year - 18) + timedelta(days=40)).isoformat()  # 18 in forty days
    minor = {
        "assent": True,
        "guardian": {"name": "Guardian One", "relation": "mother", "consent": True},
        "best_interests_checked_by": "Child protection officer",
    }
    child = consenting_person(doc, case_id, app, date_of_birth=born, minor=minor, **child_texts(app))
    assert doc.request("PATCH", f"/api/v1/people/{child}", json=identity("Arev Hakobyan", born)).status_code == 200
    adult = _person(app, doc, case_id, contact_days=None)
    assert doc.get("/api/v1/people/reconsent-due").json()["items"] == []
    doc, custodian = _later(app, timedelta(days=41), doc, custodian)
    for who in (doc, custodian):
        r = who.get("/api/v1/people/reconsent-due")
        assert r.status_code == 200, r.text
        assert [(i["person_id"], i["came_of_age_on"], i["basis"]) for i in r.json()["items"]] == [
            (
                child,
                (date.fromisoformat(born).replace(year=date.fromisoformat(born).year + 18)).isoformat(),
                "date_of_birth",
            )
        ]
    assert adult not in str(doc.get("/api/v1/people/reconsent-due").json())
    for outsider in (actor(app, "doc2", [Role.DOCUMENTER]), actor(app, "keeper2", [Role.CUSTODIAN])):
        assert outsider.get("/api/v1/people/reconsent-due").json()["items"] == []  # not on the team
    assert doc.get(f"/api/v1/people/{child}").json()["reconsent_due"] is True  # the person's own flag agrees


def test_a_person_under_legal_hold_keeps_everything(app: FastAPI, team: tuple[Actor, str, Actor]) -> None:
    doc, case_id, custodian = team
    second = actor(app, "keeper2", [Role.CUSTODIAN])
    held = _person(app, doc, case_id, contact_days=10)
    free = _person(app, doc, case_id, contact_days=10)
    for item in _queue(custodian):
        assert _review(custodian, item).status_code == 201
    asked = custodian.post(
        f"/api/v1/people/{held}/legal-hold",
        json={"reason": "Evidence in a pending case.", "proceedings_reference": "ICC-01/23"},
    )
    assert asked.status_code == 202, asked.text
    confirmed = second.post(f"/api/v1/legal-holds/{asked.json()['id']}/decision", json={"confirm": True})
    assert confirmed.status_code == 200, confirmed.text
    states = {i["person_id"]: i["state"] for i in _queue(custodian)}
    assert states == {held: "held", free: "delete"}
    before = _row(app, held)
    assert _run(app, now(app) + timedelta(days=11)) == {free: ["contact"]}
    kept = _row(app, held)
    assert (kept.contact, kept.identity) == (before.contact, before.identity)
    assert _recontact_of(app, held) is not None


def test_an_erased_person_does_not_break_the_reconsent_queue(app: FastAPI, team: tuple[Actor, str, Actor]) -> None:
    """Their consent was sealed under the key the erasure destroyed: the queue leaves them out (was a 500 for every
    documenter and custodian of the case, on the API and on the page, once anyone in it was erased)."""
    from tests.erasure.support import erase

    doc, case_id, custodian = team
    gone = _person(app, doc, case_id, contact_days=None)
    erase(custodian, actor(app, "keeper2", [Role.CUSTODIAN]), gone)
    for who in (doc, custodian):
        r = who.get("/api/v1/people/reconsent-due")
        assert r.status_code == 200, r.text
        assert r.json()["items"] == []
        page = who.get("/reconsent")
        assert page.status_code == 200, page.text
