"""The matrix world's legal hold and erasure waiting for a second custodian, asked by a custodian of their own."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from app.access.roles import Role
from tests.support.actors import Actor, login, make_user
from tests.support.consent import person_in

WORLD_REASON = "The Commission's investigators asked that these records be kept."


def second_custodian(app: FastAPI, name: str = "custodian2") -> Actor:
    _, secret = make_user(app, name, [Role.CUSTODIAN])
    return login(app, name, secret)


def waiting_for_a_second_custodian(app: FastAPI, documenter: Actor, case_id: uuid.UUID) -> tuple[str, str]:
    """(erasure id, legal hold id): each of a new person of the case, asked for by another custodian, so the
    world's custodian decides them."""
    other = second_custodian(app)
    erased, held = person_in(documenter, case_id)["id"], person_in(documenter, case_id)["id"]
    erasure = other.post(f"/api/v1/people/{erased}/erase", json={"reason": WORLD_REASON})
    assert erasure.status_code == 202, erasure.text
    hold = other.post(
        f"/api/v1/people/{held}/legal-hold", json={"reason": WORLD_REASON, "proceedings_reference": "CoI-2026/17"}
    )
    assert hold.status_code == 202, hold.text
    return erasure.json()["id"], hold.json()["id"]
