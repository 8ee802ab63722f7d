"""Interview guides: the questions an interview asks, from a versioned folder like the consent forms.

``interview_guides/<guide>/<version>/guide.yaml`` holds the question ids and their texts per language;
``interview_guides/published.lock`` pins its SHA-256, in the consent forms' lock format, and a guide whose
file differs from the pin is refused. A guide marked ``review: unreviewed`` (its translations not yet
checked by a reviewer) is served in development mode only, like an unreviewed consent translation. The
file helpers (strict YAML, plain regular files, the lock) are the consent forms' own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.consent.form_files import (
    FormError,
    as_mapping,
    as_text,
    check_keys,
    parse_yaml,
    read_bytes,
    sha256,
)
from app.consent.published import LOCK_FILE, read_lock
from app.core.errors import Conflict, NotFound

GUIDE_FILE = "guide.yaml"
MAX_GUIDE_BYTES = 256 * 1024
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
REVIEWED = "reviewed"
UNREVIEWED = "unreviewed"


@dataclass(frozen=True)
class Question:
    id: str
    text: dict[str, str]


@dataclass(frozen=True)
class Guide:
    id: str
    version: str
    review: str
    languages: tuple[str, ...]
    questions: tuple[Question, ...]
    sha256: str

    @property
    def question_ids(self) -> frozenset[str]:
        return frozenset(q.id for q in self.questions)


def default_root() -> Path:
    """The guides beside the source, or inside an installed wheel."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "interview_guides", here.parents[1] / "_interview_guides"):
        if candidate.is_dir():
            return candidate
    raise FormError("the interview_guides folder is missing from this installation")


def published(root: Path) -> list[tuple[str, str]]:
    """The (guide, version) pairs root's lock pins, in order."""
    return sorted({(rel.split("/")[0], rel.split("/")[1]) for rel in read_lock(root)})


def load_published(root: Path) -> list[Guide]:
    """Every published guide, read and checked now: a broken one stops the start (or the command) with
    its reason, instead of answering a server error to the documenter who first asks for it."""
    return [load(root, guide_id, version) for guide_id, version in published(root)]


@cache
def load(root: Path, guide_id: str, version: str) -> Guide:
    """A published guide version, checked against its pinned hash; FormError when it is broken."""
    where = f"interview guide {guide_id}/{version}"
    raw = read_bytes(root / guide_id / version, GUIDE_FILE, MAX_GUIDE_BYTES, where)
    pinned = read_lock(root).get(f"{guide_id}/{version}/{GUIDE_FILE}")
    if pinned is None:
        raise FormError(f"{where} is not in {LOCK_FILE}")
    if sha256(raw) != pinned:
        raise FormError(f"{where}: {GUIDE_FILE} differs from its hash in {LOCK_FILE}")
    return _parse(raw, guide_id, version, pinned)


def publish(root: Path, guide_id: str, version: str) -> Guide:
    """Validate a guide version and pin its file in root's lock; a published version is never published
    again (a change is a new version), and the lock's existing lines are kept byte for byte."""
    where = f"interview guide {guide_id}/{version}"
    if not NAME.fullmatch(guide_id) or not NAME.fullmatch(version):
        raise FormError(f"{where}: a guide and a version are lower-case letters, digits, - and _")
    if (guide_id, version) in published(root):
        raise FormError(f"{where} is already published; publish a new version instead")
    raw = read_bytes(root / guide_id / version, GUIDE_FILE, MAX_GUIDE_BYTES, where)
    guide = _parse(raw, guide_id, version, sha256(raw))
    lock = root / LOCK_FILE
    head = read_bytes(root, LOCK_FILE, MAX_GUIDE_BYTES) if lock.exists() else _LOCK_HEADER.encode()
    if head and not head.endswith(b"\n"):
        head += b"\n"
    temp = lock.with_name(LOCK_FILE + ".tmp")
    temp.write_bytes(head + f"{guide.sha256}  {guide_id}/{version}/{GUIDE_FILE}\n".encode())
    os.replace(temp, lock)
    return guide


_LOCK_HEADER = (
    "# Published interview guide versions: the SHA-256 of every file, in `sha256sum` format.\n"
    "# Never edit or remove a line. Verify by hand with: cd interview_guides && sha256sum -c published.lock\n"
)


def _parse(raw: bytes, guide_id: str, version: str, digest: str) -> Guide:
    where = f"interview guide {guide_id}/{version}"
    doc = as_mapping(parse_yaml(raw, GUIDE_FILE), where)
    check_keys(doc, where, {"id", "version", "review", "languages", "questions"})
    if (doc["id"], doc["version"]) != (guide_id, version):
        raise FormError(f"{where}: id and version must match the folder")
    review = as_text(doc["review"], f"{where} review")
    if review not in (REVIEWED, UNREVIEWED):
        raise FormError(f"{where}: review is {REVIEWED} or {UNREVIEWED}")
    languages = doc["languages"]
    if not isinstance(languages, list) or not languages:
        raise FormError(f"{where}: languages is a list of language codes")
    codes = tuple(as_text(code, f"{where} languages") for code in languages)
    questions: list[Question] = []
    items = doc["questions"]
    if not isinstance(items, list) or not items:
        raise FormError(f"{where}: questions is a list")
    for n, item in enumerate(items):
        at = f"{where} question {n + 1}"
        entry = as_mapping(item, at)
        check_keys(entry, at, {"id", "text"})
        qid = as_text(entry["id"], at)
        if not QUESTION_ID.fullmatch(qid) or qid in {q.id for q in questions}:
            raise FormError(f"{at}: an id of lower-case letters, digits and _, each once")
        texts = as_mapping(entry["text"], at)
        check_keys(texts, at, set(codes))
        questions.append(Question(qid, {code: as_text(texts[code], f"{at} {code}") for code in codes}))
    return Guide(guide_id, version, review, codes, tuple(questions), digest)


def served(root: Path, guide_id: str, version: str, *, development: bool) -> Guide:
    """The guide a documenter may use: 404 for one that is not published, 409 for one not yet reviewed
    outside development mode."""
    if not NAME.fullmatch(guide_id) or not NAME.fullmatch(version):
        raise NotFound("no such interview guide")
    if not (root / guide_id / version / GUIDE_FILE).exists():
        raise NotFound("no such interview guide")
    guide = load(root, guide_id, version)
    if guide.review != REVIEWED and not development:
        raise Conflict(
            "this interview guide's translations have not been reviewed; it is served in development mode only",
            code="guide_unreviewed",
        )
    return guide
