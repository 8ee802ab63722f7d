"""Fixtures: a real database per test (SQLite file, or PostgreSQL when
TESTIMONY_TEST_DATABASE_URL is set), a real keyring and the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import DatabaseSettings, KeySettings, PasswordHashSettings, Settings
from app.core.db import make_engine, make_sessionmaker
from app.crypto import keyring as kr
from app.keys.store import FileKeyStore, Keys, write_private_file
from app.main import create_app
from tests.support.cheap import CHEAP_ARGON2, CHEAP_SCRYPT
from tests.support.database import PG_URL_ENV, ProvisionedDatabase, Templates
from tests.support.world import Saved, World, build, restore

__all__ = ["CHEAP_ARGON2", "CHEAP_SCRYPT", "production"]

DATABASE_FIXTURE = "templates"
"""The one fixture through which a test gets the database under test (SQLite, or TESTIMONY_TEST_DATABASE_URL):
every other (database, world, settings, engine, app, client, cli_env...) requests it, directly or not."""
UNREACHABLE_DATABASE = "postgresql+psycopg://dbless@127.0.0.1:1/a_dbless_test_reached_for_a_database"
"""What a dbless test finds in TESTIMONY_TEST_DATABASE_URL: a test that reads it there is wrongly dbless, and fails."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `dbless` every test whose fixtures never reach the database under test: it runs the same whichever
    database the run targets, so CI's PostgreSQL pass leaves it out (.ci/run). A test that reaches that database
    another way (the variable itself) says so with the `uses_database` mark."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())  # a pytest.Function's, the closure of what it requests
        if DATABASE_FIXTURE not in fixtures and item.get_closest_marker("uses_database") is None:
            item.add_marker(pytest.mark.dbless)


@pytest.fixture(autouse=True)
def _dbless_reaches_no_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dbless test that still reads the database under test from the environment fails, on any run."""
    if request.node.get_closest_marker("dbless") is not None:
        monkeypatch.setenv(PG_URL_ENV, UNREACHABLE_DATABASE)


def _not_dbless(request: pytest.FixtureRequest) -> None:
    """A dbless test that reaches the database by name (request.getfixturevalue) fails, on any run."""
    assert request.node.get_closest_marker("dbless") is None, f"{request.node.nodeid} is marked dbless"


def production(settings: Settings, **update: object) -> Settings:
    """The same test settings as a production deployment would have them (keys aside)."""
    prod = settings.model_copy(
        update={
            "development": False,
            "audit": settings.audit.model_copy(update={"origin": "vault.test.invalid/audit"}),
            "passwords": PasswordHashSettings(time_cost=2, memory_kib=19456, parallelism=1),
        }
    )
    return prod.model_copy(update=update)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    t = Templates(tmp_path_factory.mktemp("template"))
    yield t
    t.drop_template()


@pytest.fixture
def database(templates: Templates, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ProvisionedDatabase]:
    _not_dbless(request)
    with templates.database(tmp_path) as db:
        yield db


@pytest.fixture(scope="session")
def matrix_saved(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """The authorization matrix's world, built once per session (per xdist worker)."""
    return build(templates, tmp_path_factory.mktemp("matrix"))


@pytest.fixture
def world(matrix_saved: Saved, templates: Templates, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """A fresh copy of the matrix's world for one test."""
    _not_dbless(request)
    with restore(matrix_saved, templates, tmp_path) as w:
        yield w


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "var" / "keyring.json"
    write_private_file(path, kr.dumps(kr.generate(), None))
    return path


@pytest.fixture
def settings(tmp_path: Path, database: ProvisionedDatabase, key_file: Path) -> Settings:
    return Settings(
        development=True,
        data_dir=tmp_path / "var",
        database=DatabaseSettings(url=database.url),
        keys=KeySettings(file=key_file),
        passwords=CHEAP_ARGON2,
    )


@pytest.fixture
def key_store(key_file: Path) -> FileKeyStore:
    return FileKeyStore(key_file, None, CHEAP_SCRYPT)


@pytest.fixture
def keys(key_store: FileKeyStore) -> Keys:
    return Keys(key_store, key_store.load())


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def app(settings: Settings, keys: Keys) -> Iterator[FastAPI]:
    application = create_app(settings, keys)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def pytest_report_header(config: pytest.Config) -> str:
    from tests.support.database import postgres_admin_url, postgres_app_role

    if postgres_admin_url():
        return f"database: PostgreSQL, app role {postgres_app_role() or '(owner)'}"
    return "database: SQLite (set TESTIMONY_TEST_DATABASE_URL for PostgreSQL)"


@pytest.fixture
def cli_env(database: ProvisionedDatabase, key_file: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a `testimony` command run against this test's database and keys."""
    return {
        "TESTIMONY_DEVELOPMENT": "true",
        "TESTIMONY_DATA_DIR": str(tmp_path / "var"),
        "TESTIMONY_DATABASE__URL": database.url,
        "TESTIMONY_KEYS__FILE": str(key_file),
        "TESTIMONY_PASSWORDS__TIME_COST": str(CHEAP_ARGON2.time_cost),
        "TESTIMONY_PASSWORDS__MEMORY_KIB": str(CHEAP_ARGON2.memory_kib),
        "TESTIMONY_PASSWORDS__PARALLELISM": str(CHEAP_ARGON2.parallelism),
        "COLUMNS": "200",
    }
