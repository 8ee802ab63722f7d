"""The published-version lock: `published.lock` pins every file of a published form version, so it never changes.

The lock is in `sha256sum` format and only ever grows; a change to a published version is a new version.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.consent.form_files import FILE_NAME_PATTERN, UNPINNED, FormError, read_bytes, sha256
from app.consent.forms import (
    FORM_ID_PATTERN,
    MAX_FORM_BYTES,
    VERSION_PATTERN,
    ConsentForm,
    check_ids,
    check_source,
    load_form,
    version_key,
)

LOCK_FILE = "published.lock"

_LOCK_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")


@dataclass(frozen=True, slots=True)
class LockProblem:
    """One way a published version's folder differs from what the lock pinned."""

    form_id: str
    version: str
    problem: str

    def __str__(self) -> str:
        return f"published consent form {self.form_id}/{self.version}: {self.problem}"


def published_versions(root: Path) -> frozenset[tuple[str, str]]:
    """The (form, version) pairs recorded in the published lock."""
    return frozenset(_split_lock_path(path)[:2] for path in read_lock(root))


def read_lock(root: Path) -> dict[str, str]:
    """The published lock as {"form/version/file": sha256}; empty when nothing is published yet."""
    path = root / LOCK_FILE
    if not path.exists() and not path.is_symlink():
        return {}
    data = read_bytes(root, LOCK_FILE, MAX_FORM_BYTES).decode("utf-8", errors="replace")
    entries: dict[str, str] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LOCK_LINE.fullmatch(line)
        if match is None:
            raise FormError(f"{LOCK_FILE} line {number}: expected '<sha256>  <form>/<version>/<file>'")
        digest, rel = match.groups()
        _split_lock_path(rel, f"{LOCK_FILE} line {number}")
        if rel in entries:
            raise FormError(f"{LOCK_FILE} line {number}: {rel} is listed twice")
        entries[rel] = digest
    return entries


def check_published(root: Path) -> list[LockProblem]:
    """Compare every published version folder with the lock; one problem per change, empty when intact."""
    by_version: dict[tuple[str, str], dict[str, str]] = {}
    for rel, digest in read_lock(root).items():
        form_id, version, name = _split_lock_path(rel)
        by_version.setdefault((form_id, version), {})[name] = digest
    problems: list[LockProblem] = []
    for (form_id, version), locked in sorted(by_version.items(), key=lambda item: version_key(item[0])):
        folder = root / form_id / version
        if not folder.is_dir() or folder.is_symlink() or folder.parent.is_symlink():
            problems.append(LockProblem(form_id, version, "the folder is missing or is a symlink"))
            continue
        present = {entry.name for entry in folder.iterdir()} - UNPINNED
        for name in sorted(present - locked.keys()):
            problems.append(LockProblem(form_id, version, f"{name} was added after publication"))
        for name, digest in sorted(locked.items()):
            if name not in present:
                problems.append(LockProblem(form_id, version, f"{name} was removed after publication"))
                continue
            try:
                actual = sha256(read_bytes(folder, name, MAX_FORM_BYTES))
            except FormError as exc:
                problems.append(LockProblem(form_id, version, str(exc)))
                continue
            if actual != digest:
                problems.append(
                    LockProblem(form_id, version, f"{name} changed after publication; publish a new version instead")
                )
    return problems


def publish(root: Path, form_id: str, version: str) -> ConsentForm:
    """Validate a version and pin its files in root's lock; an already published version is refused.

    Review is not a condition: sign-offs are not pinned and may come after publication. Until every
    translation is signed off the version is unreviewed and only a development deployment serves it.
    """
    check_ids(form_id, version)
    if (form_id, version) in published_versions(root):
        raise FormError(f"consent form {form_id}/{version} is already published; publish a new version instead")
    form = load_form(root, form_id, version)
    earlier = sorted((pair for pair in published_versions(root) if pair[0] == form_id), key=version_key)
    if earlier:
        check_source(form, load_form(root, *earlier[0]).source_language)
    lock_path = root / LOCK_FILE
    # Existing lines are kept byte for byte: the lock is itself a record that only ever grows.
    head = read_bytes(root, LOCK_FILE, MAX_FORM_BYTES) if lock_path.exists() else _LOCK_HEADER.encode()
    if head and not head.endswith(b"\n"):
        head += b"\n"
    lines = "".join(f"{digest}  {form_id}/{version}/{name}\n" for name, digest in sorted(form.files.items()))
    temp = lock_path.with_name(LOCK_FILE + ".tmp")
    temp.write_bytes(head + lines.encode())
    os.replace(temp, lock_path)
    return form


_LOCK_HEADER = (
    "# Published consent form versions: the SHA-256 of every file, in `sha256sum` format.\n"
    "# Never edit or remove a line. Add a version with `testimony forms publish FORM VERSION`.\n"
    "# Verify by hand with: cd consent_forms && sha256sum -c published.lock\n"
)


def _split_lock_path(rel: str, where: str = LOCK_FILE) -> tuple[str, str, str]:
    parts = rel.split("/")
    if len(parts) != 3 or not FORM_ID_PATTERN.fullmatch(parts[0]) or not VERSION_PATTERN.fullmatch(parts[1]):
        raise FormError(f"{where}: {rel!r} is not <form>/<version>/<file>")
    if not FILE_NAME_PATTERN.fullmatch(parts[2]):
        raise FormError(f"{where}: {rel!r} does not end in a plain file name")
    return parts[0], parts[1], parts[2]
