"""Every "check, then write" holds when the requests arrive at once.

Real concurrent requests to a real uvicorn server on PostgreSQL, each on its own connection,
released together by a barrier. On SQLite these are skipped: every transaction there starts
with BEGIN IMMEDIATE and holds the write lock, so the interleavings cannot happen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access import totp
from app.access.models import BrowserSession, RecoveryCode
from app.access.roles import Role
from app.consent.models import ParticipationConsent
from app.core.config import Settings
from app.core.db import new_id, unit_of_work
from app.keys.store import Keys
from app.main import create_app
from tests.support.actors import PASSWORD, code, make_user, shift_clock
from tests.support.consent import identity, participation
from tests.support.database import ProvisionedDatabase
from tests.support.server import at_once, serve

LOGIN = "/api/v1/auth/login"
RECOVERY = "ABCD-EFGH-JKLM-NPQR"


@pytest.fixture
def served(settings: Settings, keys: Keys, database: ProvisionedDatabase) -> Iterator[tuple[FastAPI, str]]:
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    # The loopback peer is a trusted proxy, so each request can come from an address of its own.
    app = create_app(settings.model_copy(update={"trusted_proxies": ["127.0.0.1/32"]}), keys)
    with serve(app) as url:
        yield app, url
        for client in _CLIENTS:
            client.close()
        _CLIENTS.clear()
    app.state.engine.dispose()


_CLIENTS: list[httpx.Client] = []


def _client(url: str, address: str, **kwargs: Any) -> httpx.Client:
    client = httpx.Client(base_url=url, headers={"x-forwarded-for": address}, timeout=60, **kwargs)
    _CLIENTS.append(client)
    return client


def _browser(url: str, username: str, secret: str, app: FastAPI, address: str) -> httpx.Client:
    """A logged-in browser session (cookie and CSRF header) on the real server."""
    client = _client(url, address)
    r = client.post(LOGIN, json={"username": username, "password": PASSWORD, "totp": code(secret, app)})
    assert r.status_code == 200, r.text
    client.headers["x-csrf-token"] = r.json()["user"]["csrf_token"]
    return client


def admin_browsers(app: FastAPI, url: str, count: int, network: str) -> list[httpx.Client]:
    """Admins ``admin-0``, ``admin-1``... logged in on the real server, each from an address of its own."""
    admins = []
    for i in range(count):
        _, secret = make_user(app, f"admin-{i}", [Role.ADMIN])
        assert secret is not None
        admins.append(_browser(url, f"admin-{i}", secret, app, f"{network}.{i}"))
    return admins


def _same_session(browser: httpx.Client, url: str) -> httpx.Client:
    """Another connection presenting the same session, as a second tab would."""
    client = _client(url, browser.headers["x-forwarded-for"], cookies=browser.cookies)
    client.headers["x-csrf-token"] = browser.headers["x-csrf-token"]
    return client


def _get(client: httpx.Client, path: str) -> Callable[[], httpx.Response]:
    return lambda: client.get(path)


def _post(client: httpx.Client, path: str, body: dict[str, Any] | None = None) -> Callable[[], httpx.Response]:
    return lambda: client.post(path, json=body)


def test_one_totp_code_sent_ten_times_at_once_is_accepted_once(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _, secret = make_user(app, "ada", [Role.ADMIN])
    assert secret is not None
    browser = _browser(url, "ada", secret, app, "10.0.1.1")
    shared = code(secret, app, steps=1)  # the next time step: not spent by the login above
    calls = [
        _post(_client(url, f"10.0.0.{i}"), LOGIN, {"username": "ada", "password": PASSWORD, "totp": shared})
        for i in range(5)
    ] + [_post(_same_session(browser, url), "/api/v1/auth/step-up", {"totp": shared}) for _ in range(5)]
    answers = at_once(calls)
    assert sorted(r.status_code for r in answers).count(200) == 1, [r.status_code for r in answers]
    assert {r.status_code for r in answers} <= {200, 401, 403}


def test_one_recovery_code_sent_ten_times_at_once_is_accepted_once(served: tuple[FastAPI, str]) -> None:
    app, url = served
    user_id, secret = make_user(app, "rob", [Role.CUSTODIAN])
    assert secret is not None
    with unit_of_work(app.state.sessionmaker) as s:
        s.add(RecoveryCode(id=new_id(), user_id=user_id, code_hash=totp.recovery_hash(RECOVERY)))
    browser = _browser(url, "rob", secret, app, "10.0.2.1")
    calls = [
        _post(_client(url, f"10.0.3.{i}"), LOGIN, {"username": "rob", "password": PASSWORD, "recovery_code": RECOVERY})
        for i in range(5)
    ] + [_post(_same_session(browser, url), "/api/v1/auth/step-up", {"recovery_code": RECOVERY}) for _ in range(5)]
    answers = at_once(calls)
    assert [r.status_code for r in answers].count(200) == 1, [r.status_code for r in answers]
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.query(RecoveryCode).filter(RecoveryCode.user_id == user_id).one()
        assert row.used_at is not None


def test_twenty_wrong_passwords_at_once_meet_the_limit_of_five(served: tuple[FastAPI, str]) -> None:
    app, url = served
    make_user(app, "cleo", [Role.CUSTODIAN])
    client_of = [_client(url, "10.0.4.1") for _ in range(20)]
    answers = at_once(
        [_post(c, LOGIN, {"username": "cleo", "password": f"wrong guess number {i}"}) for i, c in enumerate(client_of)]
    )
    statuses = [r.status_code for r in answers]
    # No more than the limit are checked. Each attempt is counted before its check, so one that
    # counts late may also see attempts that arrived after it: a few more may be refused than
    # strictly needed, never fewer.
    assert set(statuses) == {401, 429}
    assert 1 <= statuses.count(401) <= 5
    assert all("retry-after" in r.headers for r in answers if r.status_code == 429)


def test_a_unique_value_taken_at_once_is_one_201_and_409s_naming_the_field(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _, secret = make_user(app, "adm", [Role.ADMIN])
    assert secret is not None
    admin = _browser(url, "adm", secret, app, "10.0.5.1")
    cases = at_once([_post(admin, "/api/v1/cases", {"code": "KR-1", "title": "race"}) for _ in range(8)])
    assert sorted(r.status_code for r in cases) == [201] + [409] * 7
    assert all(r.json()["fields"] == ["code"] for r in cases if r.status_code == 409)
    users = at_once(
        [_post(admin, "/api/v1/users", {"username": "twin", "display_name": "T", "roles": []}) for _ in range(6)]
    )
    assert sorted(r.status_code for r in users) == [202] + [409] * 5
    assert all(r.json()["fields"] == ["username"] for r in users if r.status_code == 409)
    assert all(r.headers["content-type"] == "application/problem+json" for r in cases + users if r.status_code == 409)


def test_participation_versions_recorded_at_once_stay_gapless(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _, admin_secret = make_user(app, "adm", [Role.ADMIN])
    assert admin_secret is not None
    case = _browser(url, "adm", admin_secret, app, "10.0.6.1").post(
        "/api/v1/cases", json={"code": "KV-1", "title": "v"}
    )
    case_id = uuid.UUID(case.json()["id"])
    _, secret = make_user(app, "doc", [Role.DOCUMENTER], cases=(case_id,))
    assert secret is not None
    doc = _browser(url, "doc", secret, app, "10.0.6.2")
    person = doc.post(f"/api/v1/cases/{case_id}/people").json()["id"]
    answers = at_once([_post(doc, f"/api/v1/people/{person}/participation", participation(app)) for _ in range(6)])
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {201, 409}, statuses
    assert all(r.json()["fields"] == ["version"] for r in answers if r.status_code == 409)
    with unit_of_work(app.state.sessionmaker) as s:
        versions = sorted(
            s.scalars(
                ParticipationConsent.__table__.select()
                .with_only_columns(ParticipationConsent.version)
                .where(ParticipationConsent.person_id == uuid.UUID(person))
            )
        )
    assert versions == list(range(1, statuses.count(201) + 1))
    assert doc.patch(f"/api/v1/people/{person}", json=identity()).status_code == 200


def test_two_admins_confirming_at_once_apply_it_once_and_one_sees_the_half(served: tuple[FastAPI, str]) -> None:
    app, url = served
    admins = admin_browsers(app, url, 3, "10.0.7")
    made = admins[0].post("/api/v1/users", json={"username": "newcomer", "display_name": "N", "roles": ["legal"]})
    asked = made.json()["pending_confirmation"]["id"]
    answers = at_once(
        [_post(a, f"/api/v1/confirmations/{asked}", {"decision": "confirm"}) for a in admins[1:] for _ in range(2)]
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    halves = [r.json()["one_time_password_half"] for r in answers if r.status_code == 200]
    assert len(halves) == 1
    assert halves[0]


def test_requests_in_flight_when_their_session_ends_get_401_not_500(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _, secret = make_user(app, "leaving", [Role.CUSTODIAN])
    assert secret is not None
    browser = _browser(url, "leaving", secret, app, "10.0.8.1")
    calls = [_post(_same_session(browser, url), "/api/v1/auth/logout")] + [
        (lambda c: lambda: c.get("/api/v1/me"))(_same_session(browser, url)) for _ in range(15)
    ]
    answers = at_once(calls)
    assert {r.status_code for r in answers} <= {200, 204, 401}, [r.status_code for r in answers]
    assert browser.get("/api/v1/me").status_code == 401


def test_one_split_password_waits_per_account_even_when_asked_twice_at_once(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _, secret = make_user(app, "adm", [Role.ADMIN])
    assert secret is not None
    target, _ = make_user(app, "target", [Role.LEGAL])
    first = _browser(url, "adm", secret, app, "10.0.9.1")
    app_clock_step = code(secret, app, steps=1)
    second = _client(url, "10.0.9.2")
    r = second.post(LOGIN, json={"username": "adm", "password": PASSWORD, "totp": app_clock_step})
    assert r.status_code == 200, r.text
    second.headers["x-csrf-token"] = r.json()["user"]["csrf_token"]
    answers = at_once([_post(c, f"/api/v1/users/{target}/reset-password") for c in (first, second)])
    assert sorted(r.status_code for r in answers) == [202, 409]


def test_many_logins_from_one_address_at_once_are_answered_and_each_recorded(served: tuple[FastAPI, str]) -> None:
    app, url = served
    before = _audit_count(app)
    answers = at_once(
        [
            _post(_client(url, "10.0.10.1"), LOGIN, {"username": f"nobody-{i}", "password": "wrong guess here"})
            for i in range(30)
        ]
    )
    assert sorted({r.status_code for r in answers}) == [401]  # 30 of a budget of 50: all checked, none refused
    assert _audit_count(app) - before == 30


def _audit_count(app: FastAPI) -> int:
    from sqlalchemy import func, select

    from app.audit.models import AuditEvent

    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _named_people(app: FastAPI, url: str, names: list[str], net: str) -> list[str]:
    """People with these names, in a fresh case; their pseudonym codes."""
    _, admin_secret = make_user(app, "adm", [Role.ADMIN])
    assert admin_secret is not None
    admin = _browser(url, "adm", admin_secret, app, f"{net}.1")
    case_id = uuid.UUID(admin.post("/api/v1/cases", json={"code": "KD-1", "title": "d"}).json()["id"])
    _, secret = make_user(app, "doc", [Role.DOCUMENTER], cases=(case_id,))
    assert secret is not None
    doc = _browser(url, "doc", secret, app, f"{net}.2")
    codes = []
    for name in names:
        person = doc.post(f"/api/v1/cases/{case_id}/people").json()
        assert doc.post(f"/api/v1/people/{person['id']}/participation", json=participation(app)).status_code == 201
        assert doc.patch(f"/api/v1/people/{person['id']}", json=identity(name)).status_code == 200
        codes.append(person["code"])
    return codes


def _custodian(app: FastAPI, url: str, name: str, address: str) -> httpx.Client:
    _, secret = make_user(app, name, [Role.CUSTODIAN])
    assert secret is not None
    return _browser(url, name, secret, app, address)


def _reviews(custodian: httpx.Client) -> list[dict[str, Any]]:
    reviews: list[dict[str, Any]] = custodian.get("/api/v1/duplicate-reviews").json()["reviews"]
    return reviews


def test_duplicate_decisions_at_once_link_the_three_and_close_the_third_review(served: tuple[FastAPI, str]) -> None:
    app, url = served
    a, b, c = _named_people(app, url, ["Ашот Григорян", "Գրիգորյան Աշոտ", "Ashot Grigoryan"], "10.0.8")
    custodians = [_custodian(app, url, f"cus{i}", f"10.0.8.{10 + i}") for i in range(2)]
    reviews = {frozenset((r["person_a"]["code"], r["person_b"]["code"])): r["id"] for r in _reviews(custodians[0])}
    ab, bc, ac = (reviews[frozenset(pair)] for pair in ((a, b), (b, c), (a, c)))
    answers = at_once(
        [
            _post(custodians[0], f"/api/v1/duplicate-reviews/{ab}", {"decision": "duplicate"}),
            _post(custodians[1], f"/api/v1/duplicate-reviews/{bc}", {"decision": "duplicate"}),
        ]
    )
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    listed = {r["id"]: r for r in _reviews(custodians[0])}
    assert (listed[ac]["status"], listed[ac]["inferred"]) == ("duplicate", True)
    assert {d["review_id"] for d in listed[ac]["linked_by"]} == {ab, bc}


def test_one_duplicate_review_decided_six_times_at_once_is_decided_once(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _named_people(app, url, ["Анаит Петросян", "Anahit Petrosyan"], "10.0.9")
    cus = _custodian(app, url, "cus", "10.0.9.3")
    [review] = _reviews(cus)
    decisions = ["duplicate", "not_duplicate"] * 3
    path = f"/api/v1/duplicate-reviews/{review['id']}"
    answers = at_once([_post(_same_session(cus, url), path, {"decision": d}) for d in decisions])
    statuses = [r.status_code for r in answers]
    assert sorted(statuses) == [200] + [409] * 5, statuses
    [won] = [decisions[i] for i, s in enumerate(statuses) if s == 200]
    assert _reviews(cus)[0]["status"] == won


def test_a_session_renewed_while_every_session_is_ended_does_not_survive(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _, admin_secret = make_user(app, "adm", [Role.ADMIN])
    victim_id, secret = make_user(app, "victim", [Role.CUSTODIAN])
    assert admin_secret is not None
    assert secret is not None
    admin = _browser(url, "adm", admin_secret, app, "10.0.11.1")
    for trial in range(4):
        victim = _browser(url, "victim", secret, app, f"10.0.11.{10 + trial}")
        code_now = code(secret, app, steps=1)
        at_once(
            [
                _post(victim, "/api/v1/auth/step-up", {"totp": code_now}),
                _post(admin, f"/api/v1/users/{victim_id}/revoke-sessions"),
            ]
        )
        # Whichever came first, no session of the victim is left working.
        assert victim.get("/api/v1/me").status_code == 401, trial
        shift_clock(app, timedelta(seconds=61))  # fresh TOTP steps for the next trial


def test_many_requests_on_one_session_do_not_queue_on_its_row(served: tuple[FastAPI, str]) -> None:
    app, url = served
    _, secret = make_user(app, "busy", [Role.AUDITOR])
    assert secret is not None
    browser = _browser(url, "busy", secret, app, "10.0.12.1")
    clients = [_same_session(browser, url) for _ in range(30)]
    answers = at_once([_get(c, "/api/v1/me") for c in clients])
    assert [r.status_code for r in answers] == [200] * 30
    with unit_of_work(app.state.sessionmaker) as s:
        [(created, seen)] = s.execute(select(BrowserSession.created_at, BrowserSession.last_seen_at)).all()
    assert seen == created  # within the minute none of them wrote the session row, so none waited on it
