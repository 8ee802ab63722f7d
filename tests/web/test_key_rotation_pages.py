"""A KEK rotation and a re-wrap started from the Keys page, run by a worker through the job table.

The request only queues (the key file is unchanged when it answers); a worker makes the new KEK and
re-wraps the data keys; the page shows where it is and how it ended. A fresh second factor is needed, keys
from TESTIMONY_KEYS__MATERIAL are refused before anything changes, a passphrase-protected key file stays
protected, and a worker killed half-way is resumed by another without a second new KEK.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.access.models import User
from app.access.principal import Principal
from app.access.roles import Role
from app.audit.models import AuditEvent
from app.core.config import KeySettings, Settings
from app.core.db import db_now, new_id, unit_of_work
from app.crypto import keyring as kr
from app.exports import jobs
from app.exports.models import ExportJob
from app.exports.worker import Worker
from app.keys import rotation
from app.keys import service as keys_service
from app.keys.datakeys import create_data_key
from app.keys.models import DataKey, KeyJob
from app.keys.store import EnvKeyStore, FileKeyStore, Keys, write_private_file
from app.main import create_app
from app.runtime import Runtime
from tests.support.actors import make_user, shift_clock
from tests.support.cheap import CHEAP_SCRYPT
from tests.support.pages import page_login, submit, token_in

KEYS = "/admin/keys"
PASSPHRASE = "correct horse battery staple for the keys"


class Killed(BaseException):
    """A worker process dying half-way: nothing of it runs any more (no except clause catches it)."""


def _admin(app: FastAPI, username: str = "anna") -> Any:
    _, secret = make_user(app, username, [Role.ADMIN])
    client, answer = page_login(app, username, secret)
    assert answer.headers["location"] == "/"
    return client


def _data_keys(app: FastAPI, keys: Keys, count: int) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        for _ in range(count):
            create_data_key(s, keys, new_id())


def _versions(factory: sessionmaker[Session]) -> dict[int, int]:
    with unit_of_work(factory) as s:
        return {int(v): int(n) for v, n in s.execute(select(DataKey.kek_version, func.count()).group_by(DataKey.kek_version))}


def _primary(page: str) -> int:
    found = re.search(r'name="kek_seen" value="(\d+)"', page)
    assert found, "the page offers no rotation"
    return int(found.group(1))


def _worker(app: FastAPI, store: Any, **kwargs: Any) -> Worker:
    """A worker as `testimony worker` runs it: its own keys, loaded from the same store."""
    return Worker(app.state.sessionmaker, Runtime(app.state.settings, Keys(store, store.load())), **kwargs)


def _events(app: FastAPI, *actions: str) -> list[tuple[str, str, str]]:
    with unit_of_work(app.state.sessionmaker) as s:
        rows = s.execute(
            select(AuditEvent.action, AuditEvent.outcome, AuditEvent.actor)
            .where(AuditEvent.action.in_(actions))
            .order_by(AuditEvent.seq)
        ).all()
    return [(a, o, actor) for a, o, actor in rows]


def test_a_rotation_started_on_the_page_runs_in_the_worker_and_the_page_shows_how_it_ended(
    app: FastAPI, keys: Keys, key_store: FileKeyStore
) -> None:
    _data_keys(app, keys, 5)
    anna = _admin(app)  # her second factor's secret is sealed under the service data key: one more
    count = sum(_versions(app.state.sessionmaker).values())
    assert count == 6
    shown = anna.get(KEYS)
    assert shown.status_code == 200
    assert "No rotation has been started from this page." in shown.text
    before = key_store.load()
    assert _primary(shown.text) == before.kek_primary

    queued = submit(anna, KEYS, f"{KEYS}/rotate", {"kek_seen": str(before.kek_primary)})
    assert (queued.status_code, queued.headers["location"]) == (303, f"{KEYS}?done=rotate_queued")
    # The request only queued: the key file holds no new KEK until a worker runs the job.
    assert key_store.load().kek_primary == before.kek_primary
    waiting = anna.get(queued.headers["location"])
    assert 'id="key-job-state">waiting for a worker<' in waiting.text
    assert 'id="rotate"' not in waiting.text  # no second start while one waits
    again = anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": str(before.kek_primary)})
    assert again.status_code == 409
    assert "already queued or running" in again.text

    assert _worker(app, key_store).run_once()
    after = key_store.load()
    assert after.kek_primary == before.kek_primary + 1
    assert sorted(after.keks) == sorted([*before.keks, after.kek_primary])
    assert _versions(app.state.sessionmaker) == {after.kek_primary: count}
    assert sorted(after.kek_retired) == sorted(set(before.keks))

    done = anna.get(KEYS)
    assert 'id="key-job-state">finished<' in done.text
    assert 'id="key-job-progress">6 / 6<' in done.text
    assert f'id="key-job-primary">{after.kek_primary}<' in done.text
    assert "Back up the key file now" in done.text
    assert re.search(r'id="pending-rewrap">0<', done.text)
    assert _primary(done.text) == after.kek_primary  # the server reloaded the file the worker wrote

    # A form shown before the rotation is refused: one click, one new KEK.
    stale = anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": str(before.kek_primary)})
    assert stale.status_code == 409
    assert "the keys changed since this page was shown" in stale.text
    assert key_store.load().kek_primary == after.kek_primary

    assert _events(app, "keys.rotate_start", "keys.rotate") == [
        ("keys.rotate_start", "allowed", _actor_of(app, "anna")),
        ("keys.rotate_start", "failed", _actor_of(app, "anna")),
        ("keys.rotate", "started", "system:worker"),
        ("keys.rotate", "allowed", "system:worker"),
        ("keys.rotate_start", "failed", _actor_of(app, "anna")),
    ]


def _token(client: Any) -> str:
    return token_in(client.get(KEYS).text)


def _actor_of(app: FastAPI, username: str) -> str:
    with unit_of_work(app.state.sessionmaker) as s:
        user = s.scalars(select(User).where(User.username == username)).one()
    return f"user:{user.id}"
