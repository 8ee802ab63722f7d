"""Error bodies never echo what the client sent: not an unknown key, not a dict key, not a value."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI

from app.access.roles import Role
from app.consent.vocabulary import TeachBackQuestion
from tests.support.actors import actor, anonymous
from tests.support.consent import participation, person_in

LOGIN = "/api/v1/auth/login"
CANARY = "canary-Գրիգորյան-key-5b1e"


def _problem_without_id(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = r.json()
    assert body.pop("request_id") == r.headers["x-request-id"]
    return body


def test_a_200_kb_unknown_key_is_reported_without_the_key(app: FastAPI) -> None:
    key = "k" * (200 * 1024)
    r = anonymous(app).post(LOGIN, json={"username": "someone", "password": "twelve chars!", key: 1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert len(r.content) < 600
    assert _problem_without_id(r) == {
        "type": "https://testimony-vault.invalid/problems/invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": "The request did not match what this endpoint accepts.",
        "fields": ["body"],
        "errors": [{"field": "body", "problem": "unknown_field"}],
    }


def test_client_keys_and_values_never_appear_in_an_error_body(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    case_id = uuid.UUID(admin.post("/api/v1/cases", json={"code": "KB-1", "title": "One"}).json()["id"])
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(case_id,))
    person = person_in(doc, case_id)
    teach_back: dict[str, str] = {q.value: "pass" for q in TeachBackQuestion}
    teach_back[CANARY] = "pass"  # an invalid dict key
    teach_back[TeachBackQuestion.RISKS.value] = CANARY  # an invalid value under one of our keys
    body = participation(
        app,
        witness={"name": "Witness One", "role": "field coordinator", CANARY: CANARY},  # a nested unknown key
        teach_back=teach_back,
        age_years=CANARY,
        **{CANARY: [CANARY]},  # an unknown key at the top
    )
    r = doc.post(f"/api/v1/people/{person['id']}/participation", json=body)
    assert r.status_code == 422
    assert CANARY not in r.text
    assert "canary" not in r.text.lower()
    problem = _problem_without_id(r)
    assert problem["fields"] == ["age_years", "body", "teach_back", "teach_back.risks", "witness"]
    assert sorted(problem["errors"], key=lambda e: (e["field"], e["problem"])) == [
        {"field": "age_years", "problem": "int_parsing"},
        {"field": "body", "problem": "unknown_field"},
        {
            "field": "teach_back",
            "problem": "enum",
            "allowed": "'voluntariness', 'recording', 'courts_and_defence', 'risks', "
            "'withdrawal_limits' or 're_contact'",
        },
        {"field": "teach_back.risks", "problem": "enum", "allowed": "'pass' or 're_explained'"},
        {"field": "witness", "problem": "unknown_field"},
    ]


def test_a_thousand_unknown_keys_are_one_error(app: FastAPI) -> None:
    body: dict[str, Any] = {"username": "someone", "password": "twelve chars!"}
    body.update({f"{CANARY}-{i}": i for i in range(1000)})
    r = anonymous(app).post(LOGIN, json=body)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "body", "problem": "unknown_field"}]
    assert "canary" not in r.text
