"""Alembic environment: batch mode for SQLite, grants for the PostgreSQL app role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic import context
from alembic.operations.ops import MigrationScript
from sqlalchemy import Connection, engine_from_config, pool

from app.core.config import get_settings
from app.core.db import grant_app_role
from app.models import Base

config = context.config
target_metadata = Base.metadata


SEQUENCE = re.compile(r"(\d{4})_")


def _next_in_sequence() -> str:
    """The next four-digit number, so that the order of the files on disk is the order of the chain."""
    versions = Path(__file__).resolve().parent / "versions"
    taken = [int(m.group(1)) for p in versions.glob("*.py") if (m := SEQUENCE.match(p.name))]
    return f"{max(taken, default=0) + 1:04d}"


def _name_revision(_context: Any, _revision: Any, directives: list[MigrationScript]) -> None:
    """A new revision's id is its sequence number and slug, and the file template names the file after it."""
    for script in directives:
        if script.rev_id is not None and SEQUENCE.match(script.rev_id):
            continue  # given explicitly with --rev-id
        slug = re.sub(r"[^a-z0-9]+", "_", (script.message or "change").lower()).strip("_")[:40] or "change"
        script.rev_id = f"{_next_in_sequence()}_{slug}"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        process_revision_directives=_name_revision,
        render_as_batch=True,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
        app_role = config.attributes.get("app_role")
        if app_role and connection.dialect.name == "postgresql":
            grant_app_role(connection, target_metadata, app_role)


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    section = config.get_section(config.config_ini_section) or {}
    if not section.get("sqlalchemy.url"):
        section["sqlalchemy.url"] = get_settings().database_url
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_online()
