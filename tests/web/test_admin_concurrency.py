"""The admin pages' two-person steps raced on PostgreSQL through a real server: admins posting the same
decision at once apply it once (and one page alone shows the second half), and two admins asking for the
same member at once leave one request waiting."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx2 as httpx
from fastapi import FastAPI

from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.access.test_concurrency import admin_browsers, served
from tests.support.actors import make_user
from tests.support.server import at_once

__all__ = ["served"]  # the PostgreSQL-only server fixture, shared with tests/access/test_concurrency.py


def _form(client: httpx.Client, path: str, fields: dict[str, str]) -> Callable[[], httpx.Response]:
    """A page form posted as a browser posts it: the session's token in its hidden field."""
    return lambda: client.post(path, data={"csrf_token": client.headers["x-csrf-token"], **fields})


def test_admins_deciding_at_once_on_the_page_apply_it_once(served: tuple[FastAPI, str]) -> None:
    app, url = served
    admins = admin_browsers(app, url, 3, "10.0.9")
    made = admins[0].post("/api/v1/users", json={"username": "newcomer", "display_name": "N", "roles": ["legal"]})
    asked = made.json()["pending_confirmation"]["id"]
    path = f"/admin/confirmations/{asked}"
    answers = at_once([_form(a, path, {"decision": "confirm"}) for a in admins[1:] for _ in range(2)])
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    assert sum(bool(re.search(r'id="second-half">[a-z0-9]{12}<', r.text)) for r in answers) == 1
    assert all("this request is confirmed" in r.text for r in answers if r.status_code == 409)


def test_two_admins_asking_for_the_same_member_at_once_leave_one_request(served: tuple[FastAPI, str]) -> None:
    app, url = served
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="RC-1", title="Race"))
    member, _ = make_user(app, "joiner", [Role.DOCUMENTER])
    admins = admin_browsers(app, url, 2, "10.0.10")
    path = f"/admin/cases/{case.id}/members"
    answers = at_once([_form(a, path, {"user_id": str(member)}) for a in admins for _ in range(2)])
    assert sorted(r.status_code for r in answers) == [303, 409, 409, 409]
    waiting = admins[0].get("/api/v1/confirmations", params={"status": "pending"}).json()["items"]
    assert [c["action"] for c in waiting] == ["case.add_member"]
