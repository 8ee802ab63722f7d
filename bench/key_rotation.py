"""Key rotation: re-wrapping every data key under a new KEK, through `keys_service.rotate` as the CLI runs it.

The data keys are seeded in bulk (real 32-byte keys wrapped under the first KEK), their subjects named as the
service names people (`new_id`, time-ordered UUIDv7), so the keys lie in the table in about their subjects'
order, as a log of people recorded one after another leaves them. Two baselines are
measured in the same run on the same keys: the cryptography alone (unwrap and wrap each key in memory,
no database) and the database alone (the same number of rows rewritten by primary key, no cryptography).
The rotation's ratio to their sum says what the service's own bookkeeping costs.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from app.access.principal import Principal
from app.core.db import make_engine, make_sessionmaker, new_id, unit_of_work
from app.core.migrate import upgrade
from app.crypto import envelope
from app.crypto import keyring as kr
from app.keys import service as keys_service
from app.keys.cli import REWRAP_BATCH
from app.keys.models import DataKey
from app.keys.store import FileKeyStore

TARGET_KEYS = 100_000
TARGET_SECONDS = 5.0
SEED_CHUNK = 5_000


def _seed(factory: Any, keyring: kr.Keyring, count: int) -> list[tuple[uuid.UUID, bytes]]:
    """`count` data keys wrapped under the keyring's primary KEK; answers (subject, wrapped) for the baselines."""
    now = datetime.now(UTC)
    wrapped: list[tuple[uuid.UUID, bytes]] = []
    for start in range(0, count, SEED_CHUNK):
        rows = []
        for _ in range(min(SEED_CHUNK, count - start)):
            subject = new_id()
            blob = envelope.wrap(keyring, subject, envelope.new_data_key()).blob
            wrapped.append((subject, blob))
            rows.append({"subject_id": subject, "kek_version": keyring.kek_primary, "wrapped": blob, "created_at": now})
        with unit_of_work(factory) as session:
            session.execute(insert(DataKey), rows)
    return wrapped


def _crypto_only(keyring: kr.Keyring, wrapped: list[tuple[uuid.UUID, bytes]]) -> float:
    """Unwrap and wrap each key in memory, as a rotation must, with no database."""
    rotated = keyring.with_new_kek()
    version = keyring.kek_primary
    started = time.perf_counter()
    for subject, blob in wrapped:
        envelope.rewrap(rotated, subject, envelope.WrappedKey(version, blob))
    return time.perf_counter() - started


def _database_only(factory: Any, wrapped: list[tuple[uuid.UUID, bytes]], batch_size: int) -> float:
    """Rewrite the same rows by primary key in batches of the rotation's size, with no cryptography."""
    started = time.perf_counter()
    for start in range(0, len(wrapped), batch_size):
        chunk = wrapped[start : start + batch_size]
        with unit_of_work(factory) as session:
            session.execute(
                update(DataKey),
                [{"subject_id": s, "wrapped": blob, "rewrapped_at": datetime.now(UTC)} for s, blob in chunk],
            )
    return time.perf_counter() - started


def run(keys: int, batch_size: int = REWRAP_BATCH) -> dict[str, Any]:
    """Seed `keys` data keys in a fresh SQLite database and rotate them; seconds and ratios."""
    with tempfile.TemporaryDirectory(prefix="tv-bench-keys-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            factory = make_sessionmaker(engine)
            store = FileKeyStore(Path(tmp) / "keys", None)
            store.save(kr.generate())
            keyring = store.load()
            started = time.perf_counter()
            wrapped = _seed(factory, keyring, keys)
            seeded = time.perf_counter() - started
            crypto = _crypto_only(keyring, wrapped)
            database = _database_only(factory, wrapped, batch_size)
            started, cpu_started = time.perf_counter(), time.process_time()
            result = keys_service.rotate(Principal.system(), factory, store, batch_size=batch_size)
            rotation = time.perf_counter() - started
            rotation_cpu = time.process_time() - cpu_started
            with factory() as session:
                moved = session.scalar(
                    select(func.count()).select_from(DataKey).where(DataKey.kek_version == result.kek_primary)
                )
            rotated = store.load()
            sample_subject, _ = wrapped[len(wrapped) // 2]
            with factory() as session:
                row = session.get_one(DataKey, sample_subject)
                envelope.unwrap(rotated, row.subject_id, envelope.WrappedKey(row.kek_version, row.wrapped))
        finally:
            engine.dispose()
    if result.rewrapped != keys or moved != keys or result.unreadable:
        raise RuntimeError(f"rotation re-wrapped {result.rewrapped} of {keys} keys; {moved} under the new KEK")
    baseline = crypto + database
    at_target = rotation * TARGET_KEYS / keys
    return {
        "keys": keys,
        "batch_size": batch_size,
        "seed_seconds": seeded,
        "crypto_only_seconds": crypto,
        "database_only_seconds": database,
        "rotation_seconds": rotation,
        "rotation_cpu_seconds": rotation_cpu,
        "keys_per_s": keys / rotation,
        "ratio_to_baseline": rotation / baseline,
        "target": {
            "keys": TARGET_KEYS,
            "seconds": TARGET_SECONDS,
            "seconds_at_target": at_target,
            "extrapolated": keys != TARGET_KEYS,
            "met": at_target <= TARGET_SECONDS,
        },
    }
