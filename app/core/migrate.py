"""Running Alembic from code: `testimony init`, tests and the CLI share this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection


def migrations_dir() -> Path:
    package = Path(__file__).resolve().parent.parent  # app/
    for candidate in (package.parent / "migrations", package / "_migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("the migrations folder is missing from this installation")


def alembic_config(url: str, *, app_role: str | None = None, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("file_template", "%%(rev)s")
    cfg.set_main_option("revision_environment", "true")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["app_role"] = app_role
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, *, app_role: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url, app_role=app_role), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
