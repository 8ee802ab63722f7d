"""Backup and restore of a deployment (SQLite or PostgreSQL), and bringing a restored backup forward.

``testimony backup --out FILE`` writes one file, encrypted to an age recipient as it is written: a manifest, a
consistent online snapshot of the database (SQLite's backup API, or ``pg_dump``; ``app.erasure.snapshots``),
then the attachment blobs and the sealed export bundles. The keys and the journal are NOT in it: they are
backed up apart, and a backup is useless without the keys.

``testimony restore FILE`` unpacks it into an empty data directory and an empty database (or undoes all it
made when anything fails, up to and including the journal's re-application), brings the schema up to date, and then,
in one transaction, brings it forward from the journal: a person erased after the backup was taken is erased
again, and a withdrawal recorded after it is recorded again (its scope and mode are in the journal; its reason
is not). Every ready export is made stale and its bundle erased, so nothing built before the backup is
downloaded again until it is asked for, approved and built afresh under today's consent. The restore is
recorded as one ``system.restore`` audit event naming the last checkpoint signed before the backup.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.consent import changes
from app.consent.grant_models import ERASURE_DONE, ERASURE_PENDING, ConsentWithdrawal, ErasureRequest, UseConsent
from app.consent.grants import withdrawal_place
from app.core.db import new_id
from app.crypto import keyring as kr
from app.erasure import archive, carry_out, signature, snapshots
from app.erasure.archive import BackupError
from app.keys import journal
from app.keys.sealed import seal_json
from app.people import erased
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

FORMAT = "testimony-backup/3"
MANIFEST = "manifest.json"
DATABASE = "database"
STORES = ("attachments", "exports")


@dataclass(frozen=True)
class Brought:
    """What a restore did from the journal."""

    erased: int
    withdrawals: int
    exports_held: int


@dataclass(frozen=True)
class Taken:
    """What a backup holds besides the manifest."""

    database_bytes: int
    blob_files: int


def _member(tar: tarfile.TarFile, name: str, data: bytes, digest: signature.Digest | None = None) -> None:
    if digest is not None:
        digest.member(name, len(data))
        digest.update(data)
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _add_tree(tar: tarfile.TarFile, root: Path, name: str, digest: signature.Digest) -> int:
    """Every blob file under root (final and temporary alike: all are sealed)."""
    count = 0
    if not root.exists():
        return 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            with path.open("rb") as f:
                info = tar.gettarinfo(arcname=f"{name}/{path.relative_to(root).as_posix()}", fileobj=f)
                info.mode = 0o600
                digest.member(info.name, info.size)
                tar.addfile(info, signature.Hashing(f, digest))
        except FileNotFoundError:
            continue  # removed meanwhile (an erasure, a finished upload): what the snapshot holds decides
        count += 1
    return count


def take(
    url: str, stores: dict[str, Path], out: Path, lock: archive.Lock, manifest: dict[str, object], keyring: kr.Keyring
) -> Taken:
    """Write the encrypted backup: the manifest, the database snapshot in parts, the blob stores, then the
    signature of all of them (``app.erasure.signature``).

    The snapshot comes first, so every blob its rows name is already final (a blob is finalised when its row
    commits, before the request is answered); blobs made or removed after it are harmless (the journal
    erases again what was erased since)."""
    engine = snapshots.kind(url)
    if engine == snapshots.SQLITE:
        chunks = snapshots.sqlite_parts(snapshots.sqlite_path(url))
    else:
        snapshots.tool("pg_dump")  # refuse before writing anything when it is missing
        chunks = snapshots.pg_parts(url)

    def fill(tar: tarfile.TarFile) -> Taken:
        digest = signature.Digest()
        head = {"format": FORMAT, "engine": engine, **manifest}
        _member(tar, MANIFEST, json.dumps(head, indent=2).encode(), digest)
        size = 0
        with closing(chunks):  # its temporary snapshot (SQLite) or pg_dump goes however this ends
            for n, (length, source) in enumerate(chunks):
                info = tarfile.TarInfo(f"{DATABASE}/{n:06d}")
                info.size = length
                info.mode = 0o600
                digest.member(info.name, length)
                # copies exactly ``length`` bytes, a buffer at a time, through the digest
                tar.addfile(info, signature.Hashing(source, digest))
                size += length
        if size == 0:
            raise BackupError("the database snapshot is empty")
        files = sum(_add_tree(tar, root, name, digest) for name, root in stores.items())
        _member(tar, signature.SIGNATURE, signature.signed(digest, keyring))
        return Taken(size, files)

    return archive.write(out, lock, fill)


class _Undo:
    """What a restore made, so that a failure half-way leaves nothing of it behind."""

    def __init__(self, url: str, stores: dict[str, Path]) -> None:
        self.url = url
        self.stores = list(stores.values())  # each empty or missing before the restore (refuse_unless_empty)
        self.files: list[Path] = []
        self.dirs: list[Path] = []
        self.database_touched = False

    def mkdir(self, path: Path) -> None:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dirs.extend(missing)  # deepest first

    def undo(self) -> None:
        if self.database_touched:
            if snapshots.kind(self.url) == snapshots.SQLITE:
                database = snapshots.sqlite_path(self.url)
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{database}{suffix}").unlink(missing_ok=True)
            else:
                snapshots.pg_drop_everything(self.url)
        for path in self.files:
            path.unlink(missing_ok=True)
        for root in self.stores:  # what the re-application made in them too (the blob store's tmp/)
            if root.is_dir():
                for child in root.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        for directory in sorted(set(self.dirs), key=lambda p: len(p.parts), reverse=True):
            try:
                directory.rmdir()
            except OSError:
                pass  # holds something restore did not make (the key file, the journal): kept


def refuse_unless_empty(url: str, stores: dict[str, Path]) -> None:
    """Restore only into an empty place: the database and every blob directory."""
    if snapshots.kind(url) == snapshots.SQLITE:
        database = snapshots.sqlite_path(url)
        if database.exists():
            raise BackupError(f"{database} exists: restore into an empty data directory")
    else:
        snapshots.pg_refuse_unless_empty(url)
    for root in stores.values():
        if root.exists() and any(root.iterdir()):
            raise BackupError(f"{root} is not empty: restore into an empty data directory")


@contextmanager
def restoring(
    url: str, stores: dict[str, Path], backup: Path, key: Path | archive.Passphrase | None, keyring: kr.Keyring
) -> Iterator[dict[str, object]]:
    """Check the backup's signature (reading it whole, unpacking nothing), then unpack it into the empty
    database and blob directories, and yield its manifest for the caller to bring it forward; if anything
    fails, here or in the caller, everything restored is removed again."""
    refuse_unless_empty(url, stores)
    with archive.read(backup, key) as tar:
        verified = signature.verified(tar, keyring)
    undo = _Undo(url, stores)
    try:
        manifest = _unpack(url, stores, backup, key, undo, verified)
        yield manifest
    except BaseException:
        undo.undo()
        raise


def _unpack(
    url: str,
    stores: dict[str, Path],
    backup: Path,
    key: Path | archive.Passphrase | None,
    undo: _Undo,
    verified: bytes,
) -> dict[str, object]:
    """Unpack, digesting again: the file is read a second time, so it must still be the one verified."""
    engine = snapshots.kind(url)
    digest = signature.Digest()
    with archive.read(backup, key) as tar:
        first = tar.next()
        source = signature.read_member(tar, first, digest) if first is not None and first.name == MANIFEST else None
        try:
            manifest = json.loads(source.read()) if source is not None else None
        except ValueError:
            manifest = None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError("this file is not a Testimony Vault backup of a format this version reads")
        if manifest.get("engine") != engine:
            raise BackupError(
                f"this is a backup of a {manifest.get('engine')} database; restore it into one of the same kind"
            )
        sink = _Sink(url, undo)
        try:
            while (member := tar.next()) is not None:
                if member.name == signature.SIGNATURE:
                    if digest.digest() != verified:
                        raise BackupError("the backup changed while it was being restored")
                    break
                data = signature.read_member(tar, member, digest)
                if member.name.startswith(f"{DATABASE}/"):
                    sink.write(data.read())
                    continue
                sink.finish()
                target = _target(member.name, stores)
                if target is None:
                    while data.read(signature.CHUNK):
                        pass
                    continue
                undo.mkdir(target.parent)
                with target.open("xb") as f:
                    undo.files.append(target)
                    shutil.copyfileobj(data, f)
                target.chmod(0o600)
            else:
                raise BackupError("the backup changed while it was being restored")
            sink.finish()
        finally:
            sink.close()
    return manifest


class _Sink:
    """Where the database parts go: the SQLite file, or pg_restore's standard input."""

    def __init__(self, url: str, undo: _Undo) -> None:
        self._url = url
        self._undo = undo
        self._file: BinaryIO | None = None
        self._pg: snapshots.PgRestore | None = None
        self._done = False

    def write(self, data: bytes) -> None:
        if self._done:
            raise BackupError("this file is not a Testimony Vault backup (its database is not in one piece)")
        self._undo.database_touched = True
        if snapshots.kind(self._url) == snapshots.SQLITE:
            if self._file is None:
                database = snapshots.sqlite_path(self._url)
                self._undo.mkdir(database.parent)
                self._file = os.fdopen(
                    os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "wb"
                )
            self._file.write(data)
        else:
            if self._pg is None:
                self._pg = snapshots.PgRestore(self._url)
            self._pg.write(data)

    def finish(self) -> None:
        if self._done:
            return
        if not self._undo.database_touched:
            raise BackupError("this file is not a Testimony Vault backup (it holds no database)")
        self._done = True
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        if self._pg is not None:
            self._pg.finish()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._pg is not None:
            self._pg.kill()


def _target(name: str, stores: dict[str, Path]) -> Path | None:
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
