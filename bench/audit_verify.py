"""Verifying the audit log: plain SHA-256 (the floor), the Merkle hashing path, and the full per-entry check.

The floor and the hashing path read an in-memory list of stored entry bytes, generated once; the full check
reads the same entries from a dump file written once beside it (in the page cache by then), as the offline
verifier does, so its checking processes read the file themselves. Each part's CPU time is reported with
its wall time, the checking processes' apart: on a shared machine the wall times wait for a core.
"""

from __future__ import annotations

import hashlib
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import rfc8785

from app.audit import merkle, note
from app.audit.verify import default_jobs, verify_dump, verify_file
from app.audit.vocabulary import AuditAction, Outcome, purpose_of
from app.crypto import keyring

ORIGIN = "testimony-vault.example/bench"
TARGET_EVENTS = 1_000_000
TARGET_SECONDS = 5.0
ENTRY_VERSION = 1

T = TypeVar("T")

# What the routes record: (action, resource type, whether the event names a case).
_EVENT_KINDS: tuple[tuple[AuditAction, str, bool], ...] = (
    (AuditAction.CASE_READ, "case", True),
    (AuditAction.CASE_LIST, "case", False),
    (AuditAction.PERSON_READ, "person", True),
    (AuditAction.PERSON_UPDATE, "person", True),
    (AuditAction.CONSENT_RECORD, "consent", True),
    (AuditAction.ATTACHMENT_DOWNLOAD, "attachment", True),
    (AuditAction.ME_READ, "user", False),
    (AuditAction.AUTH_LOGIN, "user", False),
    (AuditAction.AUDIT_READ, "audit_log", False),
)
_ROLE_SETS: tuple[list[str], ...] = (["documenter"], ["legal"], ["custodian"], ["auditor"], ["admin"], [])
_STATUSES = {Outcome.ALLOWED: 200, Outcome.DENIED: 404, Outcome.FAILED: 500}


class BenchmarkError(Exception):
    """A measured verification did not succeed: the timing would describe the wrong work."""


@dataclass(frozen=True)
class Dataset:
    """N stored entries and a checkpoint over all of them, signed by a freshly generated key."""

    entries: list[bytes]
    checkpoint: str
    public_key: bytes
    root: bytes
    generate_seconds: float


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_entries(n: int, seed: int = 0) -> list[bytes]:
    """N canonical entries shaped like app.audit.service.entry_fields plus "v", seq 0..n-1, deterministic."""
    rng = random.Random(seed)
    users = [(f"user:{_uuid(rng)}", rng.choice(_ROLE_SETS)) for _ in range(200)]
    cases = [_uuid(rng) for _ in range(500)]
    clients = [rng.randbytes(32).hex() for _ in range(1000)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    entries: list[bytes] = []
    for seq in range(n):
        action, resource_type, with_case = rng.choice(_EVENT_KINDS)
        actor, roles = rng.choice(users)
        outcome = Outcome.ALLOWED if rng.random() < 0.95 else rng.choice((Outcome.DENIED, Outcome.FAILED))
        at = start + timedelta(milliseconds=seq * 250 + rng.randrange(250))
        fields: dict[str, Any] = {
            "v": ENTRY_VERSION,
            "seq": seq,
            "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": actor,
            "actor_roles": roles,
            "action": action.value,
            "resource_type": resource_type,
            "resource_id": _uuid(rng),
            "case_id": rng.choice(cases) if with_case else None,
            "purpose": purpose_of(action).value,
            "outcome": outcome.value,
            "status": _STATUSES[outcome],
            "request_id": _uuid(rng),
            "client": rng.choice(clients),
            "credential": f"session:{_uuid(rng)}",
            "claimed_credential": None,
            "new_credential": None,
        }
        entries.append(rfc8785.dumps(fields))
    return entries


def make_dataset(n: int, seed: int = 0) -> Dataset:
    """Entries plus a checkpoint whose root comes from merkle.root, not from the path being measured."""
    started = time.perf_counter()
    entries = make_entries(n, seed)
    generated = time.perf_counter() - started
    root = merkle.root([merkle.leaf_hash(e) for e in entries])
    signer = keyring.generate().signer
    text = note.sign_checkpoint(note.Checkpoint(origin=ORIGIN, size=n, root_hash=root), signer, ORIGIN)
    return Dataset(entries, text, signer.public_key, root, generated)


def sha256_floor(entries: Sequence[bytes]) -> int:
    """The floor: one plain SHA-256 per entry, no tree and no parsing."""
    sha256 = hashlib.sha256
    for entry in entries:
        sha256(entry).digest()
    return len(entries)


def verify_hashes(entries: Sequence[bytes], checkpoint: str, public_key: bytes) -> bytes:
    """Check the checkpoint's signature, rebuild the tree over the stored bytes, and compare roots."""
    cp = note.verify_checkpoint(checkpoint, ORIGIN, public_key)
    builder = merkle.TreeBuilder()
    append, leaf_hash = builder.append, merkle.leaf_hash
    for entry in entries:
        append(leaf_hash(entry))
    root = builder.root()
    if builder.size != cp.size or root != cp.root_hash:
        raise BenchmarkError("the rebuilt tree does not match the signed checkpoint")
    return root


def full_check(entries: Sequence[bytes], checkpoint: str, public_key: bytes, workers: int = 1) -> bytes:
    """The offline verifier's whole check: parse every entry, canonical form, seq chain, tree, signature."""
    report = verify_dump(entries, [checkpoint], public_key, ORIGIN, workers=workers)
    if not report.ok:
        raise BenchmarkError(f"verify_dump found problems: {report.problems[:3]}")
    return report.root


def full_check_file(path: Path, checkpoint: str, public_key: bytes, workers: int = 1) -> bytes:
    """The offline verifier's whole check of a dump file (`python -m app.audit.verify --events`)."""
    report = verify_file(path, [checkpoint], public_key, ORIGIN, workers=workers)
    if not report.ok:
        raise BenchmarkError(f"verify_file found problems: {report.problems[:3]}")
    return report.root


def write_dump(entries: Sequence[bytes], path: Path) -> Path:
    """The entries as a dump file, one a line, as `testimony audit export` writes them."""
    with path.open("wb") as fh:
        for entry in entries:
            fh.write(entry + b"\n")
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Run:
    """The fastest of several runs: its wall time, this process's CPU time and its finished children's."""

    seconds: float
    cpu_seconds: float
    child_cpu_seconds: float


def best_of(repeats: int, fn: Callable[[], T]) -> tuple[Run, T]:
    """The fastest of `repeats` runs (noise only ever adds time) and the last result."""
    best: Run | None = None
    for _ in range(max(repeats, 1)):
        children, cpu, started = _children_cpu(), time.process_time(), time.perf_counter()
        result = fn()
        run = Run(time.perf_counter() - started, time.process_time() - cpu, _children_cpu() - children)
        if best is None or run.seconds < best.seconds:
            best = run
    assert best is not None
    return best, result


def _timing(run: Run, events: int, floor: Run) -> dict[str, float]:
    return {
        "seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
        "child_cpu_seconds": run.child_cpu_seconds,
        "events_per_s": events / run.seconds if run.seconds else float("inf"),
        "ratio_to_baseline": run.seconds / floor.seconds if floor.seconds else float("inf"),
    }


def run(events: int, repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Generate once, time the three paths on the same entries, and report seconds and ratios."""
    data = make_dataset(events, seed)
    floor, _ = best_of(repeats, lambda: sha256_floor(data.entries))
    hashing, hash_root = best_of(repeats, lambda: verify_hashes(data.entries, data.checkpoint, data.public_key))
    jobs = default_jobs()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as folder:
        dump = write_dump(data.entries, Path(folder) / "events.jsonl")
        one, one_root = best_of(repeats, lambda: full_check_file(dump, data.checkpoint, data.public_key))
        checking, check_root = best_of(
            repeats, lambda: full_check_file(dump, data.checkpoint, data.public_key, workers=jobs)
        )
    if one_root != check_root:
        raise BenchmarkError("checking in worker processes found another root")
    at_target = hashing.seconds * TARGET_EVENTS / events if events else 0.0
    check_at_target = checking.seconds * TARGET_EVENTS / events if events else 0.0
    return {
        "events": events,
        "repeats": repeats,
        "mean_entry_bytes": sum(map(len, data.entries)) / events if events else 0.0,
        "generate_seconds": data.generate_seconds,
        "baseline_sha256": _timing(floor, events, floor),
        "hash_verify": _timing(hashing, events, floor),
        "full_check_one_process": _timing(one, events, floor),
        "full_check": {**_timing(checking, events, floor), "workers": jobs},
        "root": data.root.hex(),
        "hash_verify_root": hash_root.hex(),
        "full_check_root": check_root.hex(),
        "target": {
            "events": TARGET_EVENTS,
            "seconds": TARGET_SECONDS,
            "hash_verify_seconds_at_target": at_target,
            "full_check_seconds_at_target": check_at_target,
            "extrapolated": events != TARGET_EVENTS,
            "met": at_target <= TARGET_SECONDS and check_at_target <= TARGET_SECONDS,
        },
    }
