"""A property of built bundles, through the real app and worker: for any people with any grants of a few
categories at a few levels, some of them withdrawn, the bundle holds exactly the records a small reference
model written here predicts (each person's one level and categories), each record shows a field exactly when
its category went, and no internal id appears anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.built import UUID, internal_ids, unpack
from tests.support.consent import grant
from tests.support.exports import Desk, desk
from tests.support.interviews import INCIDENT, checklist, new_interview, patch

CATEGORIES = ("narrative_general", "narrative_sexual_violence", "alleged_perpetrators")
LEVELS = ("pseudonymous", "named_protected")
"""Most protective first."""
TEXT = "We were held in the school for nine days."
WITHDRAW = {"scope": "all", "mode": "stop_future_use", "received_via": "phone"}

Person = tuple[dict[str, str], bool]
"""The level granted per category (none: not granted), and whether everything was withdrawn."""

people_strategy = st.lists(
    st.tuples(st.dictionaries(st.sampled_from(CATEGORIES), st.sampled_from(LEVELS), max_size=3), st.booleans()),
    min_size=1,
    max_size=3,
)


def model(people: list[Person], maximum: str) -> list[tuple[str, tuple[str, ...]]]:
    """The reference: per person kept, their level (the most protective of each granted category's level
    capped by the maximum) and every granted category (each is allowed at any level up to its grant's)."""
    expected = []
    for granted, withdrawn in people:
        if withdrawn or not granted:
            continue
        capped = [min(LEVELS.index(level), LEVELS.index(maximum)) for level in granted.values()]
        expected.append((LEVELS[min(capped)], tuple(sorted(granted))))
    return sorted(expected)


def _person(d: Desk, granted: dict[str, str], withdrawn: bool) -> str:
    person = d.person(*[grant(categories=[c], disclosure_level=level) for c, level in granted.items()])
    interview = new_interview(d.doc, person, checklist=checklist())
    iid = patch(d.doc, interview, state="in_progress").json()["id"]
    assert (
        d.doc.request("PUT", f"/api/v1/interviews/{iid}/draft", json={"text": TEXT, "answers": []}).status_code == 200
    )
    body = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    assert d.doc.post(f"/api/v1/interviews/{iid}/statements", json=body).status_code == 201
    assert d.doc.post(f"/api/v1/interviews/{iid}/incidents", json=INCIDENT).status_code == 201
    if withdrawn and granted:
        consent = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"][0]["id"]
        assert d.doc.post(f"/api/v1/consents/{consent}/withdraw", json=WITHDRAW).status_code == 201
    return person


def _shows(record: dict[str, Any]) -> set[str]:
    """The categories a record shows fields of, read from the fields themselves."""
    shown = set()
    for interview in record.get("interviews", []):
        if "text" in interview.get("statement", {}):
            shown.add("narrative_sexual_violence")
        for incident in interview.get("incidents", []):
            if "place" in incident:
                shown.add("narrative_general")
            if "violation_types" in incident:
                shown.add("narrative_sexual_violence")
            if "perpetrators" in incident:
                shown.add("alleged_perpetrators")
    return shown


def test_a_bundle_holds_what_the_reference_model_predicts(app: FastAPI, tmp_path: Path) -> None:
    d = desk(app)
    built = [0]

    @settings(deadline=None, max_examples=6, suppress_health_check=[HealthCheck.too_slow])
    @given(people=people_strategy, maximum=st.sampled_from(LEVELS))
    def check(people: list[Person], maximum: str) -> None:
        ids = [_person(d, granted, withdrawn) for granted, withdrawn in people]
        made = d.request(categories=list(CATEGORIES), max_disclosure_level=maximum, filters={"people": ids})
        assert d.approve(made["id"]).status_code == 200
        assert d.worker().run_once() is True
        built[0] += 1
        bundle = unpack(app, made["id"], tmp_path / f"b{built[0]}")
        records = [json.loads(line) for line in bundle.files["records.jsonl"].decode().splitlines()]
        redactions = json.loads(bundle.files["redactions.json"])
        found = sorted((r["level"], tuple(redactions[r["record"]]["categories"])) for r in records)
        assert found == model(people, maximum)
        for record in records:
            assert _shows(record) == set(redactions[record["record"]]["categories"])
            assert ("pseudonym" in record) == (record["level"] == "pseudonymous")
        for name, data in bundle.files.items():
            assert not UUID.search(data), name
        text = bundle.text().lower()
        assert not [value for value in internal_ids(app.state.sessionmaker) if value.replace("-", "") in text]

    check()
