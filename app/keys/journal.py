"""The erasure and withdrawal journal: a file outside the database, kept and backed up with the keys.

Every erasure and every withdrawal appends one JSON line once its transaction has committed, so a backup of
the database restored later can be brought forward: people erased since are erased again, and withdrawals
recorded since are recorded again, before the service starts (``testimony restore``).

Each line holds ids, a mode and times only, never content, and is authenticated: an HMAC-SHA256 over the
line's canonical JSON (without ``mac``), under a key derived from the keyring's root (named by ``root``), that
includes the previous line's MAC (``prev``) and a sequence number. A changed, removed, reordered or cut line
breaks the chain and ``read`` refuses the whole file (JournalBroken, naming the line). Lines cut off at the
end leave a valid shorter chain: ``testimony journal verify`` also checks that every erasure and withdrawal
the database knows of is in it.

Appends take an exclusive flock on the file, then write and fsync the line: several workers on one host
append in turn. The file is 0600 in a folder of the operator's choosing (default: beside the key file).
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.db import on_outcome
from app.crypto.derive import Purpose, derive_key, keyed_hash

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.crypto.keyring import Keyring
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

ERASURE = "erasure"
WITHDRAWAL = "withdrawal"
GENESIS = "0" * 64
TAIL = 65536
"""How far back from the end an append looks for the last line (lines are a few hundred bytes)."""


class JournalBroken(Exception):
    """The journal does not verify: changed, reordered, cut or written under another keyring."""


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    event: str
    person_id: uuid.UUID
    ref_id: uuid.UUID
    """The erasure request or the withdrawal."""
    extra: Mapping[str, Any]
    """For a withdrawal: the consent record's id, the mode, the scope ("all" or grant ids) and the channel."""


def _canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(keyring: Keyring, line: Mapping[str, Any]) -> str:
    key = derive_key(keyring.root(int(line["root"])), Purpose.JOURNAL)
    return keyed_hash(key, _canonical(line)).hex()


def _last_line(fd: int) -> dict[str, Any] | None:
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return None
    start = max(0, end - TAIL)
    tail = os.pread(fd, end - start, start)
    if not tail.endswith(b"\n"):
        raise JournalBroken("the journal's last line is cut off")
    last = tail[:-1].rsplit(b"\n", 1)[-1]
    try:
        value = json.loads(last)
    except ValueError:
        raise JournalBroken("the journal's last line is not a journal entry") from None
    if not isinstance(value, dict):
        raise JournalBroken("the journal's last line is not a journal entry")
    return value


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append(
    path: Path,
    keyring: Keyring,
    event: str,
    person_id: uuid.UUID,
    ref_id: uuid.UUID,
    at: datetime,
    extra: Mapping[str, Any] | None = None,
) -> Entry:
    """Append one authenticated line after the last one (under an exclusive lock), and fsync it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        line: dict[str, Any] = {
            "seq": 1 if last is None else int(last["seq"]) + 1,
            "at": at.isoformat(),
            "event": event,
            "person": str(person_id),
            "ref": str(ref_id),
            "root": keyring.root_primary,
            "prev": GENESIS if last is None else str(last["mac"]),
            **({"extra": dict(extra)} if extra else {}),
        }
        line["mac"] = _mac(keyring, line)
        os.write(fd, _canonical(line) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    if created:
        _fsync_dir(path.parent)
    return _entry(line)


def _entry(line: Mapping[str, Any]) -> Entry:
    return Entry(
        seq=int(line["seq"]),
        at=datetime.fromisoformat(str(line["at"])),
        event=str(line["event"]),
        person_id=uuid.UUID(str(line["person"])),
        ref_id=uuid.UUID(str(line["ref"])),
        extra=dict(line.get("extra") or {}),
    )


def read(path: Path, keyring: Keyring) -> list[Entry]:
    """Every entry, in order, after checking the whole chain; an absent file is an empty journal."""
    if not path.exists():
        return []
    entries = []
    prev = GENESIS
    with path.open("rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        raise JournalBroken("the journal's last line is cut off")
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = json.loads(raw)
            mac = str(line.pop("mac"))
            good = hmac.compare_digest(mac, _mac(keyring, line))
        except (ValueError, KeyError, TypeError, IndexError):
            raise JournalBroken(f"line {number} is not a journal entry") from None
        if not good:
            raise JournalBroken(f"line {number} does not verify: changed, or written under another keyring")
        if line.get("prev") != prev or line.get("seq") != number:
            raise JournalBroken(f"line {number} does not follow line {number - 1}: lines were removed or reordered")
        prev = mac
        entries.append(_entry(line))
    return entries


def record(
    session: Session,
    runtime: Runtime,
    event: str,
    person_id: uuid.UUID,
    ref_id: uuid.UUID,
    at: datetime,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Append the entry once the caller's unit of work has committed (never for work rolled back).

    A failure to write after the commit is logged by the unit of work; ``testimony journal verify`` then
    names what the database holds and the journal lacks.
    """
    path = runtime.settings.journal_path
    keyring = runtime.keys.current
    on_outcome(
        session,
        committed=lambda: append(path, keyring, event, person_id, ref_id, at, extra),
        rolled_back=lambda: None,
    )
