"""Real users, logged in through the real login endpoint."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.access import totp
from app.access.models import CaseMember, User
from app.access.principal import Principal
from app.access.roles import Role
from app.accounts.schemas import UserCreate
from app.accounts.service import create_user
from app.core.db import CLOCK_OFFSET, db_now, unit_of_work
from app.crypto import aead
from app.keys import service as keys_service
from app.runtime import Runtime

PASSWORD = "a long test passphrase 42"


@dataclass
class Actor:
    """A user with their own browser (cookie jar) on the app."""

    user_id: uuid.UUID
    username: str
    totp_secret: str | None
    client: TestClient
    csrf: str | None = None
    bearer: str | None = None

    def headers(self) -> dict[str, str]:
        if self.bearer:
            return {"authorization": f"Bearer {self.bearer}"}
        return {"x-csrf-token": self.csrf} if self.csrf else {}

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)


def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


def now(app: FastAPI) -> datetime:
    with unit_of_work(app.state.sessionmaker) as s:
        return db_now(s)


def shift_clock(app: FastAPI, by: timedelta) -> None:
    """Move the database clock every service reads, as seen by this app."""
    maker = app.state.sessionmaker
    current: timedelta = maker.kw.get("info", {}).get(CLOCK_OFFSET, timedelta(0))
    maker.configure(info={CLOCK_OFFSET: current + by})


def code(secret: str, app: FastAPI, steps: int = 0) -> str:
    return totp.code_at(secret, now(app) + timedelta(seconds=totp.STEP_SECONDS * steps))


def make_user(
    app: FastAPI,
    username: str,
    roles: list[Role],
    *,
    with_totp: bool = True,
    cases: tuple[uuid.UUID, ...] = (),
    display_name: str | None = None,
) -> tuple[uuid.UUID, str | None]:
    """Create an account through the service (as the CLI does), with a known password and 2FA."""
    rt = runtime(app)
    with unit_of_work(app.state.sessionmaker) as s:
        data = UserCreate(username=username, display_name=display_name or username, roles=roles)
        change = create_user(s, rt, Principal.system("test"), data)
        user = s.get(User, change.user.id)
        assert user is not None
        user.password_hash = rt.passwords.hash(PASSWORD)
        user.password_change_required = False
        secret = None
        if with_totp:
            secret = totp.new_secret()
            key = keys_service.service_key(s, rt.keys)
            user.totp_secret = aead.seal(
                key, secret.encode(), table="users", column="totp_secret", row_id=user.id, person_id=None
            )
            user.totp_enabled = True
        for case_id in cases:
            s.add(CaseMember(case_id=case_id, user_id=user.id, added_at=datetime.now(UTC)))
        return user.id, secret


def login(app: FastAPI, username: str, secret: str | None, *, steps: int = 0, address: str = "testclient") -> Actor:
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False, client=(address, 50000))
    body: dict[str, Any] = {"username": username, "password": PASSWORD}
    if secret:
        body["totp"] = code(secret, app, steps)
    r = client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    with unit_of_work(app.state.sessionmaker) as s:
        user_id = s.scalars(select(User.id).where(User.username == username)).one()
    return Actor(user_id=user_id, username=username, totp_secret=secret, client=client, csrf=data["user"]["csrf_token"])


def actor(app: FastAPI, username: str, roles: list[Role], **kwargs: Any) -> Actor:
    _, secret = make_user(app, username, roles, **kwargs)
    return login(app, username, secret)


def anonymous(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
