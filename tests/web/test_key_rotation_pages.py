"""A KEK rotation and a re-wrap started from the Keys page, run by a worker through the job table.

The request only queues (the key file is unchanged when it answers); a worker makes the new KEK and
re-wraps the data keys; the page shows where it is and how it ended. A fresh second factor is needed, keys
from TESTIMONY_KEYS__MATERIAL are refused before anything changes, a passphrase-protected key file stays
protected, and a worker killed half-way is resumed by another without a second new KEK.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.access.models import User
from app.access.roles import Role
from app.audit.models import AuditEvent
from app.core.config import KeySettings, Settings
from app.core.db import new_id, unit_of_work
from app.crypto import keyring as kr
from app.crypto.errors import KeyringError
from app.exports import jobs
from app.exports.models import ExportJob
from app.exports.worker import Worker
from app.keys import rotation
from app.keys import service as keys_service
from app.keys.datakeys import create_data_key
from app.keys.models import DataKey
from app.keys.store import EnvKeyStore, FileKeyStore, Keys, write_private_file
from app.main import create_app
from app.runtime import Runtime
from tests.support.actors import make_user, shift_clock
from tests.support.cheap import CHEAP_SCRYPT
from tests.support.kms import factory
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
        return {
            int(v): int(n)
            for v, n in s.execute(select(DataKey.kek_version, func.count()).group_by(DataKey.kek_version))
        }


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


def _queued_jobs(app: FastAPI) -> int:
    with unit_of_work(app.state.sessionmaker) as s:
        return int(s.scalar(select(func.count()).select_from(ExportJob).where(ExportJob.kind == "keys")) or 0)


def test_starting_needs_a_second_factor_given_in_the_last_five_minutes(
    app: FastAPI, keys: Keys, key_store: FileKeyStore
) -> None:
    _data_keys(app, keys, 2)
    anna = _admin(app)
    assert 'id="step-up"' not in anna.get(KEYS).text
    shift_clock(app, timedelta(minutes=6))
    stale = anna.get(KEYS)
    assert 'id="step-up"' in stale.text  # the prompt shows while the actions would be refused
    refused = anna.post(
        f"{KEYS}/rotate", data={"csrf_token": token_in(stale.text), "kek_seen": str(_primary(stale.text))}
    )
    assert refused.status_code == 403
    assert "Confirm your second factor first" in refused.text
    refused = anna.post(
        f"{KEYS}/rewrap", data={"csrf_token": token_in(stale.text), "kek_seen": str(_primary(stale.text))}
    )
    assert refused.status_code == 403
    assert _queued_jobs(app) == 0
    assert key_store.load().kek_primary == keys.current.kek_primary


def test_bad_input_is_refused_and_queues_nothing(app: FastAPI, keys: Keys) -> None:
    anna = _admin(app)
    for bad in ("", "x", "0", "-1", "99999999999999999999"):
        answer = anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": bad})
        assert answer.status_code == 422, bad
        assert 'role="alert"' in answer.text
    # A re-wrap with nothing to re-wrap is refused in words.
    nothing = anna.post(f"{KEYS}/rewrap", data={"csrf_token": _token(anna), "kek_seen": str(keys.current.kek_primary)})
    assert nothing.status_code == 409
    assert "no data key is waiting to be re-wrapped" in nothing.text
    assert _queued_jobs(app) == 0


def test_keys_from_the_environment_are_refused_in_words_before_anything_changes(
    settings: Settings, key_file: Path
) -> None:
    material = key_file.read_text()
    store = EnvKeyStore(material, None)
    app = create_app(settings.model_copy(update={"keys": KeySettings(material=material)}), Keys(store, store.load()))
    try:
        anna = _admin(app)
        shown = anna.get(KEYS)
        assert 'id="rotation-refused"' in shown.text
        assert 'id="rotate"' not in shown.text
        primary = store.load().kek_primary
        for language, words in (
            ("en", "which cannot be changed from here"),
            ("hy", "որը հնարավոր չէ փոխել այստեղից"),
            ("ru", "который нельзя изменить отсюда"),
        ):
            anna.post("/language", data={"csrf_token": _token(anna), "language": language, "back": KEYS})
            answer = anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": str(primary)})
            assert answer.status_code == 409
            assert words in answer.text
            assert "TESTIMONY_KEYS__MATERIAL" in answer.text
        assert _queued_jobs(app) == 0
        assert key_file.read_text() == material
    finally:
        app.state.engine.dispose()


def test_a_passphrase_protected_key_file_stays_protected(settings: Settings, key_file: Path) -> None:
    write_private_file(key_file, kr.dumps(kr.generate(), PASSPHRASE, CHEAP_SCRYPT))
    store = FileKeyStore(key_file, PASSPHRASE, CHEAP_SCRYPT)
    before = store.load()
    keys = Keys(store, before)
    app = create_app(settings.model_copy(update={"keys": KeySettings(file=key_file, passphrase=PASSPHRASE)}), keys)
    try:
        _data_keys(app, keys, 3)
        anna = _admin(app)
        queued = anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": str(before.kek_primary)})
        assert queued.status_code == 303
        assert _worker(app, FileKeyStore(key_file, PASSPHRASE, CHEAP_SCRYPT)).run_once()
        raw = key_file.read_bytes()
        assert kr.is_protected(raw)
        assert kr.loads(raw, PASSPHRASE).kek_primary == before.kek_primary + 1
        with pytest.raises(KeyringError):
            kr.loads(raw, "not the passphrase")
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    finally:
        app.state.engine.dispose()


def test_with_a_key_provider_the_page_says_to_restart_then_rewrap(settings: Settings) -> None:
    provider = settings.model_copy(update={"keys": KeySettings(provider="tests.support.kms:factory")})
    store = factory()
    before = store.load()
    app = create_app(provider, Keys(store, before))
    try:
        anna = _admin(app)
        queued = anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": str(before.kek_primary)})
        assert queued.status_code == 303
        assert _worker(app, factory()).run_once()
        assert factory().load().kek_primary == before.kek_primary + 1
        page = anna.get(KEYS)
        assert 'id="key-job-state">finished<' in page.text
        assert "restart every worker and API process" in page.text
    finally:
        app.state.engine.dispose()


def test_a_rewrap_started_on_the_page_rewraps_what_a_stale_worker_wrapped(
    app: FastAPI, keys: Keys, key_store: FileKeyStore
) -> None:
    stale = Keys(key_store, key_store.load())  # a worker that has not reloaded the key file since
    _data_keys(app, keys, 2)
    anna = _admin(app)
    first = key_store.load().kek_primary
    assert anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": str(first)}).status_code == 303
    assert _worker(app, key_store).run_once()
    with unit_of_work(app.state.sessionmaker) as s:
        subject = new_id()
        create_data_key(s, _Stale(stale), subject)
    shown = anna.get(KEYS)
    assert re.search(r'id="pending-rewrap">1<', shown.text)
    assert 'id="rewrap"' in shown.text
    queued = anna.post(f"{KEYS}/rewrap", data={"csrf_token": token_in(shown.text), "kek_seen": str(first + 1)})
    assert (queued.status_code, queued.headers["location"]) == (303, f"{KEYS}?done=rewrap_queued")
    assert _worker(app, key_store).run_once()
    assert set(_versions(app.state.sessionmaker)) == {first + 1}
    assert key_store.load().kek_primary == first + 1  # a re-wrap makes no new KEK
    assert 'id="key-job-progress">1 / 1<' in anna.get(KEYS).text
    assert [e[:2] for e in _events(app, "keys.rewrap_start", "keys.rewrap")] == [
        ("keys.rewrap_start", "allowed"),
        ("keys.rewrap", "started"),
        ("keys.rewrap", "allowed"),
    ]


class _Stale(Keys):
    """Keys that never reload: what a worker holding the old keyring wraps with."""

    def __init__(self, keys: Keys) -> None:
        super().__init__(keys.store, keys.current)

    def for_wrapping(self) -> kr.Keyring:
        return self.current


def test_a_worker_killed_half_way_is_resumed_by_another_without_a_second_new_kek(
    app: FastAPI, keys: Keys, key_store: FileKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _data_keys(app, keys, 9)
    anna = _admin(app)
    count = sum(_versions(app.state.sessionmaker).values())
    first = key_store.load().kek_primary
    assert anna.post(f"{KEYS}/rotate", data={"csrf_token": _token(anna), "kek_seen": str(first)}).status_code == 303

    real = keys_service.rewrap_batch
    calls = {"n": 0}

    def dies_on_the_second_batch(*args: Any, **kwargs: Any) -> keys_service.Batch:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(keys_service, "rewrap_batch", dies_on_the_second_batch)
    lease = timedelta(seconds=2)
    dying = _worker(app, key_store, lease=lease, heartbeat=timedelta(seconds=30))
    mine = dying.claim()
    assert mine is not None
    assert mine.kind is jobs.JobKind.KEYS
    with pytest.raises(Killed):
        rotation.run(app.state.sessionmaker, dying.runtime, mine, batch=3)
    monkeypatch.setattr(keys_service, "rewrap_batch", real)
    assert key_store.load().kek_primary == first + 1  # the new KEK was saved before it died
    assert _versions(app.state.sessionmaker) == {first: count - 3, first + 1: 3}
    assert 'id="key-job-state">running<' in anna.get(KEYS).text

    other = _worker(app, key_store, lease=lease)
    assert not other.run_once()  # the lease still runs: nobody takes the job over
    threading.Event().wait(lease.total_seconds() + 0.5)
    assert other.run_once()  # swept, claimed again and resumed
    after = key_store.load()
    assert after.kek_primary == first + 1
    assert sorted(after.keks) == sorted({*keys.current.keks, first + 1})
    assert _versions(app.state.sessionmaker) == {first + 1: count}
    assert 'id="key-job-state">finished<' in anna.get(KEYS).text

    # The dead worker's claim writes nothing more.
    with pytest.raises(jobs.LeaseLost), unit_of_work(app.state.sessionmaker) as s:
        jobs.hold_fence(s, mine)
