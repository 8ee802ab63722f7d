"""Two rotations at once never make two new KEKs: admins clicking at once on PostgreSQL through a real
server queue one job, and a rotation from the page racing one from the command line makes one KEK (the
later one resumes it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.principal import Principal
from app.core.db import new_id, unit_of_work
from app.crypto import envelope
from app.crypto import keyring as kr
from app.exports.models import ExportJob
from app.exports.worker import Worker
from app.keys import service as keys_service
from app.keys.datakeys import create_data_key
from app.keys.models import DataKey
from app.keys.store import FileKeyStore, Keys
from app.runtime import Runtime
from tests.access.test_concurrency import admin_browsers, served
from tests.support.server import at_once

__all__ = ["served"]  # the PostgreSQL-only server fixture, shared with tests/access/test_concurrency.py

KEYS = "/admin/keys"


def _form(client: httpx.Client, path: str, fields: dict[str, str]) -> Callable[[], httpx.Response]:
    return lambda: client.post(path, data={"csrf_token": client.headers["x-csrf-token"], **fields})


def _data_keys(app: FastAPI, keys: Keys, count: int) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        for _ in range(count):
            create_data_key(s, keys, new_id())


class Counting:
    """A key store that counts the new KEKs saved through it, and tells when it was first loaded."""

    def __init__(self, store: FileKeyStore) -> None:
        self.store = store
        self.description = store.description
        self.new_keks = 0
        self.loaded = threading.Event()

    @property
    def protected(self) -> bool:
        return self.store.protected

    def load(self) -> kr.Keyring:
        ring = self.store.load()
        self.loaded.set()
        return ring

    def version(self) -> tuple[int, int] | None:
        return self.store.version()

    def save(self, keyring: kr.Keyring) -> None:
        stored = self.store.load().keks
        if any(stored.get(version) != kek for version, kek in keyring.keks.items()):  # a KEK not yet stored
            self.new_keks += 1
        self.store.save(keyring)


def _all_unwrap(app: FastAPI, keyring: kr.Keyring) -> set[int]:
    """Every data key opens with the keyring in the file (none is wrapped under a KEK that was overwritten);
    the versions they are under."""
    with unit_of_work(app.state.sessionmaker) as s:
        rows = s.execute(select(DataKey.subject_id, DataKey.kek_version, DataKey.wrapped)).all()
    for subject_id, version, wrapped in rows:
        envelope.unwrap(keyring, subject_id, envelope.WrappedKey(version, wrapped))
    return {version for _, version, _ in rows}


def test_admins_clicking_rotate_at_once_queue_one_rotation(
    served: tuple[FastAPI, str], keys: Keys, key_store: FileKeyStore
) -> None:
    app, url = served
    _data_keys(app, keys, 4)
    before = key_store.load()
    admins = admin_browsers(app, url, 2, "10.0.31")
    seen = {"kek_seen": str(before.kek_primary)}
    answers = at_once([_form(a, f"{KEYS}/rotate", seen) for a in admins for _ in range(2)])
    assert sorted(r.status_code for r in answers) == [303, 409, 409, 409]
    assert all("already queued or running" in r.text for r in answers if r.status_code == 409)
    with unit_of_work(app.state.sessionmaker) as s:
        assert s.scalar(select(func.count()).select_from(ExportJob).where(ExportJob.kind == "keys")) == 1
    # Two workers at once: one claims the job, one new KEK.
    counting = Counting(key_store)
    workers = [
        Worker(app.state.sessionmaker, Runtime(app.state.settings, Keys(counting, key_store.load()))) for _ in range(2)
    ]
    ran = at_once([w.run_once for w in workers])
    assert sorted(ran) == [False, True]
    assert counting.new_keks == 1
    after = key_store.load()
    assert after.kek_primary == before.kek_primary + 1
    assert _all_unwrap(app, after) == {after.kek_primary}
    # The admins' forms were shown before the rotation: clicking again makes nothing more.
    late = at_once([_form(a, f"{KEYS}/rotate", seen) for a in admins])
    assert [r.status_code for r in late] == [409, 409]
    assert key_store.load().kek_primary == after.kek_primary


def test_a_rotation_from_the_page_racing_one_from_the_command_line_makes_one_new_kek(
    served: tuple[FastAPI, str], keys: Keys, key_store: FileKeyStore
) -> None:
    app, url = served
    _data_keys(app, keys, 30)
    before = key_store.load()
    (admin,) = admin_browsers(app, url, 1, "10.0.32")
    assert _form(admin, f"{KEYS}/rotate", {"kek_seen": str(before.kek_primary)})().status_code == 303

    class Slow(Counting):
        """The worker takes its time between reading the keys under the lock and saving the new KEK: without
        the lock, the command line would read KEK N still primary meanwhile and make a KEK of its own."""

        def save(self, keyring: kr.Keyring) -> None:
            threading.Event().wait(1.0)
            super().save(keyring)

    page_side = Slow(key_store)
    worker = Worker(app.state.sessionmaker, Runtime(app.state.settings, Keys(page_side, key_store.load())))

    class Late(Counting):
        """The command line read the keys (KEK N) before the worker took the lock, and goes on once it has."""

        def load(self) -> kr.Keyring:
            ring = super().load()
            page_side.loaded.wait(30)
            return ring

    cli = Late(key_store)
    results: list[Any] = at_once(
        [
            worker.run_once,
            lambda: keys_service.rotate(Principal.system("test"), app.state.sessionmaker, cli, batch_size=7),
        ]
    )
    assert results[0] is True
    assert page_side.new_keks + cli.new_keks == 1
    after = key_store.load()
    assert after.kek_primary == before.kek_primary + 1
    assert sorted(after.keks) == sorted([*before.keks, after.kek_primary])
    assert _all_unwrap(app, after) == {after.kek_primary}
