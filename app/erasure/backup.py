"""A minimal backup and restore of an embedded (SQLite) deployment, and bringing a restored backup forward.

``testimony backup --out FILE`` writes one tar file: a consistent copy of the database (SQLite's online backup
API), the attachment blobs and the sealed export bundles, and a manifest. The keys and the journal are NOT
in it: they are backed up apart, and a backup is useless without the keys.

``testimony restore FILE`` unpacks it into an empty data directory, brings the schema up to date, and then,
in one transaction, brings it forward from the journal: a person erased after the backup was taken is erased
again, and a withdrawal recorded after it is recorded again (its scope and mode are in the journal; its reason
is not). Every ready export is made stale and its bundle erased, so nothing built before the backup is
downloaded again until it is asked for, approved and built afresh under today's consent. The restore is
recorded as one ``system.restore`` audit event naming the last checkpoint signed before the backup.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.consent import changes
from app.consent.grant_models import ERASURE_DONE, ERASURE_PENDING, ConsentWithdrawal, ErasureRequest, UseConsent
from app.consent.grants import withdrawal_place
from app.core.db import new_id
from app.erasure import carry_out
from app.keys import journal
from app.keys.sealed import seal_json
from app.people import erased
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

FORMAT = "testimony-backup/1"
DATABASE = "database.sqlite"
MANIFEST = "manifest.json"
STORES = ("attachments", "exports")


class BackupError(Exception):
    """A backup that cannot be taken or restored, with the reason for the operator."""


@dataclass(frozen=True)
class Brought:
    """What a restore did from the journal."""

    erased: int
    withdrawals: int
    exports_held: int


def sqlite_path(url: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise BackupError(
            "backup and restore handle SQLite only for now; on PostgreSQL use pg_dump and copy the blob "
            "directories, and keep the keys and the journal apart (docs/operations.md)"
        )
    return Path(url.removeprefix("sqlite:///"))


def _add_tree(tar: tarfile.TarFile, root: Path, name: str) -> int:
    count = 0
    if not root.exists():
        return 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            tar.add(path, arcname=f"{name}/{path.relative_to(root).as_posix()}", recursive=False)
            count += 1
    return count


def take(database: Path, stores: dict[str, Path], out: Path, manifest: dict[str, object]) -> int:
    """Write the backup (0600) and return how many blob files it holds. The database is copied first, so every
    blob its rows name is there (blobs are finalised before their rows commit); later blobs are harmless."""
    snapshot = out.with_name(f".{out.name}.{uuid.uuid4().hex}.db")
    try:
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        target = sqlite3.connect(snapshot)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        snapshot.chmod(0o600)
        out.touch(mode=0o600, exist_ok=False)
        try:
            return _write(out, snapshot, stores, manifest)
        except BaseException:
            out.unlink(missing_ok=True)  # a backup is written whole or not at all
            raise
    finally:
        snapshot.unlink(missing_ok=True)


def _write(out: Path, snapshot: Path, stores: dict[str, Path], manifest: dict[str, object]) -> int:
    files = 0
    with tarfile.open(out, "w") as tar:
        tar.add(snapshot, arcname=DATABASE, recursive=False)
        for name, root in stores.items():
            files += _add_tree(tar, root, name)
        data = json.dumps({"format": FORMAT, **manifest, "blob_files": files}, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        info.mode = 0o600
        tar.addfile(info, io.BytesIO(data))
    return files


def unpack(backup: Path, database: Path, stores: dict[str, Path]) -> dict[str, object]:
    """Unpack into an empty place: refuse when the database or a blob directory holds anything."""
    if database.exists():
        raise BackupError(f"{database} exists: restore into an empty data directory")
    for root in stores.values():
        if root.exists() and any(root.iterdir()):
            raise BackupError(f"{root} is not empty: restore into an empty data directory")
    written: list[Path] = []
    try:
        return _extract(backup, database, stores, written)
    except BaseException:
        for path in written:  # nothing half-restored is left behind
            path.unlink(missing_ok=True)
        raise


def _extract(backup: Path, database: Path, stores: dict[str, Path], written: list[Path]) -> dict[str, object]:
    with tarfile.open(backup, "r") as tar:
        try:
            manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        except (KeyError, AttributeError, ValueError):
            raise BackupError("this file is not a Testimony Vault backup") from None
        if manifest.get("format") != FORMAT:
            raise BackupError("this file is not a Testimony Vault backup of a format this version reads")
        for member in tar.getmembers():
            target = _target(member.name, database, stores)
            if target is None or not member.isfile():
                continue
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            source = tar.extractfile(member)
            assert source is not None
            with target.open("xb") as f:
                written.append(target)
                f.write(source.read())
            target.chmod(0o600)
    return dict(manifest)


def _target(name: str, database: Path, stores: dict[str, Path]) -> Path | None:
    if name == DATABASE:
        return database
    top, _, rest = name.partition("/")
    parts = Path(rest).parts
    if top not in stores or not parts or any(p in ("", ".", "..") for p in parts) or Path(rest).is_absolute():
        return None
    return stores[top].joinpath(*parts)


def bring_forward(session: Session, runtime: Runtime, entries: list[journal.Entry]) -> Brought:
    """Apply, in order, what the journal holds and the restored database lacks; hold every ready export."""
    count_erased = count_withdrawn = 0
    for entry in entries:
        person = session.get(Person, entry.person_id)
        if person is None or erased.is_erased(session, person.id):
            continue  # made after the backup (nothing of them is here), or erased in it already
        if entry.event == journal.WITHDRAWAL and session.get(ConsentWithdrawal, entry.ref_id) is None:
            count_withdrawn += _withdraw_again(session, runtime, person, entry)
        elif entry.event == journal.ERASURE:
            request = session.get(ErasureRequest, entry.ref_id)
            carry_out.erase_person(
                session,
                runtime,
                person,
                erasure_id=request.id if request else None,
                origin="journal",
                requested_by=None,
                confirmed_by=None,
                record=False,
            )
            for pending in session.scalars(
                select(ErasureRequest).where(
                    ErasureRequest.person_id == person.id, ErasureRequest.state == ERASURE_PENDING
                )
            ):
                pending.state = ERASURE_DONE
                pending.decided_at = entry.at
            count_erased += 1
    session.flush()
    return Brought(count_erased, count_withdrawn, _hold_exports(session, runtime))


def _withdraw_again(session: Session, runtime: Runtime, person: Person, entry: journal.Entry) -> int:
    consent = session.get(UseConsent, uuid.UUID(str(entry.extra.get("consent"))))
    if consent is None:
        return 0
    row = ConsentWithdrawal(
        id=entry.ref_id,
        consent_id=consent.id,
        person_id=person.id,
        case_id=consent.case_id,
        mode=str(entry.extra["mode"]),
        received_via=str(entry.extra["via"]),
        withdrawn_by=None,
        withdrawn_at=entry.at,
        details=b"",
    )
    row.details = seal_json(
        session, runtime.keys, withdrawal_place(person, row), {"scope": entry.extra["scope"], "reason": None}
    )
    session.add(row)
    session.flush()
    if (
        row.mode == "withdraw_and_erase"
        and not session.scalars(
            select(ErasureRequest.id).where(
                ErasureRequest.person_id == person.id, ErasureRequest.state == ERASURE_PENDING
            )
        ).first()
    ):
        session.add(
            ErasureRequest(
                id=new_id(),
                person_id=person.id,
                case_id=consent.case_id,
                withdrawal_id=row.id,
                state=ERASURE_PENDING,
                requested_at=entry.at,
            )
        )
        session.flush()
    changes.changed(session, runtime, person)
    return 1


def _hold_exports(session: Session, runtime: Runtime) -> int:
    """Every ready export goes stale (its bundle erased): it is asked for and built again under today's consent.
    Exports are above erasure, so they are told through ``app.people.erased.restored``."""
    return erased.restored(session, runtime)


def taken_at(manifest: dict[str, object]) -> datetime | None:
    value = manifest.get("taken_at")
    return datetime.fromisoformat(value) if isinstance(value, str) else None
