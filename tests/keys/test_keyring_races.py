"""Every change of the keyring waits for every other: `testimony keys rotate` and `testimony keys rotate-signing`
started together, in real processes, both land in the key file, and every data key unwraps afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import db_now, unit_of_work
from app.crypto import envelope
from app.crypto import keyring as kr
from app.crypto.errors import KeyringError
from app.crypto.signing import fingerprint
from app.keys import service as keys_service
from app.keys.models import DataKey
from app.keys.store import FileKeyStore, write_private_file
from tests.support.cheap import CHEAP_SCRYPT

PASSPHRASE = "correct horse battery staple"
DATA_KEYS = 20_001
"""Enough that re-wrapping them all takes a second or more."""


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out + err


def _many_data_keys(factory: sessionmaker[Session], keyring: kr.Keyring, count: int) -> None:
    table = DataKey.__table__
    assert isinstance(table, Table)
    with unit_of_work(factory) as s:
        now = db_now(s)
        rows = []
        for _ in range(count):
            subject = uuid.uuid4()
            wrapped = envelope.wrap(keyring, subject, envelope.new_data_key())
            rows.append(
                {"subject_id": subject, "kek_version": wrapped.kek_version, "wrapped": wrapped.blob, "created_at": now}
            )
        s.execute(insert(table), rows)


def _protected(key_file: Path) -> kr.Keyring:
    """The test's key file put under a passphrase: each load and save of the key file takes a real scrypt."""
    keyring = kr.loads(key_file.read_bytes(), None)
    write_private_file(key_file, kr.dumps(keyring, PASSPHRASE))
    return keyring


SIGNING_ROTATIONS = 3
"""Signing rotations started one after another while the KEK rotation runs, so that one of them is changing the
key file whenever the KEK rotation saves (the new KEK, then the retired one)."""
STAGGER = 0.7


@pytest.mark.parametrize("first", ["rotate", "rotate-signing"])
def test_kek_and_signing_rotations_started_together_all_land_and_every_data_key_unwraps(
    first: str, cli_env: dict[str, str], key_file: Path, session_factory: sessionmaker[Session]
) -> None:
    before = _protected(key_file)
    _many_data_keys(session_factory, before, DATA_KEYS)
    env = {**cli_env, "TESTIMONY_KEYS__PASSPHRASE": PASSPHRASE}
    signing: list[subprocess.Popen[str]] = []
    kek = _start(env, "keys", "rotate") if first == "rotate" else None
    try:
        for _ in range(SIGNING_ROTATIONS):
            signing.append(_start(env, "keys", "rotate-signing"))
            time.sleep(STAGGER)
            if kek is None:
                kek = _start(env, "keys", "rotate")
        assert kek is not None
        kek_code, kek_output = _finish(kek)
        finished = [_finish(proc) for proc in signing]
    finally:
        for proc in [*signing, *([kek] if kek is not None else [])]:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert kek_code == 0, kek_output
    assert "rotated to KEK 2; re-wrapped 20001 data keys; retired KEK versions: 1" in kek_output
    printed = []
    for code, output in finished:
        assert code == 0, output
        printed.append(output)

    after = kr.loads(key_file.read_bytes(), PASSPHRASE)
    # The KEK rotation landed: a new primary KEK, the old one retired.
    assert (sorted(after.keks), after.kek_primary, after.kek_retired) == ([1, 2], 2, frozenset({1}))
    # Every signing rotation landed: one line of keys, and each fingerprint printed is in it.
    assert [e.retired for e in after.signing_keys] == [True] * SIGNING_ROTATIONS + [False]
    history = {e["fingerprint"] for e in after.public_keys()}
    for output in printed:
        assert any(f"new fingerprint: {f}" in output for f in history), output
    assert f"new fingerprint: {fingerprint(after.signer.public_key)}" in "".join(printed)
    # Every data key is under the new KEK and unwraps with the key file as saved.
    with unit_of_work(session_factory) as s:
        rows = s.execute(select(DataKey.subject_id, DataKey.kek_version, DataKey.wrapped)).all()
    assert len(rows) == DATA_KEYS
    assert {v for _, v, _ in rows} == {2}
    for subject, version, wrapped in rows:
        envelope.unwrap(after, subject, envelope.WrappedKey(version, wrapped))


def test_save_refuses_a_key_file_changed_since_it_was_loaded(key_file: Path) -> None:
    mine = FileKeyStore(key_file, None, CHEAP_SCRYPT)
    other = FileKeyStore(key_file, None, CHEAP_SCRYPT)
    stale = mine.load()
    keys_service.update(other, lambda current, _session: current.with_new_signing_key())
    saved = key_file.read_bytes()
    with pytest.raises(KeyringError, match="changed since it was loaded"):
        mine.save(stale.with_new_kek())
    assert key_file.read_bytes() == saved  # nothing changed
    # Loaded again, the same store saves: the change is made on the keyring as it is now.
    mine.save(mine.load().with_new_kek())
    now = kr.loads(key_file.read_bytes(), None)
    assert now.kek_primary == 2
    assert len(now.signing_keys) == 2


def test_save_refuses_a_key_file_it_never_loaded(key_file: Path) -> None:
    saved = key_file.read_bytes()
    with pytest.raises(KeyringError, match="changed since it was loaded"):
        FileKeyStore(key_file, None, CHEAP_SCRYPT).save(kr.generate())
    assert key_file.read_bytes() == saved


def test_a_new_kek_is_numbered_above_every_version_a_data_key_names(
    key_file: Path, session_factory: sessionmaker[Session]
) -> None:
    """A key file that lost KEK 2 (data keys still name it) never gives the number 2 to another key."""
    store = FileKeyStore(key_file, None, CHEAP_SCRYPT)
    lost = store.load().with_new_kek()
    _many_data_keys(session_factory, lost, 3)
    with unit_of_work(session_factory) as s:
        assert keys_service.highest_kek_in_use(s) == 2
    keys_service.update(
        store,
        lambda current, session: (
            current.with_new_kek(above=keys_service.highest_kek_in_use(session)) if session is not None else None
        ),
        factory=session_factory,
    )
    assert sorted(kr.loads(key_file.read_bytes(), None).keks) == [1, 3]
