"""The narrowed reconfirmation raced on PostgreSQL through a real server: the same narrowing posted from
four tabs at once makes one new version of the record; the others find it superseded (409) and record
nothing."""

from __future__ import annotations

from collections.abc import Callable

import httpx2 as httpx
from fastapi import FastAPI

from app.access.principal import Principal
from app.access.roles import Role
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.core.db import unit_of_work
from tests.access.test_concurrency import _browser, _same_session, served
from tests.support.actors import login, make_user
from tests.support.consent import record_use_consent
from tests.support.interviews import checklist, consenting_person, new_interview
from tests.support.server import at_once

__all__ = ["served"]  # the PostgreSQL-only server fixture, shared with tests/access/test_concurrency.py


def test_one_narrowing_posted_from_four_tabs_at_once_makes_one_version(served: tuple[FastAPI, str]) -> None:
    app, url = served
    with unit_of_work(app.state.sessionmaker) as s:
        case = create_case(s, Principal.system("test"), CaseCreate(code="RN-1", title="Race"))
    _, setup_secret = make_user(app, "doc-setup", [Role.DOCUMENTER], cases=(case.id,))
    _, secret = make_user(app, "doc-web", [Role.DOCUMENTER], cases=(case.id,))
    assert secret is not None
    api = login(app, "doc-setup", setup_secret)
    person = consenting_person(api, case.id, app)
    record = record_use_consent(api, person, app)
    interview = new_interview(api, person, checklist=checklist())
    started = {"revision": interview["revision"], "state": "in_progress"}
    assert api.request("PATCH", f"/api/v1/interviews/{interview['id']}", json=started).status_code == 200

    first = _browser(url, "doc-web", secret, app, "10.0.21.1")
    tabs = [first, _same_session(first, url)]
    (only,) = record["grants"]
    prefix = f"n{only['id'].replace('-', '')}_"
    fields = {
        "csrf_token": first.headers["x-csrf-token"],
        "outcome": "narrowed",
        "consent_id": record["id"],
        f"{prefix}categories": "narrative_general",
        f"{prefix}level": "deidentified",
    }
    path = f"/interviews/{interview['id']}/reconfirm"

    def post(tab: httpx.Client) -> Callable[[], httpx.Response]:
        return lambda: tab.post(path, data=fields)

    answers = at_once([post(tab) for tab in tabs for _ in range(2)])
    assert sorted(r.status_code for r in answers) == [303, 409, 409, 409], [r.text[:200] for r in answers]
    versions = api.get(f"/api/v1/people/{person}/consents").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["grants"][0]["disclosure_level"] == "deidentified"
    # Completing reads the one reconfirmation recorded: the new version.
    revision = api.get(f"/api/v1/interviews/{interview['id']}").json()["revision"]
    done = api.request(
        "PATCH", f"/api/v1/interviews/{interview['id']}", json={"revision": revision, "state": "completed"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["reconfirmation"]["consent_ids"] == [versions[1]["id"]]
