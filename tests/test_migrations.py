"""Migrations equal the models, and every revision goes down and up again."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from app.core.migrate import alembic_config, downgrade, upgrade
from app.models import Base
from tests.support.database import ProvisionedDatabase


def test_upgrade_head_equals_models(database: ProvisionedDatabase) -> None:
    engine = create_engine(database.owner_url, poolclass=NullPool)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []


def test_every_revision_goes_down_and_up(database: ProvisionedDatabase) -> None:
    cfg = alembic_config(database.owner_url)
    script = ScriptDirectory.from_config(cfg)
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"
    command.downgrade(cfg, "base")
    engine = create_engine(database.owner_url, poolclass=NullPool)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    for rev in revisions:
        command.upgrade(cfg, rev.revision)
        down = rev.down_revision
        command.downgrade(cfg, down if isinstance(down, str) else "base")
        command.upgrade(cfg, rev.revision)
    with engine.connect() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert head == script.get_current_head()


def test_revision_files_follow_the_date_slug_template() -> None:
    versions = Path(__file__).resolve().parents[1] / "migrations" / "versions"
    names = sorted(p.name for p in versions.glob("*.py"))
    assert names
    for name in names:
        stem = name.removesuffix(".py")
        assert re.fullmatch(r"\d{8}_[a-z0-9_]+", stem), name


@pytest.mark.parametrize("url_kind", ["owner"])
def test_sqlite_schema_uses_wal(database: ProvisionedDatabase, url_kind: str) -> None:
    if database.is_postgres:
        pytest.skip("WAL is a SQLite setting")
    from app.core.db import make_engine

    engine = make_engine(database.url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_seal_state_is_strict_only_for_a_database_with_nothing_sealed(database: ProvisionedDatabase) -> None:
    assert [bool(v) for (v,) in database.as_owner("SELECT accept_v1 FROM seal_state")] == [False]  # fresh
    downgrade(database.owner_url, "20261125_audit_credential")
    case, person = uuid.uuid4(), uuid.uuid4()
    created = "2026-11-25 10:00:00"
    database.as_owner(
        "INSERT INTO cases (id, code, title, created_at) VALUES (:c, 'KB-1', 'Before', :t)", c=case, t=created
    )
    database.as_owner(
        "INSERT INTO people (id, case_id, code, created_at, identity) VALUES (:p, :c, 'KX7-42QM', :t, :blob)",
        p=person,
        c=case,
        t=created,
        blob=b"\x01" + bytes(40),
    )
    upgrade(database.owner_url)
    assert [bool(v) for (v,) in database.as_owner("SELECT accept_v1 FROM seal_state")] == [True]
