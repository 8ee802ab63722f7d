"""Erasure in tests: asking, confirming, and looking at what is left of a person in the database and on disk."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.crypto.errors import DecryptionFailed
from app.exports.models import ExportRequest, RecallNotice
from app.interviews.models import Attachment
from app.keys import datakeys, journal
from app.people.models import BlindIndexEntry, ErasedPerson, Person
from app.people.records import open_column
from tests.support.actors import Actor
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk, desk

WHY = "The survivor asked through the safe channel that everything about them be erased."


def ask(custodian: Actor, person: str, **body: Any) -> Any:
    return custodian.post(f"/api/v1/people/{person}/erase", json={"reason": WHY, **body})


def decide(custodian: Actor, erasure: str, confirm: bool = True) -> Any:
    return custodian.post(f"/api/v1/erasures/{erasure}/decision", json={"confirm": confirm})


def erase(first: Actor, second: Actor, person: str, **body: Any) -> dict[str, Any]:
    asked = ask(first, person, **body)
    assert asked.status_code == 202, asked.text
    done = decide(second, asked.json()["id"])
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "erased"
    result: dict[str, Any] = done.json()
    return result


@dataclass(frozen=True)
class Remains:
    has_key: bool
    identity_opens: bool
    blind_index_rows: int
    tombstone: ErasedPerson | None
    blobs: list[bool]
    """Whether each of the person's attachment blobs is still on disk."""


def remains(app: FastAPI, person: str) -> Remains:
    runtime = app.state.runtime
    pid = uuid.UUID(person)
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(Person, pid)
        assert row is not None
        try:
            open_column(s, runtime.keys, row, "identity")
            opens = True
        except DecryptionFailed:
            opens = False
        blobs = [
            runtime.blobs.exists(a.hex) for a in s.scalars(select(Attachment.id).where(Attachment.person_id == pid))
        ]
        return Remains(
            has_key=datakeys.has_data_key(s, pid),
            identity_opens=opens,
            blind_index_rows=int(
                s.scalar(select(func.count()).select_from(BlindIndexEntry).where(BlindIndexEntry.person_id == pid)) or 0
            ),
            tombstone=s.get(ErasedPerson, pid),
            blobs=blobs,
        )


def export_state(app: FastAPI, export_id: str) -> tuple[str, bool, int]:
    """(status, bundle file still there, recall notices)."""
    eid = uuid.UUID(export_id)
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(ExportRequest, eid)
        assert row is not None
        notices = s.scalar(select(func.count()).select_from(RecallNotice).where(RecallNotice.export_id == eid))
        return row.status, app.state.runtime.bundles.exists(eid.hex), int(notices or 0)


def journal_entries(app: FastAPI) -> list[journal.Entry]:
    runtime = app.state.runtime
    return journal.read(runtime.settings.journal_path, runtime.keys.current)


def racing_desk(app: FastAPI, database: ProvisionedDatabase) -> Desk:
    """The export desk, for races on PostgreSQL; skipped on SQLite."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so these races cannot happen there")
    return desk(app)
