"""Every route x every role x team member / non-member, plus anonymous.

The expected answers are written by hand; they are never computed by the policy under test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.deps import get_principal
from app.access.roles import Role
from app.audit import service as audit
from app.cases.models import Case
from app.db import new_id, unit_of_work
from app.main import PUBLIC_PATHS
from tests.support.actors import PASSWORD, Actor, anonymous, code, login, make_user
from tests.support.consent import identity, person_in
from tests.support.consent import participation as consent_body
from tests.support.routes import ApiRoute, api_routes, protected_routes

ACTORS = ["anon", "doc_in", "doc_out", "legal_in", "legal_out", "custodian", "auditor", "admin"]


@dataclass
class World:
    actors: dict[str, Actor]
    case_id: uuid.UUID
    target_id: uuid.UUID
    admin_token_id: str
    confirmation_id: str
    person_id: str
    review_id: str


Body = Callable[[World, str], dict[str, Any] | None]


def _none(_w: World, _who: str) -> None:
    return None


def _fixed(body: dict[str, Any]) -> Body:
    return lambda _w, _who: body


def _step_up(w: World, who: str) -> dict[str, Any]:
    secret = w.actors[who].totp_secret if who != "anon" else None
    return {"totp": code(secret, _APP[0], steps=1) if secret else "000000"}


_APP: list[FastAPI] = []


def _allow(ok: int, who: set[str], other: int = 403) -> dict[str, int]:
    return {a: 401 if a == "anon" else (ok if a in who else other) for a in ACTORS}


EVERYONE = set(ACTORS) - {"anon"}
ADMIN = {"admin"}
AUDITOR = {"auditor"}
CUSTODIAN = {"custodian"}
DOC_IN = {"doc_in"}

# (method, path template) -> (body, expected status per actor)
MATRIX: dict[tuple[str, str], tuple[Body, dict[str, int]]] = {
    ("GET", "/api/v1/me"): (_none, _allow(200, EVERYONE)),
    ("POST", "/api/v1/auth/logout"): (_none, _allow(204, EVERYONE)),
    ("POST", "/api/v1/auth/step-up"): (
        _step_up,
        _allow(200, EVERYONE),
    ),
    ("POST", "/api/v1/me/password"): (
        _fixed({"current_password": PASSWORD, "new_password": "another long passphrase 7"}),
        _allow(200, EVERYONE),
    ),
    ("POST", "/api/v1/me/totp"): (_none, _allow(409, EVERYONE)),
    ("POST", "/api/v1/me/totp/confirm"): (_fixed({"code": "123456"}), _allow(409, EVERYONE)),
    ("POST", "/api/v1/auth/tokens"): (_fixed({"name": "matrix"}), _allow(201, EVERYONE)),
    ("GET", "/api/v1/auth/tokens"): (_none, _allow(200, EVERYONE)),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): (_none, _allow(204, ADMIN, other=404)),
    ("GET", "/api/v1/users"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/users"): (
        _fixed({"username": "fresh", "display_name": "F", "roles": []}),
        _allow(202, ADMIN),
    ),
    ("PATCH", "/api/v1/users/{user_id}"): (_fixed({"display_name": "Renamed"}), _allow(200, ADMIN)),
    ("POST", "/api/v1/users/{user_id}/revoke-sessions"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/users/{user_id}/reset-2fa"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/users/{user_id}/reset-password"): (_none, _allow(202, ADMIN)),
    ("GET", "/api/v1/confirmations"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/confirmations/{confirmation_id}"): (_fixed({"decision": "confirm"}), _allow(200, ADMIN)),
    ("POST", "/api/v1/cases"): (_fixed({"code": "NEW-1", "title": "t"}), _allow(201, ADMIN)),
    ("GET", "/api/v1/cases"): (_none, _allow(200, EVERYONE - {"auditor"})),
    ("GET", "/api/v1/cases/{case_id}"): (
        _none,
        {
            "anon": 401,
            "doc_in": 200,
            "doc_out": 404,
            "legal_in": 200,
            "legal_out": 404,
            "custodian": 200,
            "auditor": 403,
            "admin": 200,
        },
    ),
    ("GET", "/api/v1/cases/{case_id}/members"): (_none, _allow(200, ADMIN)),
    ("POST", "/api/v1/cases/{case_id}/members"): (
        lambda w, _who: {"user_id": str(w.target_id)},
        _allow(202, ADMIN),
    ),
    ("DELETE", "/api/v1/cases/{case_id}/members/{user_id}"): (_none, _allow(204, ADMIN)),
    ("GET", "/api/v1/audit/events"): (_none, _allow(200, AUDITOR)),
    ("GET", "/api/v1/audit/checkpoints"): (_none, _allow(200, AUDITOR)),
    ("GET", "/api/v1/audit/checkpoints/latest"): (_none, _allow(200, AUDITOR)),
    ("GET", "/api/v1/audit/proofs/inclusion"): (_none, _allow(200, AUDITOR)),
    ("GET", "/api/v1/audit/proofs/consistency"): (_none, _allow(200, AUDITOR)),
    ("GET", "/api/v1/audit/public-key"): (_none, _allow(200, AUDITOR)),
    ("POST", "/api/v1/cases/{case_id}/people"): (_none, {**_allow(201, DOC_IN), "doc_out": 404}),
    ("GET", "/api/v1/cases/{case_id}/people"): (_none, {**_allow(200, DOC_IN), "doc_out": 404}),
    ("GET", "/api/v1/people/{person_id}"): (_none, {**_allow(200, DOC_IN), "doc_out": 404}),
    ("PATCH", "/api/v1/people/{person_id}"): (
        _fixed({"identity": {"full_name": "Anahit Sargsyan", "date_of_birth": "1981-02-03"}}),
        {**_allow(200, DOC_IN), "doc_out": 404},
    ),
    ("POST", "/api/v1/people/{person_id}/participation"): (
        lambda _w, _who: consent_body(_APP[0]),
        {**_allow(201, DOC_IN), "doc_out": 404},
    ),
    ("GET", "/api/v1/people/{person_id}/participation"): (_none, {**_allow(200, DOC_IN), "doc_out": 404}),
    ("GET", "/api/v1/consent-forms"): (_none, _allow(200, EVERYONE)),
    ("GET", "/api/v1/consent-forms/{form_id}/{version}"): (_none, _allow(200, EVERYONE)),
    ("GET", "/api/v1/consent-forms/{form_id}/{version}/{language}"): (_none, _allow(200, EVERYONE)),
    ("GET", "/api/v1/duplicate-reviews"): (_none, _allow(200, CUSTODIAN)),
    ("POST", "/api/v1/duplicate-reviews/{review_id}"): (
        _fixed({"decision": "not_duplicate"}),
        _allow(200, CUSTODIAN),
    ),
}

QUERY = {
    "/api/v1/audit/proofs/inclusion": "?index=0&tree_size=2",
    "/api/v1/audit/proofs/consistency": "?first=1&second=2",
}


def _depends_on_principal(route: ApiRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is get_principal:
            return True
        stack.extend(dep.dependencies)
    return False


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    assert {(r.method, r.path) for r in protected_routes(app)} == set(MATRIX)


def test_every_non_public_route_requires_a_principal(app: FastAPI) -> None:
    routes = protected_routes(app)
    assert len(routes) >= len(MATRIX)
    for route in routes:
        assert _depends_on_principal(route), route.path
    public = {r.path for r in api_routes(app)} - {r.path for r in routes}
    assert public == {"/api/v1/health", "/api/v1/auth/login", "/api/docs"}
    assert public <= PUBLIC_PATHS


def _world(app: FastAPI) -> World:
    with unit_of_work(app.state.sessionmaker) as s:
        case = Case(id=new_id(), code="KC-1", title="Matrix case", created_at=_now())
        s.add(case)
        case_id = case.id
    specs = {
        "doc_in": ([Role.DOCUMENTER], True, (case_id,)),
        "doc_out": ([Role.DOCUMENTER], True, ()),
        "legal_in": ([Role.LEGAL], True, (case_id,)),
        "legal_out": ([Role.LEGAL], True, ()),
        "custodian": ([Role.CUSTODIAN], True, ()),
        "auditor": ([Role.AUDITOR], True, ()),
        "admin": ([Role.ADMIN], True, ()),
        "admin2": ([Role.ADMIN], True, ()),
        "enrolling": ([Role.DOCUMENTER], False, ()),  # logged in, second factor not enrolled yet
    }
    actors = {}
    for name, (roles, with_totp, cases) in specs.items():
        _, secret = make_user(app, name.replace("_", "-"), roles, with_totp=with_totp, cases=cases)
        actors[name] = login(app, name.replace("_", "-"), secret)
    target_id, _ = make_user(app, "target", [Role.DOCUMENTER])
    admin_token = actors["admin"].post("/api/v1/auth/tokens", json={"name": "owned"}).json()["id"]
    pending = actors["admin2"].request("PATCH", f"/api/v1/users/{target_id}", json={"roles": ["legal"]})
    assert pending.status_code == 202, pending.text
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.make_checkpoint(s, app.state.keys.current.signer, "matrix/audit") is not None
    documenter = actors["doc_in"]
    people = [person_in(documenter, case_id)["id"] for _ in range(2)]
    for person in people:
        assert documenter.post(f"/api/v1/people/{person}/participation", json=consent_body(app)).status_code == 201
        assert documenter.request("PATCH", f"/api/v1/people/{person}", json=identity()).status_code == 200
    reviews = actors["custodian"].get("/api/v1/duplicate-reviews").json()
    assert len(reviews) == 1, reviews
    [review] = reviews
    return World(
        actors, case_id, target_id, admin_token, pending.json()["pending_confirmation"]["id"], people[0], review["id"]
    )


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _path(template: str, w: World) -> str:
    path = template.format(
        case_id=w.case_id,
        user_id=w.actors["doc_in"].user_id if "members" in template else w.target_id,
        token_id=w.admin_token_id,
        confirmation_id=w.confirmation_id,
        person_id=w.person_id,
        review_id=w.review_id,
        form_id="standard",
        version="v1",
        language="hy",
    )
    return path + QUERY.get(template, "")


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX), ids=lambda v: str(v))
def test_matrix(app: FastAPI, method: str, template: str) -> None:
    _APP[:] = [app]
    body, expected = MATRIX[(method, template)]
    # Only admins succeed at state-changing routes, and each actor's own changes (logout,
    # password, tokens) touch nobody else, so one world serves every actor in turn.
    world = _world(app)
    got = {}
    for who in ACTORS:
        path = _path(template, world)
        payload = body(world, who)
        if who == "anon":
            r = anonymous(app).request(method, path, json=payload)
        else:
            r = world.actors[who].request(method, path, json=payload)
        got[who] = r.status_code
    assert got == expected
