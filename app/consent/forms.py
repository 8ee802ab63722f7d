"""The consent form registry: load and validate `consent_forms/<form>/<version>/`, and keep published ones fixed.

Every failure is one FormError whose message names the form, version, language and term at fault.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml

from app.consent.vocabulary import (
    DataCategory,
    DisclosureLevel,
    FormSection,
    ParticipationDecision,
    Purpose,
    ReceiptOption,
    RecipientClass,
    TeachBackQuestion,
)
from app.errors import ConfigError

FORM_FILE = "form.yaml"
LOCK_FILE = "published.lock"
MAX_TEXT_BYTES = 256 * 1024
MAX_FORM_BYTES = 512 * 1024
MAX_LABEL_CHARS = 600

_FORM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_VERSION = re.compile(r"v[1-9][0-9]{0,5}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
_RETENTION = re.compile(r"P[1-9][0-9]?Y")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# An HTML comment stays invisible when the text is rendered, so the marker is never read aloud by mistake.
_MARKER = re.compile(r"<!--\s*section:\s*(\S+?)\s*-->")
_LOCK_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")

Labels = Mapping[str, str]
E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


class FormError(ConfigError):
    """A consent form or the published lock is missing, malformed or inconsistent."""


class TextVariant(StrEnum):
    """The texts each language provides."""

    MAIN = "main"
    CHILD = "child"
    GUARDIAN = "guardian"
    VERBAL_SCRIPT = "verbal_script"


@dataclass(frozen=True, slots=True)
class SignOff:
    """Who wrote (source language) or reviewed (translation) a language's texts, and when."""

    name: str
    role: str
    date: date


@dataclass(frozen=True, slots=True)
class FormText:
    """One text as read to the person; sha256 is over its exact bytes."""

    language: str
    variant: TextVariant
    filename: str
    sha256: str
    content: str


@dataclass(frozen=True, slots=True)
class FormLanguage:
    """A language of the form with its texts and its sign-off."""

    code: str
    name: str
    texts: Mapping[TextVariant, FormText]
    signoff: SignOff | None


@dataclass(frozen=True, slots=True)
class PurposeEntry:
    """A purpose's plain label and an example recipient, per language."""

    label: Labels
    example_recipient: Labels


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """A participation decision's short label and the plain question asked, per language."""

    label: Labels
    question: Labels


@dataclass(frozen=True, slots=True)
class TeachBackEntry:
    """A teach-back question and the key point the interviewer listens for, per language."""

    question: Labels
    listen_for: Labels


@dataclass(frozen=True, slots=True)
class ConsentForm:
    """A validated form version; files maps each file name to its SHA-256 and digest pins the whole version."""

    form_id: str
    version: str
    source_language: str
    title: Labels
    organisation: Labels
    complaints_email: str
    languages: Mapping[str, FormLanguage]
    sections: tuple[FormSection, ...]
    purposes: Mapping[Purpose, PurposeEntry]
    recipient_classes: Mapping[RecipientClass, Labels]
    data_categories: Mapping[DataCategory, Labels]
    disclosure_levels: Mapping[DisclosureLevel, Labels]
    decisions: Mapping[ParticipationDecision, DecisionEntry]
    retention_options: Mapping[str, Labels]
    receipt_options: Mapping[ReceiptOption, Labels]
    teach_back: Mapping[TeachBackQuestion, TeachBackEntry]
    files: Mapping[str, str]
    digest: str

    def text(self, language: str, variant: TextVariant = TextVariant.MAIN) -> FormText:
        """The text of one variant in one language; FormError if the form has no such language."""
        if language not in self.languages:
            raise FormError(f"consent form {self.form_id}/{self.version} has no language {language!r}")
        return self.languages[language].texts[variant]


@dataclass(frozen=True, slots=True)
class LockProblem:
    """One way a published version's folder differs from what the lock pinned."""

    form_id: str
    version: str
    problem: str

    def __str__(self) -> str:
        return f"published consent form {self.form_id}/{self.version}: {self.problem}"


def load_form(root: Path, form_id: str, version: str, *, strict: bool = True) -> ConsentForm:
    """Load and validate one form version; strict also requires every translation's review sign-off."""
    _check_ids(form_id, version)
    try:
        form = _load(root / form_id / version, form_id, version)
    except FormError as exc:
        raise FormError(f"consent form {form_id}/{version}: {exc}") from None
    if strict:
        check_signoff(form)
    return form


def check_signoff(form: ConsentForm) -> None:
    """Refuse a form in which any translation lacks a reviewer's name, role and ISO date."""
    for code, language in form.languages.items():
        if code != form.source_language and language.signoff is None:
            raise FormError(
                f"consent form {form.form_id}/{form.version}: language {code!r} has no translation review "
                "sign-off (signoff: name, role, date); a translation cannot be used before review"
            )


def list_forms(root: Path) -> list[tuple[str, str]]:
    """Every (form, version) folder under root that holds a form.yaml, in form then version order."""
    if not root.is_dir():
        raise FormError(f"consent forms folder {root} does not exist")
    found = [
        (version_dir.parent.name, version_dir.name)
        for form_dir in root.iterdir()
        if form_dir.is_dir() and not form_dir.name.startswith(".")
        for version_dir in form_dir.iterdir()
        if version_dir.is_dir() and (version_dir / FORM_FILE).exists()
    ]
    return sorted(found, key=_version_key)


def published_versions(root: Path) -> frozenset[tuple[str, str]]:
    """The (form, version) pairs recorded in the published lock."""
    return frozenset(_split_lock_path(path)[:2] for path in read_lock(root))


def read_lock(root: Path) -> dict[str, str]:
    """The published lock as {"form/version/file": sha256}; empty when nothing is published yet."""
    path = root / LOCK_FILE
    if not path.exists() and not path.is_symlink():
        return {}
    data = _read_bytes(root, LOCK_FILE, MAX_FORM_BYTES).decode("utf-8", errors="replace")
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
    for (form_id, version), locked in sorted(by_version.items(), key=lambda item: _version_key(item[0])):
        folder = root / form_id / version
        if not folder.is_dir() or folder.is_symlink() or folder.parent.is_symlink():
            problems.append(LockProblem(form_id, version, "the folder is missing or is a symlink"))
            continue
        present = {entry.name for entry in folder.iterdir()}
        for name in sorted(present - locked.keys()):
            problems.append(LockProblem(form_id, version, f"{name} was added after publication"))
        for name, digest in sorted(locked.items()):
            if name not in present:
                problems.append(LockProblem(form_id, version, f"{name} was removed after publication"))
                continue
            try:
                actual = _sha256(_read_bytes(folder, name, MAX_FORM_BYTES))
            except FormError as exc:
                problems.append(LockProblem(form_id, version, str(exc)))
                continue
            if actual != digest:
                problems.append(
                    LockProblem(form_id, version, f"{name} changed after publication; publish a new version instead")
                )
    return problems


def publish(root: Path, form_id: str, version: str) -> ConsentForm:
    """Validate a version strictly and pin its files in the lock; an already published version is refused."""
    _check_ids(form_id, version)
    if (form_id, version) in published_versions(root):
        raise FormError(f"consent form {form_id}/{version} is already published; publish a new version instead")
    form = load_form(root, form_id, version)
    lock_path = root / LOCK_FILE
    # Existing lines are kept byte for byte: the lock is itself a record that only ever grows.
    head = _read_bytes(root, LOCK_FILE, MAX_FORM_BYTES) if lock_path.exists() else _LOCK_HEADER.encode()
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


def _load(folder: Path, form_id: str, version: str) -> ConsentForm:
    if folder.is_symlink() or folder.parent.is_symlink():
        raise FormError("the form or version folder is a symlink")
    raw = _read_bytes(folder, FORM_FILE, MAX_FORM_BYTES)
    doc = _map(_parse_yaml(raw), FORM_FILE)
    _keys(doc, FORM_FILE, _TOP_KEYS)
    if doc["form"] != form_id or doc["version"] != version:
        raise FormError(f"{FORM_FILE} declares {doc['form']}/{doc['version']}, which does not match its folder")
    languages_doc = _map(doc["languages"], "languages")
    codes = tuple(languages_doc)
    if not codes or any(not _LANGUAGE.fullmatch(code) for code in codes):
        raise FormError("languages: expected ISO 639 codes such as en, hy, ru")
    source = doc["source_language"]
    if source not in codes:
        raise FormError(f"source_language {source!r} is not among the languages")
    org = _map(doc["organisation"], "organisation")
    _keys(org, "organisation", {"name", "complaints_email"})
    email = _str(org["complaints_email"], "organisation.complaints_email")
    if not _EMAIL.fullmatch(email):
        raise FormError("organisation.complaints_email is not an email address")
    organisation = _labels(org["name"], "organisation name", codes)
    files = {FORM_FILE: _sha256(raw)}
    languages = {
        code: _language(folder, code, _map(languages_doc[code], f"language {code!r}"), organisation[code], email)
        for code in codes
    }
    for language in languages.values():
        files.update({text.filename: text.sha256 for text in language.texts.values()})
    _no_undeclared_files(folder, files)
    return ConsentForm(
        form_id=form_id,
        version=version,
        source_language=str(source),
        title=_labels(doc["title"], "title", codes),
        organisation=organisation,
        complaints_email=email,
        languages=MappingProxyType(languages),
        sections=_sections(doc["sections"]),
        purposes=_terms(doc["purposes"], Purpose, "purpose", lambda v, w: _purpose(v, w, codes)),
        recipient_classes=_terms(doc["recipient_classes"], RecipientClass, "recipient class", _labeller(codes)),
        data_categories=_terms(doc["data_categories"], DataCategory, "data category", _labeller(codes)),
        disclosure_levels=_terms(doc["disclosure_levels"], DisclosureLevel, "disclosure level", _labeller(codes)),
        decisions=_terms(doc["decisions"], ParticipationDecision, "decision", lambda v, w: _decision(v, w, codes)),
        retention_options=_retention(doc["retention_options"], codes),
        receipt_options=_terms(doc["receipt_options"], ReceiptOption, "receipt option", _labeller(codes)),
        teach_back=_terms(
            doc["teach_back"], TeachBackQuestion, "teach-back question", lambda v, w: _teach(v, w, codes)
        ),
        files=MappingProxyType(files),
        digest=_sha256("".join(f"{d}  {n}\n" for n, d in sorted(files.items())).encode()),
    )


_TOP_KEYS = {
    "form",
    "version",
    "source_language",
    "title",
    "organisation",
    "languages",
    "sections",
    "purposes",
    "recipient_classes",
    "data_categories",
    "disclosure_levels",
    "decisions",
    "retention_options",
    "receipt_options",
    "teach_back",
}


def _language(folder: Path, code: str, doc: dict[str, object], org_name: str, email: str) -> FormLanguage:
    where = f"language {code!r}"
    _keys(doc, where, {"name", "texts"}, optional={"signoff"})
    texts_doc = _map(doc["texts"], f"{where} texts")
    _keys(texts_doc, f"{where} texts", {variant.value for variant in TextVariant})
    texts: dict[TextVariant, FormText] = {}
    for variant in TextVariant:
        name = _str(texts_doc[variant.value], f"{where} {variant.value} text")
        raw = _read_bytes(folder, name, MAX_TEXT_BYTES, f"{where} {variant.value} text")
        content = _decode_text(raw, f"{where} {variant.value} text {name}")
        _check_sections(content, f"{where} {variant.value} text {name}")
        for needle, what in ((org_name, "organisation name"), (email, "complaints email")):
            if needle not in content:
                raise FormError(f"{where} {variant.value} text {name} does not mention the {what} {needle!r}")
        texts[variant] = FormText(code, variant, name, _sha256(raw), content)
    if len({text.filename for text in texts.values()}) != len(texts):
        raise FormError(f"{where}: two variants name the same file")
    signoff = None if doc.get("signoff") is None else _signoff(doc["signoff"], f"{where} signoff")
    return FormLanguage(code, _str(doc["name"], f"{where} name"), MappingProxyType(texts), signoff)


def _signoff(value: object, where: str) -> SignOff:
    doc = _map(value, where)
    _keys(doc, where, {"name", "role", "date"})
    when = doc["date"]
    if isinstance(when, str):
        try:
            when = date.fromisoformat(when)
        except ValueError:
            raise FormError(f"{where}: date must be an ISO date such as 2025-11-20") from None
    if type(when) is not date:
        raise FormError(f"{where}: date must be an ISO date such as 2025-11-20")
    return SignOff(_str(doc["name"], f"{where} name"), _str(doc["role"], f"{where} role"), when)


def _check_sections(content: str, where: str) -> None:
    found: list[str] = []
    bodies: list[bool] = []
    for line in content.splitlines():
        stripped = line.strip()
        match = _MARKER.fullmatch(stripped)
        if match:
            found.append(match.group(1))
            bodies.append(False)
        elif stripped.startswith("<!--") and "section" in stripped:
            raise FormError(f"{where}: malformed section marker {stripped[:60]!r}; write <!-- section: <id> -->")
        elif bodies and stripped and not stripped.startswith(("#", "<!--")):
            bodies[-1] = True
    expected = [section.value for section in FormSection]
    for section in expected:
        if section not in found:
            raise FormError(f"{where} has no section {section!r} (marker <!-- section: {section} -->)")
    if found != expected:
        raise FormError(f"{where}: sections must appear once each, in this order: {', '.join(expected)}")
    for section, has_body in zip(found, bodies, strict=True):
        if not has_body:
            raise FormError(f"{where}: section {section!r} is empty")


def _sections(value: object) -> tuple[FormSection, ...]:
    expected = [section.value for section in FormSection]
    if value != expected:
        raise FormError(f"sections must list exactly, in order: {', '.join(expected)}")
    return tuple(FormSection)


def _terms(value: object, kind: type[E], noun: str, parse: Callable[[object, str], T]) -> Mapping[E, T]:
    doc = _map(value, f"{noun}s")
    for key in doc:
        if key not in {term.value for term in kind}:
            raise FormError(f"unknown {noun} {key!r}; the vocabulary is fixed in app/consent/vocabulary.py")
    missing = [term.value for term in kind if term.value not in doc]
    if missing:
        raise FormError(f"{noun} {missing[0]!r} is not declared")
    return MappingProxyType({term: parse(doc[term.value], f"{noun} {term.value!r}") for term in kind})


def _labeller(codes: tuple[str, ...]) -> Callable[[object, str], Labels]:
    return lambda value, where: _labels(value, where, codes)


def _purpose(value: object, where: str, codes: tuple[str, ...]) -> PurposeEntry:
    doc = _map(value, where)
    _keys(doc, where, {"label", "example_recipient"})
    return PurposeEntry(
        _labels(doc["label"], where, codes), _labels(doc["example_recipient"], f"{where} example", codes)
    )


def _decision(value: object, where: str, codes: tuple[str, ...]) -> DecisionEntry:
    doc = _map(value, where)
    _keys(doc, where, {"label", "question"})
    return DecisionEntry(_labels(doc["label"], where, codes), _labels(doc["question"], f"{where} question", codes))


def _teach(value: object, where: str, codes: tuple[str, ...]) -> TeachBackEntry:
    doc = _map(value, where)
    _keys(doc, where, {"question", "listen_for"})
    return TeachBackEntry(
        _labels(doc["question"], where, codes), _labels(doc["listen_for"], f"{where} key point", codes)
    )


def _retention(value: object, codes: tuple[str, ...]) -> Mapping[str, Labels]:
    doc = _map(value, "retention_options")
    if not doc or any(not _RETENTION.fullmatch(key) for key in doc):
        raise FormError("retention_options: expected ISO 8601 periods in whole years, such as P10Y")
    return MappingProxyType({key: _labels(item, f"retention option {key!r}", codes) for key, item in doc.items()})


def _labels(value: object, where: str, codes: tuple[str, ...]) -> Labels:
    doc = _map(value, where)
    for code in codes:
        if code not in doc:
            raise FormError(f"{where} has no {code!r} text")
    extra = sorted(set(doc) - set(codes))
    if extra:
        raise FormError(f"{where} has text in undeclared language {extra[0]!r}")
    labels = {code: _str(doc[code], f"{where} in {code!r}") for code in codes}
    for code, text in labels.items():
        if len(text) > MAX_LABEL_CHARS or "\n" in text.strip():
            raise FormError(f"{where} in {code!r} must be one line of at most {MAX_LABEL_CHARS} characters")
    return MappingProxyType(labels)


def _map(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise FormError(f"{where}: expected a mapping with text keys")
    return value


def _keys(doc: Mapping[str, object], where: str, required: set[str], optional: Iterable[str] = ()) -> None:
    missing = sorted(required - doc.keys())
    if missing:
        raise FormError(f"{where}: missing {missing[0]!r}")
    unknown = sorted(doc.keys() - required - set(optional))
    if unknown:
        raise FormError(f"{where}: unknown key {unknown[0]!r}")


def _str(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise FormError(f"{where}: expected non-empty text (quote yes, no, on and off in YAML)")
    return value.strip()


def _decode_text(raw: bytes, where: str) -> str:
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError(f"{where} is not UTF-8") from None
    # Line endings and BOMs change the bytes, and therefore the pinned hash, without changing what is read aloud.
    if "\r" in content or content.startswith("\ufeff") or "\x00" in content:
        raise FormError(f"{where}: use UTF-8 without BOM, LF line endings and no NUL")
    return content


def _read_bytes(folder: Path, name: str, limit: int, where: str | None = None) -> bytes:
    where = where or name
    if not _FILE_NAME.fullmatch(name):
        raise FormError(f"{where}: {name!r} must be a plain file name in the version folder")
    path = folder / name
    if path.is_symlink():
        raise FormError(f"{where}: {name} is a symlink")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise FormError(f"{where}: file {name} is missing") from None
    except OSError as exc:
        reason = "is a symlink" if exc.errno == errno.ELOOP else "cannot be read"
        raise FormError(f"{where}: {name} {reason}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FormError(f"{where}: {name} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FormError(f"{where}: {name} is larger than {limit // 1024} KiB")
    return data


def _no_undeclared_files(folder: Path, files: Mapping[str, str]) -> None:
    for entry in sorted(folder.iterdir()):
        if entry.name not in files:
            raise FormError(f"{entry.name} is in the version folder but not declared in {FORM_FILE}")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases (no expansion bombs) or duplicate keys (no silently overridden labels)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise FormError(f"{FORM_FILE}: YAML aliases are not allowed")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise FormError(f"{FORM_FILE} line {key_node.start_mark.line + 1}: keys must be plain text")
            if key_node.value in seen:
                raise FormError(f"{FORM_FILE} line {key_node.start_mark.line + 1}: duplicate key {key_node.value!r}")
            seen.add(key_node.value)
        return dict(super().construct_mapping(node, deep))


def _parse_yaml(raw: bytes) -> object:
    try:
        return yaml.load(raw.decode("utf-8"), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except UnicodeDecodeError:
        raise FormError(f"{FORM_FILE} is not UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormError(f"{FORM_FILE} is not valid YAML{at}") from None
    except (ValueError, RecursionError):
        # PyYAML raises these for impossible dates such as 2026-13-01 and for absurd nesting.
        raise FormError(f"{FORM_FILE} is not valid YAML") from None


def _check_ids(form_id: str, version: str) -> None:
    if not _FORM_ID.fullmatch(form_id) or not _VERSION.fullmatch(version):
        raise FormError(f"consent form {form_id!r}/{version!r}: expected a lower-case form id and a version like v1")


def _split_lock_path(rel: str, where: str = LOCK_FILE) -> tuple[str, str, str]:
    parts = rel.split("/")
    if len(parts) != 3 or not _FORM_ID.fullmatch(parts[0]) or not _VERSION.fullmatch(parts[1]):
        raise FormError(f"{where}: {rel!r} is not <form>/<version>/<file>")
    if not _FILE_NAME.fullmatch(parts[2]):
        raise FormError(f"{where}: {rel!r} does not end in a plain file name")
    return parts[0], parts[1], parts[2]


def _version_key(pair: tuple[str, str]) -> tuple[str, int, str]:
    form_id, version = pair
    number = int(version[1:]) if _VERSION.fullmatch(version) else -1
    return form_id, number, version


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
