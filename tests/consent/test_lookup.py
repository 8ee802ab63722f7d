"""The consent lookup: a record found from the survivor's reference code (or, for a documenter on the team,
their pseudonym code) and their withdrawal code word; both always required, throttled per reference and per
account, audited found or not, and neither value ever in the access log or the audit events."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.models import AuthFailure
from app.access.roles import Role
from app.audit.models import AuditEvent
from app.consent.grant_models import UseConsent
from app.consent.lookup import REFERENCE_LOCKED, REMINDER
from app.consent.reference import ALPHABET
from app.core.db import unit_of_work
from tests.support.actors import Actor, actor
from tests.support.consent import CODE_WORD, documenter_team, record_use_consent, use_consent
from tests.support.interviews import consenting_person

LOOKUP = "/api/v1/consents/lookup"


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str, str]:
    doc, case_id = documenter_team(app)
    return doc, case_id, consenting_person(doc, case_id, app)


def _other_reference(code: str) -> str:
    """A well-formed reference that is not ``code``."""
    first = ALPHABET[(ALPHABET.index(code[0]) + 1) % len(ALPHABET)]
    return first + code[1:]


def test_a_reference_code_is_long_grouped_returned_once_and_stored_only_as_a_keyed_hash(
    app: FastAPI, team: tuple[Actor, str, str]
) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    code = made["reference_code"]
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{5}-){3}[0-9A-HJKMNP-TV-Z]{5}", code), code  # 20 x 5 bits
    assert doc.get(f"/api/v1/consents/{made['id']}").json()["reference_code"] is None
    listed = doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    assert [c["reference_code"] for c in listed] == [None]
    person_code = doc.get(f"/api/v1/people/{person}").json()["code"]
    assert code.replace("-", "") != person_code.replace("-", "")
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(UseConsent, uuid.UUID(made["id"]))
        assert row is not None
        assert row.reference_hash is not None
        assert len(row.reference_hash) == 64
        assert code.replace("-", "") not in row.reference_hash.upper()
    # Two records, two codes.
    assert record_use_consent(doc, person, app)["reference_code"] != code


def test_a_custodian_finds_the_record_by_reference_and_code_word(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    # Read back over the phone: lower case, spaces instead of hyphens, O for 0 and the code word's case.
    spoken = made["reference_code"].lower().replace("-", " ").replace("0", "o")
    r = custodian.post(LOOKUP, json={"reference": spoken, "code_word": CODE_WORD.upper()})
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["person_id"] == person
    assert found["consents"] == [{"consent_id": made["id"], "current_version_id": made["id"], "state": "current"}]
    assert found["reminder"] == REMINDER
    assert "call" in found["reminder"]
    assert "safe channel" in found["reminder"]
    # An amendment keeps the chain's code: the lookup names the version now current.
    amended = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app)).json()
    assert amended["reference_code"] is None
    again = custodian.post(LOOKUP, json={"reference": made["reference_code"], "code_word": CODE_WORD}).json()
    assert again["consents"] == [{"consent_id": made["id"], "current_version_id": amended["id"], "state": "current"}]


def test_it_fails_without_the_code_word(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    for body in ({"reference": made["reference_code"]}, {"reference": made["reference_code"], "code_word": "  "}):
        r = custodian.post(LOOKUP, json=body)
        assert (r.status_code, r.json()["fields"]) == (422, ["code_word"]), r.text
    bare = doc.post(LOOKUP, json={"person_code": doc.get(f"/api/v1/people/{person}").json()["code"]})
    assert (bare.status_code, bare.json()["fields"]) == (422, ["code_word"])
    neither = custodian.post(LOOKUP, json={"code_word": CODE_WORD})
    assert (neither.status_code, neither.json()["fields"]) == (422, ["reference", "person_code"])
    malformed = custodian.post(LOOKUP, json={"reference": "ABC", "code_word": CODE_WORD})
    assert (malformed.status_code, malformed.json()["fields"]) == (422, ["reference"])


def test_a_wrong_code_word_and_an_unknown_reference_get_the_same_answer(
    app: FastAPI, team: tuple[Actor, str, str]
) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    wrong = custodian.post(LOOKUP, json={"reference": made["reference_code"], "code_word": "apricot"})
    unknown = custodian.post(
        LOOKUP, json={"reference": _other_reference(made["reference_code"]), "code_word": CODE_WORD}
    )
    assert wrong.status_code == unknown.status_code == 404

    def shape(r: Any) -> dict[str, Any]:
        return {k: v for k, v in r.json().items() if k not in ("instance", "request_id")}

    assert shape(wrong) == shape(unknown)


def test_documenters_on_the_team_look_up_by_pseudonym_code(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, case_id, person = team
    first, second = record_use_consent(doc, person, app), record_use_consent(doc, person, app)
    person_code = doc.get(f"/api/v1/people/{person}").json()["code"]
    r = doc.post(LOOKUP, json={"person_code": person_code.lower(), "code_word": CODE_WORD})
    assert r.status_code == 200, r.text
    assert [c["consent_id"] for c in r.json()["consents"]] == sorted([first["id"], second["id"]])
    # By reference too, within the team.
    assert doc.post(LOOKUP, json={"reference": first["reference_code"], "code_word": CODE_WORD}).status_code == 200
    # Off the team, the same answer as for a code that does not exist.
    admin = actor(app, "adm2", [Role.ADMIN])
    other_case = admin.post("/api/v1/cases", json={"code": "KB-2", "title": "Other"}).json()["id"]
    outsider = actor(app, "doc2", [Role.DOCUMENTER], cases=(uuid.UUID(other_case),))
    for body in (
        {"person_code": person_code, "code_word": CODE_WORD},
        {"reference": first["reference_code"], "code_word": CODE_WORD},
    ):
        assert outsider.post(LOOKUP, json=body).status_code == 404
    # A custodian looks up by reference, never by pseudonym code; other roles not at all.
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    assert custodian.post(LOOKUP, json={"person_code": person_code, "code_word": CODE_WORD}).status_code == 403
    legal = actor(app, "leg", [Role.LEGAL], cases=(uuid.UUID(case_id),))
    assert legal.post(LOOKUP, json={"reference": first["reference_code"], "code_word": CODE_WORD}).status_code == 403


def test_lookups_are_throttled_per_reference_across_accounts(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    limit = app.state.runtime.settings.throttle.lookups_per_target
    first, second = actor(app, "cus1", [Role.CUSTODIAN]), actor(app, "cus2", [Role.CUSTODIAN])
    for _ in range(limit):
        r = first.post(LOOKUP, json={"reference": made["reference_code"], "code_word": "apricot"})
        assert r.status_code == 404, r.text
    # The reference has spent its failures: even the right code word, from another account, waits.
    held = second.post(LOOKUP, json={"reference": made["reference_code"], "code_word": CODE_WORD})
    assert held.status_code == 429, held.text
    assert int(held.headers["retry-after"]) > 0
    # Another reference is not held up by this one.
    other = record_use_consent(doc, person, app)
    assert second.post(LOOKUP, json={"reference": other["reference_code"], "code_word": CODE_WORD}).status_code == 200


def test_a_locked_reference_is_audited_and_the_answer_points_to_the_pseudonym_code(
    app: FastAPI, team: tuple[Actor, str, str]
) -> None:
    """The review's F4: whoever holds the survivor's card can lock its reference for an hour with wrong code words.
    The lock is recorded (ids only: a lock on a real reference may be someone coercing the survivor), and the
    answer tells the custodian the reference is locked and that the case team can still find the person."""
    doc, case_id, person = team
    made = record_use_consent(doc, person, app)
    code = made["reference_code"]
    limit = app.state.runtime.settings.throttle.lookups_per_target
    holder, custodian = actor(app, "cus1", [Role.CUSTODIAN]), actor(app, "cus2", [Role.CUSTODIAN])
    for _ in range(limit):
        assert holder.post(LOOKUP, json={"reference": code, "code_word": "apricot"}).status_code == 404
    with unit_of_work(app.state.sessionmaker) as s:
        before = s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    held = custodian.post(LOOKUP, json={"reference": code, "code_word": CODE_WORD})
    assert held.status_code == 429, held.text
    assert held.json()["detail"] == REFERENCE_LOCKED
    assert "pseudonym code" in held.json()["detail"]
    unknown = _other_reference(code)
    for _ in range(limit):
        assert holder.post(LOOKUP, json={"reference": unknown, "code_word": "apricot"}).status_code == 404
    assert custodian.post(LOOKUP, json={"reference": unknown, "code_word": CODE_WORD}).status_code == 429
    with unit_of_work(app.state.sessionmaker) as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)))
    locked = [e for e in events if e.action == "consent.lookup_locked"]
    assert [(e.actor, e.outcome, e.status, e.resource_id, e.case_id) for e in locked] == [
        (f"user:{custodian.user_id}", "denied", 429, made["id"], uuid.UUID(case_id)),
        (f"user:{custodian.user_id}", "denied", 429, None, None),  # an unknown reference names no record
    ]
    for event in locked:
        for needle in (code, code.replace("-", ""), unknown.replace("-", ""), CODE_WORD, "apricot"):
            assert needle.casefold() not in event.entry.decode().casefold()
    # The way the answer names: a documenter on the case team finds the person by pseudonym code.
    person_code = doc.get(f"/api/v1/people/{person}").json()["code"]
    found = doc.post(LOOKUP, json={"person_code": person_code, "code_word": CODE_WORD})
    assert found.status_code == 200, found.text
    assert [c["consent_id"] for c in found.json()["consents"]] == [made["id"]]


def test_lookups_are_throttled_per_account_across_references(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    limit = app.state.runtime.settings.throttle.lookups_per_account
    guesser, other = actor(app, "cus1", [Role.CUSTODIAN]), actor(app, "cus2", [Role.CUSTODIAN])
    code = made["reference_code"]
    for i in range(limit):
        guess = ALPHABET[i] + ALPHABET[i] + code[2:]
        if guess.replace("-", "") == code.replace("-", ""):
            guess = _other_reference(guess)
        assert guesser.post(LOOKUP, json={"reference": guess, "code_word": CODE_WORD}).status_code == 404
    assert guesser.post(LOOKUP, json={"reference": code, "code_word": CODE_WORD}).status_code == 429
    assert other.post(LOOKUP, json={"reference": code, "code_word": CODE_WORD}).status_code == 200


def test_an_account_past_its_limit_cannot_lock_a_reference(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    """Attempts refused for the account's own limit never count against the record they name: otherwise one account
    (an insider, a stolen session) could lock any survivor's reference for an hour with refused attempts."""
    doc, _case, person = team
    code = record_use_consent(doc, person, app)["reference_code"]
    settings = app.state.runtime.settings.throttle
    guesser, custodian = actor(app, "cus1", [Role.CUSTODIAN]), actor(app, "cus2", [Role.CUSTODIAN])
    for i in range(settings.lookups_per_account):
        guess = ALPHABET[i] + ALPHABET[i] + code[2:]
        if guess.replace("-", "") == code.replace("-", ""):
            guess = _other_reference(guess)
        assert guesser.post(LOOKUP, json={"reference": guess, "code_word": CODE_WORD}).status_code == 404
    for i in range(settings.lookups_per_target + 1):
        refused = guesser.post(LOOKUP, json={"reference": code, "code_word": f"apricot{i}"})
        assert refused.status_code == 429, refused.text
    found = custodian.post(LOOKUP, json={"reference": code, "code_word": CODE_WORD})
    assert found.status_code == 200, found.text


def test_a_success_does_not_count(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    limit = app.state.runtime.settings.throttle.lookups_per_target
    for _ in range(limit + 2):
        r = custodian.post(LOOKUP, json={"reference": made["reference_code"], "code_word": CODE_WORD})
        assert r.status_code == 200, r.text


def test_every_lookup_is_audited_and_neither_code_nor_word_is_logged(
    app: FastAPI, team: tuple[Actor, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    doc, _case, person = team
    made = record_use_consent(doc, person, app)
    code = made["reference_code"]
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    with unit_of_work(app.state.sessionmaker) as s:
        before = s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    with caplog.at_level(logging.DEBUG):
        assert custodian.post(LOOKUP, json={"reference": code, "code_word": CODE_WORD}).status_code == 200
        assert custodian.post(LOOKUP, json={"reference": code, "code_word": "apricot"}).status_code == 404
        unknown = _other_reference(code)
        assert custodian.post(LOOKUP, json={"reference": unknown, "code_word": CODE_WORD}).status_code == 404
    with unit_of_work(app.state.sessionmaker) as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)))
        attempts = list(s.scalars(select(AuthFailure)))
    assert [(e.action, e.outcome, e.resource_id) for e in events] == [
        ("consent.lookup", "allowed", made["id"]),
        ("consent.lookup", "denied", made["id"]),
        ("consent.lookup", "denied", None),
    ]
    needles = {code, code.replace("-", ""), unknown, unknown.replace("-", ""), CODE_WORD, "apricot"}
    stored = [e.entry.decode() for e in events] + [
        str([getattr(e, c.key) for c in AuditEvent.__table__.columns]) for e in events
    ]
    stored += [f"{a.account_key} {a.address_key}" for a in attempts]
    for text in [*stored, caplog.text]:
        for needle in needles:
            assert needle.casefold() not in text.casefold(), needle
    assert caplog.text  # the requests were logged, just not the values
