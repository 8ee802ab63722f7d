"""The standard consent record (ISO/IEC TS 27560 as W3C DPV maps it): a record with grants, a narrowing at
the end of the interview and a withdrawal validates against a JSON Schema written here from the mapping
table in docs/consent-record.md, and its events are in time order."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI

from app.access.roles import Role
from tests.support.actors import Actor, actor
from tests.support.consent import documenter_team, grant, use_consent
from tests.support.interviews import checklist, consenting_person, new_interview, patch, reconfirm

DOC = Path(__file__).resolve().parents[2] / "docs" / "consent-record.md"
DPV = "https://w3id.org/dpv#"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": sorted(props), "additionalProperties": False}


def _list(item: dict[str, Any], *, min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": min_items}


STR = {"type": "string", "minLength": 1}
UUID = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
TIME = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T"}
IRI = {"type": "string", "pattern": r"^https://w3id\.org/dpv(/pd)?#[A-Za-z]+$"}
TERM = _obj({"term": {"type": "string", "pattern": "^[a-z_]+$"}, "dpv": _nullable(IRI)})
DPV_TERM = _obj({"term": {"type": "string", "pattern": "^[a-z_]+$"}, "dpv": IRI})
STATUS = _obj(
    {
        "term": {
            "enum": [
                "requested",
                "deferred",
                "given",
                "renewed",
                "refused",
                "withdrawn",
                "expired",
                "invalidated",
                "unknown",
            ]
        },
        "dpv": {"type": "string", "pattern": "^https://w3id\\.org/dpv#(Renewed)?Consent[A-Za-z]*$"},
    }
)
PERIOD = {"type": "string", "pattern": r"^P[1-9][0-9]?Y$"}
COUNTRY = {"type": "string", "pattern": "^([A-Z]{2}|international)$"}

# The schema, element by element, as docs/consent-record.md maps them.
SCHEMA: dict[str, Any] = _obj(
    {
        "metadata": _obj(
            {
                "schema_version": {"type": "string", "pattern": "^ISO/IEC TS 27560"},
                "record_id": UUID,
                "version_id": UUID,
                "receipt_id": UUID,
                "pii_principal_id": STR,
                "status": STATUS,
            }
        ),
        "processing": _list(
            _obj(
                {
                    "grant_id": UUID,
                    "privacy_notice": _obj(
                        {
                            "form_id": STR,
                            "form_version": STR,
                            "language": STR,
                            "text_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                            "form_digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        }
                    ),
                    "language": {"enum": ["en", "hy", "ru"]},
                    "purposes": _list(TERM, min_items=1),
                    "purpose_type": TERM,
                    "pii_information": _list(TERM, min_items=1),
                    "pii_controllers": _list(STR, min_items=1),
                    "storage_locations": _list(TERM, min_items=1),
                    "retention_period": {"type": "object", "additionalProperties": PERIOD},
                    "jurisdiction": _nullable(_list(COUNTRY, min_items=1)),
                    "recipient_third_parties": _list(
                        _obj({"recipient_class": DPV_TERM, "jurisdictions": _nullable(_list(COUNTRY))}), min_items=1
                    ),
                    "disclosure_level": TERM,
                    "withdrawal_method": STR,
                    "lawful_basis": DPV_TERM,
                    "collection_method": TERM,
                    "processing_location": _list(TERM, min_items=1),
                    "geographic_restrictions": _list(COUNTRY),
                    "expires_at": _nullable(TIME),
                    "status": STATUS,
                }
            ),
            min_items=1,
        ),
        "refusals": _list(
            _obj(
                {
                    "purposes": _list(TERM, min_items=1),
                    "pii_information": _list(TERM, min_items=1),
                    "recipient_class": _nullable(DPV_TERM),
                    "recipient_id": _nullable(UUID),
                }
            )
        ),
        "restricted_recipients": _list(UUID),
        "personal_data": _list(
            _obj({"pii_type": TERM, "sensitive": {"type": "boolean"}, "special_category": {"type": "boolean"}}),
            min_items=1,
        ),
        "parties": _list(
            _obj({"id": STR, "name": _nullable(STR), "type": DPV_TERM, "contact": _nullable(STR)}), min_items=2
        ),
        "events": _list(
            _obj(
                {
                    "event_time": TIME,
                    "validity_duration": _nullable({"type": "string", "pattern": r"^PT\d+S$"}),
                    "entity_id": STR,
                    "event_type": {
                        "enum": [
                            "given",
                            "deferred",
                            "refused",
                            "renewed",
                            "amended",
                            "narrowed",
                            "withdrawn",
                            "invalidated",
                        ]
                    },
                    "event_state": STATUS,
                    "version_id": _nullable(UUID),
                    "grant_ids": _nullable(_list(UUID, min_items=1)),
                }
            ),
            min_items=1,
        ),
    }
)


def _paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """The field paths the schema names, written as the mapping table writes them."""
    found: set[str] = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        inner = sub.get("items") if sub.get("type") == "array" else sub
        if sub.get("type") == "array":
            path += "[]"
        found.add(path)
        if isinstance(inner, dict) and inner.get("type") == "object" and name not in _LEAVES:
            found |= _paths(inner, path + ".")
    return found


_LEAVES = {
    "privacy_notice",
    "purposes",
    "purpose_type",
    "pii_information",
    "storage_locations",
    "recipient_third_parties",
    "disclosure_level",
    "lawful_basis",
    "collection_method",
    "processing_location",
    "status",
    "event_state",
    "pii_type",
    "type",
    "recipient_class",
    "retention_period",
}
"""Values that are one element of the standard (a term, a notice), not a group of elements."""


def _documented() -> set[str]:
    rows = re.findall(r"^\| `([a-z_.\[\]]+)` \|", DOC.read_text(), re.MULTILINE)
    assert rows, "the mapping table is missing"
    return set(rows)


def test_the_schema_covers_exactly_the_fields_the_mapping_table_maps() -> None:
    groups = {"metadata", "processing[]", "refusals[]", "personal_data[]", "parties[]", "events[]"}
    named = _paths(SCHEMA) - groups
    assert named == _documented()


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, str, str]:
    doc, case_id = documenter_team(app)
    return doc, case_id, consenting_person(doc, case_id, app)


def test_a_record_with_grants_a_narrowing_and_a_withdrawal_validates_and_its_events_are_in_order(
    app: FastAPI, team: tuple[Actor, str, str]
) -> None:
    doc, _case, person = team
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    body = use_consent(
        app,
        grants=[
            grant(),
            grant(
                purpose="research",
                recipient_class="researchers",
                categories=["health"],
                disclosure_level="deidentified",
            ),
            grant(
                purpose="criminal_investigation",
                recipient_class="national_authorities",
                jurisdictions=["FR"],
                categories=["identity", "narrative_general"],
                disclosure_level="named_protected",
                expires_at=later,
            ),
        ],
        refusals=[{"purpose": "media", "recipient_class": "journalists", "categories": ["health"]}],
        restrictions=["RU"],
        retention={"health": "P5Y"},
    )
    made = doc.post(f"/api/v1/people/{person}/consents", json=body)
    assert made.status_code == 201, made.text
    record = made.json()
    un, _research, national = record["grants"]
    interview = new_interview(doc, person, checklist=checklist())
    assert patch(doc, interview, state="in_progress").status_code == 200
    narrowed = reconfirm(
        doc,
        app,
        interview["id"],
        outcome="narrowed",
        consent_id=record["id"],
        narrowed={
            "grants": [{**grant(), "id": un["id"]}, {**body["grants"][2], "id": national["id"]}],
            "refusals": body["refusals"],
            "restrictions": ["RU"],
            "retention": {"health": "P5Y"},
        },
    )
    [version_id] = narrowed["consent_ids"]
    withdrawn = doc.post(
        f"/api/v1/consents/{version_id}/withdraw",
        json={"scope": [national["id"]], "mode": "stop_future_use", "received_via": "phone"},
    )
    assert withdrawn.status_code == 201, withdrawn.text

    r = doc.get(f"/api/v1/consents/{version_id}/record")
    assert r.status_code == 200, r.text
    standard = r.json()
    jsonschema.validate(standard, SCHEMA, format_checker=jsonschema.FormatChecker())

    person_code = doc.get(f"/api/v1/people/{person}").json()["code"]
    assert standard["metadata"]["record_id"] == record["id"]
    assert standard["metadata"]["version_id"] == version_id
    assert standard["metadata"]["pii_principal_id"] == person_code
    assert standard["metadata"]["status"] == {"term": "given", "dpv": DPV + "ConsentGiven"}
    by_grant = {p["grant_id"]: p for p in standard["processing"]}
    assert set(by_grant) == {un["id"], national["id"]}  # the research grant was narrowed away
    assert by_grant[national["id"]]["status"] == {"term": "withdrawn", "dpv": DPV + "ConsentWithdrawn"}
    assert by_grant[un["id"]]["status"]["term"] == "given"
    assert by_grant[national["id"]]["recipient_third_parties"] == [
        {"recipient_class": {"term": "national_authorities", "dpv": DPV + "NationalAuthority"}, "jurisdictions": ["FR"]}
    ]
    assert by_grant[national["id"]]["pii_information"][0] == {
        "term": "identity",
        "dpv": "https://w3id.org/dpv/pd#Identifying",
    }
    assert by_grant[un["id"]]["geographic_restrictions"] == ["RU"]
    assert by_grant[un["id"]]["retention_period"] == {"alleged_perpetrators": "P10Y", "narrative_general": "P10Y"}

    events = standard["events"]
    assert [(e["event_type"], e["event_state"]["term"], e["version_id"]) for e in events] == [
        ("given", "given", record["id"]),
        ("narrowed", "given", version_id),
        ("withdrawn", "withdrawn", version_id),
    ]
    times = [datetime.fromisoformat(e["event_time"]) for e in events]
    assert times == sorted(times)
    assert events[2]["grant_ids"] == [national["id"]]
    assert {e["entity_id"] for e in events} == {person_code}
    # The first version's record still reads as it was, with the chain's events.
    first = doc.get(f"/api/v1/consents/{record['id']}/record").json()
    jsonschema.validate(first, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert len(first["processing"]) == 3
    assert [e["event_type"] for e in first["events"]] == ["given", "narrowed", "withdrawn"]


def test_an_invalidated_record_says_so_last(app: FastAPI, team: tuple[Actor, str, str]) -> None:
    doc, _case, person = team
    made = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app)).json()
    amended = doc.post(f"/api/v1/consents/{made['id']}/amend", json=use_consent(app, status="renewed")).json()
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    assert custodian.post(f"/api/v1/consents/{made['id']}/invalidate", json={"reason": "Pressure."}).status_code == 200
    standard = doc.get(f"/api/v1/consents/{amended['id']}/record").json()
    jsonschema.validate(standard, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert [(e["event_type"], e["event_state"]["term"], e["entity_id"]) for e in standard["events"]][1:] == [
        ("amended", "renewed", standard["metadata"]["pii_principal_id"]),
        ("invalidated", "invalidated", "controller"),
    ]
    assert standard["metadata"]["status"]["term"] == "invalidated"
    assert {p["status"]["term"] for p in standard["processing"]} == {"invalidated"}
    assert "Pressure" not in str(standard)
    # Documenters off the team and custodians never read it.
    assert custodian.get(f"/api/v1/consents/{made['id']}/record").status_code == 403
