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
from tests.support.database import ProvisionedDatabase, Templates
from tests.support.world import Saved, World, build, restore

__all__ = ["CHEAP_ARGON2", "CHEAP_SCRYPT", "production"]


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
def database(templates: Templates, tmp_path: Path) -> Iterator[ProvisionedDatabase]:
    with templates.database(tmp_path) as db:
        yield db


@pytest.fixture(scope="session")
def matrix_saved(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """The authorization matrix's world, built once per session (per xdist worker)."""
    return build(templates, tmp_path_factory.mktemp("matrix"))


@pytest.fixture
def world(matrix_saved: Saved, templates: Templates, tmp_path: Path) -> Iterator[World]:
    """A fresh copy of the matrix's world for one test."""
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
