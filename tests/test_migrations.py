"""Migrations equal the models, and every revision goes down and up again."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from app.core.migrate import alembic_config, downgrade, migrations_dir, upgrade
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


def test_revision_files_sort_in_chain_order() -> None:
    cfg = alembic_config("sqlite://")
    chain = list(reversed(list(ScriptDirectory.from_config(cfg).walk_revisions())))
    files = [Path(rev.path).name for rev in chain]
    assert files == sorted(files)
    assert files == [f"{n:04d}_{Path(f).stem[5:]}.py" for n, f in enumerate(files, start=1)]
    for name in files:
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+\.py", name), name


def test_a_new_revision_takes_the_next_number(database: ProvisionedDatabase, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = alembic_config(database.owner_url)
    cfg.set_main_option("script_location", str(copy))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    command.revision(cfg, message="Add a Thing!")
    script = ScriptDirectory.from_config(cfg)
    new = script.get_revision("head")
    assert new is not None
    expected = f"{len(list(migrations_dir().joinpath('versions').glob('*.py'))) + 1:04d}_add_a_thing"
    assert (new.revision, new.down_revision) == (expected, head)
    assert Path(new.path).name == f"{expected}.py"
    assert sorted(p.name for p in (copy / "versions").glob("*.py"))[-1] == f"{expected}.py"


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
