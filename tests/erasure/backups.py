"""Backups in tests: a real age key pair, an empty place to restore into (a data directory, and on PostgreSQL an
empty database of its own), and looking into what was restored."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from app.cli import cli
from app.core.db import make_engine, make_sessionmaker, unit_of_work
from app.crypto import keyring as kr
from app.crypto.errors import DecryptionFailed
from app.crypto.signing import fingerprint
from app.keys.store import Keys
from app.people.models import Person
from app.people.records import open_column
from tests.support.database import ProvisionedDatabase, postgres_admin_url, postgres_app_role


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


@dataclass(frozen=True)
class AgeKey:
    recipient: str
    identity: Path


def age_key(directory: Path) -> AgeKey:
    """A fresh age key pair made by Debian's age-keygen: the identity file and its recipient."""
    identity = directory / "backup-identity.txt"
    made = subprocess.run(["/usr/bin/age-keygen", "-o", str(identity)], capture_output=True, text=True, check=True)
    recipient = made.stderr.strip().removeprefix("Public key: ")
    assert recipient.startswith("age1"), made.stderr
    return AgeKey(recipient, identity)


def backup_env(cli_env: dict[str, str], database: ProvisionedDatabase, key: AgeKey) -> dict[str, str]:
    """The environment `testimony backup` runs in: as the owner on PostgreSQL (only it reads every table)."""
    return {**cli_env, "TESTIMONY_DATABASE__URL": database.owner_url, "TESTIMONY_BACKUP__RECIPIENT": key.recipient}


@contextmanager
def empty_place(
    cli_env: dict[str, str], database: ProvisionedDatabase, key: AgeKey, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The environment of a restore into an empty data directory and, on PostgreSQL, an empty database (owner)."""
    restored = tmp_path / "restored"
    env = {
        **cli_env,
        "TESTIMONY_DATA_DIR": str(restored),
        "TESTIMONY_DATABASE__URL": f"sqlite:///{restored}/t.db",
        "TESTIMONY_BACKUP__IDENTITY": str(key.identity),
    }
    if not database.is_postgres:
        yield env
        return
    admin_url = postgres_admin_url()
    assert admin_url is not None
    name = f"tv_restored_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        yield {**env, "TESTIMONY_DATABASE__URL": url, "TESTIMONY_DATABASE__APP_ROLE": postgres_app_role() or ""}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def public_objects(url: str) -> int:
    """How many tables, views, sequences and functions a PostgreSQL database's schema public holds."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'public') + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n"
                        " ON n.oid = p.pronamespace WHERE n.nspname = 'public')"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def identities(url: str, keys: Keys) -> dict[uuid.UUID, str | None]:
    """Every person of the restored database: the full name their identity opens to; None when it does not open."""
    engine = make_engine(url, pool=False)
    found: dict[uuid.UUID, str | None] = {}
    try:
        with unit_of_work(make_sessionmaker(engine)) as s:
            for person in s.scalars(select(Person)):
                try:
                    value = open_column(s, keys, person, "identity")
                    found[person.id] = value["full_name"] if value else ""
                except DecryptionFailed:
                    found[person.id] = None
    finally:
        engine.dispose()
    return found


def audit_verifies(env: dict[str, str], key_file: Path) -> None:
    assert run(env, "audit", "checkpoint").exit_code == 0
    pin = fingerprint(kr.loads(key_file.read_bytes(), None).signer.public_key)
    verified = run(env, "audit", "verify", "--key", pin, "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True


def nothing_left(env: dict[str, str], database: ProvisionedDatabase) -> None:
    """A refused or failed restore left no file in the data directory and, on PostgreSQL, no object in public."""
    restored = Path(env["TESTIMONY_DATA_DIR"])
    assert not restored.exists() or not [p for p in restored.rglob("*") if p.is_file()]
    if database.is_postgres:
        assert public_objects(env["TESTIMONY_DATABASE__URL"]) == 0
