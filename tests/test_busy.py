"""No free database connection is a quick 503 the client may retry, and it is still recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.core.config import Settings
from app.core.db import make_sessionmaker
from app.keys.store import Keys
from app.main import create_app
from tests.support.database import ProvisionedDatabase


@pytest.fixture
def one_connection_app(settings: Settings, keys: Keys, database: ProvisionedDatabase) -> Iterator[FastAPI]:
    """The real app whose pool holds a single connection and waits a moment for it."""
    app = create_app(settings, keys)
    engine = create_engine(database.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app.state.sessionmaker = make_sessionmaker(engine)
    yield app
    engine.dispose()
    app.state.engine.dispose()


def _events(database: ProvisionedDatabase) -> list[AuditEvent]:
    engine = create_engine(database.url)
    with Session(engine) as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    engine.dispose()
    return rows


def test_no_free_connection_is_a_recorded_503(one_connection_app: FastAPI, database: ProvisionedDatabase) -> None:
    engine = one_connection_app.state.sessionmaker.kw["bind"]
    before = len(_events(database))
    with engine.connect() as held:  # another request holds the pool's only connection
        held.execute(text("SELECT 1"))
        client = TestClient(one_connection_app, base_url="https://testserver", raise_server_exceptions=False)
        r = client.post("/api/v1/auth/login", json={"username": "someone", "password": "whatever it is"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.headers["content-type"] == "application/problem+json"
    events = _events(database)
    assert len(events) == before + 1
    assert (events[-1].action, events[-1].outcome, events[-1].status) == ("auth.login_failed", "failed", 503)


@pytest.fixture
def impatient_app(settings: Settings, keys: Keys) -> Iterator[FastAPI]:
    """The real app on SQLite, waiting a tenth of a second for the database's write lock."""
    app = create_app(
        settings.model_copy(update={"database": settings.database.model_copy(update={"busy_timeout_ms": 100})}), keys
    )
    yield app
    app.state.engine.dispose()


def test_a_write_lock_held_past_the_busy_timeout_is_a_503_on_sqlite(
    impatient_app: FastAPI, database: ProvisionedDatabase
) -> None:
    if not database.url.startswith("sqlite"):
        pytest.skip("the database-wide write lock is SQLite's; PostgreSQL locks rows")
    client = TestClient(impatient_app, base_url="https://testserver", raise_server_exceptions=False)
    login = {"username": "someone", "password": "whatever it is"}
    assert client.post("/api/v1/auth/login", json=login).status_code == 401  # the pool has its connection
    holder = create_engine(database.url, isolation_level="AUTOCOMMIT")
    with holder.connect() as held:
        held.exec_driver_sql("BEGIN IMMEDIATE")  # another writer holds the database
        r = client.post("/api/v1/auth/login", json=login)
        held.exec_driver_sql("ROLLBACK")
    holder.dispose()
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert "someone" not in r.text
