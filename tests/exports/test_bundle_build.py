"""The export build writes the bundle, through the real app and worker, on SQLite and PostgreSQL: it verifies
(standalone verifier, `sha256sum -c`, decrypted with the real age when the recipient has a key), holds only
what each person allowed at their level, and no internal id; a withdrawn category is absent; an interview the
interviewee stopped sends nothing; two recipients' pseudonymous bundles of the same people share no id."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.principal import Principal
from app.core.db import unit_of_work
from app.exports.models import DisclosureEntry
from app.recipients import service as recipients
from app.recipients.schemas import RecipientCreate
from tests.support.actors import Actor
from tests.support.built import UUID, Unpacked, age_identity, internal_ids, unpack
from tests.support.consent import grant, identity, register_recipient
from tests.support.exports import Desk, desk
from tests.support.interviews import INCIDENT, checklist, new_interview, patch, reconfirm

NAME = "Siranush Qaj7"
TEXT = "They took us to the school in Hadrut Qaj7 and kept us nine days."
REDACTED = "They took us to the school in […] and kept us nine days."
WITHDRAW = {"mode": "stop_future_use", "received_via": "phone"}


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _approved(d: Desk, **overrides: Any) -> str:
    made = d.request(**overrides)
    for i in range(made["approvals_needed"]):
        d.review(made["id"], i)
        assert d.approve(made["id"], i).status_code == 200
    export: str = made["id"]
    return export


def _built(d: Desk, **overrides: Any) -> tuple[str, dict[str, Any]]:
    export = _approved(d, **overrides)
    assert d.worker().run_once() is True
    read: dict[str, Any] = d.legal.get(f"/api/v1/exports/{export}").json()
    assert (read["status"], read["bundle_written"]) == ("ready", True)
    return export, read


def _testimony(d: Desk, person: str, *, incident: bool = True, redact: bool = False) -> dict[str, Any]:
    """An interview of the person with a confirmed statement, an incident and maybe a redaction."""
    doc: Actor = d.doc
    interview = new_interview(doc, person, checklist=checklist())
    started = patch(doc, interview, state="in_progress").json()
    iid = started["id"]
    saved = doc.request("PUT", f"/api/v1/interviews/{iid}/draft", json={"text": TEXT, "answers": []})
    assert saved.status_code == 200, saved.text
    body = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    statement = doc.post(f"/api/v1/interviews/{iid}/statements", json=body)
    assert statement.status_code == 201, statement.text
    if incident:
        assert doc.post(f"/api/v1/interviews/{iid}/incidents", json=INCIDENT).status_code == 201
    if redact:
        payload = {"statement_version_id": statement.json()["id"], "text": REDACTED, "answers": []}
        assert doc.post(f"/api/v1/interviews/{iid}/redactions", json=payload).status_code == 201
    result: dict[str, Any] = started
    return result


def _named_person(d: Desk, *grants: dict[str, Any]) -> str:
    person = d.person(*grants)
    assert d.doc.request("PATCH", f"/api/v1/people/{person}", json=identity(NAME)).status_code == 200
    return person


def _records(bundle: Unpacked) -> list[dict[str, Any]]:
    return [json.loads(line) for line in bundle.files["records.jsonl"].decode().splitlines()]


def _no_internal_id(app: FastAPI, export: str, bundle: Unpacked) -> None:
    """No UUID at all in any file of the bundle, and none of the ids the database holds, in any spelling."""
    for name, data in bundle.files.items():
        assert not UUID.search(data), name
    text = bundle.text().lower()
    for value in internal_ids(app.state.sessionmaker):
        assert value.lower() not in text
        assert value.replace("-", "").lower() not in text


SEXUAL = grant(categories=["narrative_sexual_violence"], disclosure_level="named_protected")
NAMED = grant(categories=["identity", "narrative_general"], disclosure_level="named_protected")


def test_a_named_bundle_encrypted_to_the_recipient_verifies_and_holds_what_was_allowed(
    app: FastAPI, d: Desk, tmp_path: Path
) -> None:
    key_file, age_key = age_identity(tmp_path)
    with unit_of_work(app.state.sessionmaker) as s:
        data = RecipientCreate.model_validate(
            {
                "recipient_class": "un_investigative_bodies",
                "jurisdiction": "international",
                "names": ["Commission of Inquiry"],
                "recall_contact": "By the secure channel agreed at first contact.",
                "age_recipient": age_key,
            }
        )
        made = recipients.create_recipient(s, app.state.runtime, Principal.system("test"), data)
        assert made.recipient is not None
        recipient_id = str(made.recipient.id)
    named = _named_person(d, NAMED, SEXUAL)
    _testimony(d, named)
    other = _named_person(d, grant())  # narrative pseudonymous only: no name, no identity
    _testimony(d, other)
    d.person()  # nothing granted: excluded
    export, read = _built(
        d,
        recipient_id=recipient_id,
        categories=["identity", "narrative_general", "narrative_sexual_violence"],
        max_disclosure_level="named_protected",
    )
    assert read["bundle_encrypted"] is True
    bundle = unpack(app, export, tmp_path / "b", identity=key_file)
    records = {r["level"]: r for r in _records(bundle)}
    assert set(records) == {"named_protected", "pseudonymous"}
    full = records["named_protected"]
    assert full["identity"]["full_name"] == NAME
    assert full["interviews"][0]["statement"]["text"] == TEXT
    assert full["interviews"][0]["incidents"][0]["place"] == INCIDENT["place"]
    assert "perpetrators" not in full["interviews"][0]["incidents"][0]  # alleged_perpetrators was not asked for
    plain = records["pseudonymous"]
    assert plain["pseudonym"].startswith("P-")
    assert "identity" not in plain
    assert "text" not in plain["interviews"][0].get("statement", {})  # the statement is narrative_sexual_violence
    assert NAME not in bundle.files["records.jsonl"].decode().replace(json.dumps(full["identity"]), "")
    rows = list(csv.DictReader(io.StringIO(bundle.files["records.csv"].decode())))
    assert sorted(r["level"] for r in rows) == ["named_protected", "pseudonymous"]
    assert {r["record"] for r in rows} == {full["record"], plain["record"]}
    redactions = json.loads(bundle.files["redactions.json"])
    assert redactions[full["record"]]["categories"] == ["identity", "narrative_general", "narrative_sexual_violence"]
    assert json.loads(bundle.files["exclusions.json"])["count"] is None  # 1 person left out: under 5, not shown
    manifest = json.loads(bundle.files["manifest.json"])
    assert set(manifest["consent_basis"]) == {full["record"], plain["record"]}
    assert [a["role"] for a in manifest["approvers"]] == ["custodian", "custodian"]
    consent = json.loads(bundle.files[f"consent/{full['record']}.json"])
    granted = {t["term"] for r in consent["records"] for p in r["processing"] for t in p["pii_information"]}
    assert granted == {"identity", "narrative_general", "narrative_sexual_violence"}
    assert {g for r in consent["records"] for p in r["processing"] for g in [p["grant_id"]]} == set(
        manifest["consent_basis"][full["record"]]["grants"]
    )
    _no_internal_id(app, export, bundle)


def test_a_withdrawn_category_is_absent_and_a_stopped_interview_sends_nothing(
    app: FastAPI, d: Desk, tmp_path: Path
) -> None:
    person = d.person(grant(categories=["narrative_general"]), grant(categories=["narrative_sexual_violence"]))
    kept = _testimony(d, person)
    stopped = _testimony(d, person)
    assert patch(d.doc, stopped, state="stopped_by_interviewee").status_code == 200
    consent = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]
    sexual = next(g["id"] for g in consent["grants"] if g["categories"] == ["narrative_sexual_violence"])
    r = d.doc.post(f"/api/v1/consents/{consent['id']}/withdraw", json={**WITHDRAW, "scope": [sexual]})
    assert r.status_code == 201, r.text
    export, _ = _built(d, categories=["narrative_general", "narrative_sexual_violence"])
    bundle = unpack(app, export, tmp_path / "b")
    (record,) = _records(bundle)
    assert len(record["interviews"]) == 1  # the stopped interview, never reconfirmed, sends nothing
    assert TEXT not in bundle.text()  # the statement text is narrative_sexual_violence, withdrawn
    assert "violation_types" not in record["interviews"][0]["incidents"][0]
    assert record["interviews"][0]["incidents"][0]["place"] == INCIDENT["place"]
    assert json.loads(bundle.files["redactions.json"])[record["record"]]["categories"] == ["narrative_general"]
    assert "narrative_sexual_violence" not in bundle.files[f"consent/{record['record']}.json"].decode()
    assert kept["id"] not in bundle.text()
    _no_internal_id(app, export, bundle)


def test_deidentified_sends_the_redacted_narrative_and_structured_fields_only(
    app: FastAPI, d: Desk, tmp_path: Path
) -> None:
    deid = grant(categories=["narrative_sexual_violence", "narrative_general"], disclosure_level="deidentified")
    for _ in range(5):  # five people share the one quasi-identifier shown: the incident's month
        _testimony(d, _named_person(d, deid), redact=True)
    _testimony(d, _named_person(d, deid), incident=False, redact=True)  # alone with no month: dropped
    export, read = _built(
        d, categories=["narrative_general", "narrative_sexual_violence"], max_disclosure_level="deidentified"
    )
    assert read["people_count"] == 6
    bundle = unpack(app, export, tmp_path / "b")
    records = _records(bundle)
    assert len(records) == 5
    assert all("incidents" in r["interviews"][0] for r in records)
    assert len([n for n in bundle.files if n.startswith("consent/")]) == 5
    for record in records:
        assert "pseudonym" not in record
        assert record["interviews"][0]["statement"]["text"] == REDACTED
        assert record["interviews"][0]["incidents"][0]["date"]["start"] == "2023-09"
    assert TEXT not in bundle.text()
    assert NAME not in bundle.text()
    assert INCIDENT["place"] not in bundle.text()  # a place is free text: never at deidentified
    _no_internal_id(app, export, bundle)


def test_two_recipients_pseudonymous_bundles_of_the_same_people_share_no_identifier(
    app: FastAPI, d: Desk, tmp_path: Path
) -> None:
    people = [d.person(grant()) for _ in range(3)]
    for person in people:
        _testimony(d, person)
    second = register_recipient(app)
    first_export, _ = _built(d)
    second_export, _ = _built(d, recipient_id=second)
    one = unpack(app, first_export, tmp_path / "one")
    two = unpack(app, second_export, tmp_path / "two")
    assert len(_records(one)) == len(_records(two)) == 3
    assert one.codes()
    assert two.codes()
    assert not one.codes() & two.codes()
    assert not {n for n in one.files if n.startswith("consent/")} & {n for n in two.files if n.startswith("consent/")}
    again, _ = _built(d)  # the same recipient again: the same pseudonyms, but new opaque ids
    three = unpack(app, again, tmp_path / "three")
    assert {r["pseudonym"] for r in _records(three)} == {r["pseudonym"] for r in _records(one)}
    assert {r["record"] for r in _records(three)}.isdisjoint({r["record"] for r in _records(one)})
    for export, bundle in ((first_export, one), (second_export, two), (again, three)):
        _no_internal_id(app, export, bundle)
    with unit_of_work(app.state.sessionmaker) as s:
        ledger = s.scalars(select(DisclosureEntry).where(DisclosureEntry.export_id == uuid.UUID(first_export))).all()
        assert all(e.code not in one.text() for e in ledger)


def test_aggregate_only_sends_suppressed_counts_and_no_record(app: FastAPI, d: Desk, tmp_path: Path) -> None:
    counted = grant(disclosure_level="aggregate_only")
    for _ in range(3):
        _testimony(d, _named_person(d, counted))
    export, read = _built(d, max_disclosure_level="aggregate_only")
    assert read["level_counts"] == {"aggregate_only": 3}
    bundle = unpack(app, export, tmp_path / "b")
    assert bundle.files["records.jsonl"] == b""
    assert not [n for n in bundle.files if n.startswith(("consent/", "attachments/", "statements/"))]
    counts = json.loads(bundle.files["counts.json"])
    assert counts == {"categories": {"narrative_general": None}, "total": None}  # 3 is under 10: suppressed
    assert NAME not in bundle.text()
    assert TEXT not in bundle.text()
    _no_internal_id(app, export, bundle)


def test_a_bundle_an_attempt_that_died_left_behind_is_replaced(app: FastAPI, d: Desk, tmp_path: Path) -> None:
    _testimony(d, d.person(grant()))
    export = _approved(d)
    store = app.state.runtime.bundles
    left = store.create_temp(uuid.UUID(export).hex)  # sealed by an attempt whose transaction never committed
    left.append(b"not a bundle")
    left.finalise()
    assert d.worker().run_once() is True
    assert d.legal.get(f"/api/v1/exports/{export}").json()["bundle_written"] is True
    (record,) = _records(unpack(app, export, tmp_path / "b"))
    assert record["interviews"][0]["incidents"][0]["place"] == INCIDENT["place"]


def test_an_interview_reconfirmed_after_the_interviewee_stopped_it_goes(app: FastAPI, d: Desk, tmp_path: Path) -> None:
    person = d.person(grant())
    stopped = patch(d.doc, _testimony(d, person), state="stopped_by_interviewee").json()
    reconfirm(d.doc, app, stopped["id"])  # the interviewee confirmed their grants after stopping
    export, _ = _built(d)
    (record,) = _records(unpack(app, export, tmp_path / "b"))
    assert len(record["interviews"]) == 1
    assert record["interviews"][0]["incidents"][0]["place"] == INCIDENT["place"]
