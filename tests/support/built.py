"""Built export bundles in tests: fetch one the worker sealed, decrypt it with the real age, verify and unpack it."""

from __future__ import annotations

import re
import subprocess
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Uuid, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import Base, unit_of_work
from app.exports.encrypt import AGE
from app.exports.models import DisclosureEntry
from app.exports.stored import bundle_key, open_bundle
from tests.support.actors import Actor
from tests.support.bundles import fingerprint, standalone

UUID = re.compile(rb"(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])", re.I)
"""Any UUID in its usual spelling (hashes and fingerprints are 64 hex digits; the database's ids are checked
in every spelling by ``internal_ids``)."""
CODE = re.compile(r"\b[XP](?:-[A-Z2-7]{4}){4,5}\b")
"""The bundle's opaque ids (X-...) and pseudonyms (P-...)."""


@dataclass(frozen=True)
class Unpacked:
    zip_path: Path
    folder: Path
    files: dict[str, bytes]

    def text(self) -> str:
        return "\n".join(data.decode("utf-8", errors="replace") for data in self.files.values())

    def codes(self) -> set[str]:
        return set(CODE.findall(self.text()))


def age_identity(folder: Path) -> tuple[Path, str]:
    """A real age identity from age-keygen: its file and its recipient."""
    path = folder / "identity.txt"
    subprocess.run(["/usr/bin/age-keygen", "-o", str(path)], check=True, capture_output=True)
    shown = subprocess.run(["/usr/bin/age-keygen", "-y", str(path)], check=True, capture_output=True, text=True)
    return path, shown.stdout.strip()


def stored_bytes(app: FastAPI, export_id: str) -> bytes:
    """What the recipient would receive: the sealed bundle opened and authenticated segment by segment."""
    runtime = app.state.runtime
    with unit_of_work(app.state.sessionmaker) as s:
        dek = bundle_key(s, runtime.keys, uuid.UUID(export_id))
    return b"".join(open_bundle(runtime.bundles, uuid.UUID(export_id), dek).chunks())


def unpack(
    app: FastAPI, export_id: str, folder: Path, identity: Path | None = None, data: bytes | None = None
) -> Unpacked:
    """The bundle (``data`` as downloaded, else as stored), decrypted with /usr/bin/age when it is encrypted,
    checked by the standalone verifier and by `sha256sum -c`, and extracted."""
    folder.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = stored_bytes(app, export_id)
    bundle = folder / "bundle.zip"
    if identity is not None:
        assert data.startswith(b"age-encryption.org/v1\n")
        sealed = folder / "bundle.zip.age"
        sealed.write_bytes(data)
        subprocess.run([AGE, "-d", "-i", str(identity), "-o", str(bundle), str(sealed)], check=True)
    else:
        assert data.startswith(b"PK\x03\x04")
        bundle.write_bytes(data)
    key = fingerprint(app.state.runtime.keys.current.signer)
    verified = standalone(folder, str(bundle), "--key", key)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    tree = folder / "tree"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tree)
        files = {name: z.read(name) for name in z.namelist()}
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tree, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(files) - 3  # all but SHA256SUMS, manifest.json, manifest.sig
    return Unpacked(bundle, tree, files)


def internal_ids(factory: sessionmaker[Session]) -> set[str]:
    """Every id the database holds: each value of every UUID column of every table, and every grant id the
    disclosure ledger names (grant ids otherwise live only inside sealed records)."""
    found: set[str] = set()
    with unit_of_work(factory) as s:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, Uuid):
                    found.update(str(v) for v in s.scalars(select(column)) if v is not None)
        for grants in s.scalars(select(DisclosureEntry.grant_ids)):
            found.update(str(g) for g in grants)
    return found


def confirm_statement(doc: Actor, interview_id: str, text: str) -> dict[str, Any]:
    """A draft of ``text`` confirmed as statement version 1 of an interview in progress; the 201 answer."""
    saved = doc.request("PUT", f"/api/v1/interviews/{interview_id}/draft", json={"text": text, "answers": []})
    assert saved.status_code == 200, saved.text
    body = {"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"}
    confirmed = doc.post(f"/api/v1/interviews/{interview_id}/statements", json=body)
    assert confirmed.status_code == 201, confirmed.text
    result: dict[str, Any] = confirmed.json()
    return result
