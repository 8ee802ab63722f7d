"""Consent form versions: the form model, and loading and validating `consent_forms/<form>/<version>/`.

Every failure is one FormError whose message names the form, version, language and term at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from app.consent.form_files import (
    FORM_FILE,
    UNPINNED,
    as_mapping,
    as_text,
    check_keys,
    decode_text,
    parse_yaml,
    read_bytes,
    sha256,
)
from app.consent.form_files import FormError as FormError
from app.consent.sections import MARKER as _MARKER
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

MAX_TEXT_BYTES = 256 * 1024
MAX_FORM_BYTES = 512 * 1024
MAX_LABEL_CHARS = 600

FORM_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
VERSION_PATTERN = re.compile(r"v[1-9][0-9]{0,5}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_RETENTION = re.compile(r"P[1-9][0-9]?Y")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
# A parameter value is a name or a short phrase: letters, spaces and a little punctuation. Markup, a
# section marker or braces in a value would change what the text says or hides once filled in.
_PARAMETER_VALUE = re.compile(r"[^\W\d_](?:[^\W_]|[ '\u2019.-])*")
# Domains reserved for examples and tests (RFC 2606, RFC 6761): a form that names one for its
# complaints contact is a template, and its organisation details are not real.
_RESERVED_DOMAIN = re.compile(r"@(?:.*\.)?(?:example|invalid|test|localhost)$|@(?:.*\.)?example\.(?:com|net|org)$")
# A value the text takes from form.yaml's parameters, such as what the region is called.
_PARAMETER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

Labels = Mapping[str, str]
E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


class TextVariant(StrEnum):
    """The texts each language provides."""

    MAIN = "main"
    CHILD = "child"
    GUARDIAN = "guardian"
    VERBAL_SCRIPT = "verbal_script"


@dataclass(frozen=True, slots=True)
class FormText:
    """One text as read to the person, its parameters filled in.

    sha256 is over the exact bytes of that text, which is what a consent record pins; file_sha256 is
    over the file as stored, which is what the published lock pins. They differ only where the text
    uses a parameter such as {{region}}.
    """

    language: str
    variant: TextVariant
    filename: str
    sha256: str
    content: str
    file_sha256: str


@dataclass(frozen=True, slots=True)
class FormLanguage:
    """A language of the form with its texts, and the date its texts and labels last changed.

    A translation's sign-off must be dated on or after that day and the source language's. Versions
    written before sign-offs moved out of form.yaml (v1) declare no date, and cannot be signed off.
    """

    code: str
    name: str
    texts: Mapping[TextVariant, FormText]
    changed: date | None


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
    child_teach_back: Mapping[TeachBackQuestion, TeachBackEntry]
    """Empty when the version has no questions in child language (v1)."""
    parameters: Mapping[str, Labels]
    files: Mapping[str, str]
    digest: str

    @property
    def is_template(self) -> bool:
        """Whether the complaints contact is on a domain reserved for examples: a template, not a real form."""
        return _RESERVED_DOMAIN.search(self.complaints_email.lower()) is not None

    def language_digest(self, code: str) -> str:
        """What a translation's reviewers sign: the SHA-256 over the hashes of form.yaml, the language's
        texts, and the source language's texts they were checked against.

        Any change to form.yaml (which holds every label), to one of the language's texts or to one of
        the source texts changes it.
        """
        codes = {code, self.source_language}
        names = [FORM_FILE, *(t.filename for c in codes for t in self.languages[c].texts.values())]
        return sha256("".join(f"{self.files[n]}  {n}\n" for n in sorted(names)).encode())

    def text(self, language: str, variant: TextVariant = TextVariant.MAIN) -> FormText:
        """The text of one variant in one language; FormError if the form has no such language."""
        if language not in self.languages:
            raise FormError(f"consent form {self.form_id}/{self.version} has no language {language!r}")
        return self.languages[language].texts[variant]


def load_form(root: Path, form_id: str, version: str) -> ConsentForm:
    """Load and validate one form version. Whether its translations are signed off is app/consent/review.py's."""
    check_ids(form_id, version)
    try:
        return _load(root / form_id / version, form_id, version)
    except FormError as exc:
        raise FormError(f"consent form {form_id}/{version}: {exc}") from None


def check_source(form: ConsentForm, source: str) -> None:
    """Every version of a form is written in one source language: relabelling a translation as the
    source would make it need no review."""
    if form.source_language != source:
        raise FormError(
            f"consent form {form.form_id}/{form.version}: source_language {form.source_language!r} differs from "
            f"the {source!r} of the form's earlier versions; translations are reviewed against one source"
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
    return sorted(found, key=version_key)


def _load(folder: Path, form_id: str, version: str) -> ConsentForm:
    if folder.is_symlink() or folder.parent.is_symlink():
        raise FormError("the form or version folder is a symlink")
    raw = read_bytes(folder, FORM_FILE, MAX_FORM_BYTES)
    doc = as_mapping(parse_yaml(raw), FORM_FILE)
    check_keys(doc, FORM_FILE, _TOP_KEYS, optional=_OPTIONAL_TOP_KEYS)
    if doc["form"] != form_id or doc["version"] != version:
        raise FormError(f"{FORM_FILE} declares {doc['form']}/{doc['version']}, which does not match its folder")
    languages_doc = as_mapping(doc["languages"], "languages")
    codes = tuple(languages_doc)
    if not codes or any(not _LANGUAGE.fullmatch(code) for code in codes):
        raise FormError("languages: expected ISO 639 codes such as en, hy, ru")
    source = doc["source_language"]
    if source not in codes:
        raise FormError(f"source_language {source!r} is not among the languages")
    org = as_mapping(doc["organisation"], "organisation")
    check_keys(org, "organisation", {"name", "complaints_email"})
    email = as_text(org["complaints_email"], "organisation.complaints_email")
    if not _EMAIL.fullmatch(email):
        raise FormError("organisation.complaints_email is not an email address")
    organisation = _labels(org["name"], "organisation name", codes)
    parameters = _parameters(doc.get("parameters", {}), codes)
    files = {FORM_FILE: sha256(raw)}
    languages = {
        code: _language(
            folder,
            code,
            as_mapping(languages_doc[code], f"language {code!r}"),
            {name: values[code] for name, values in parameters.items()},
            (organisation[code], email),
        )
        for code in codes
    }
    for language in languages.values():
        files.update({text.filename: text.file_sha256 for text in language.texts.values()})
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
        decisions=_terms(
            doc["decisions"],
            ParticipationDecision,
            "decision",
            lambda v, w: _decision(v, w, codes),
            required=REQUIRED_DECISIONS,
        ),
        retention_options=_retention(doc["retention_options"], codes),
        receipt_options=_terms(doc["receipt_options"], ReceiptOption, "receipt option", _labeller(codes)),
        teach_back=_terms(
            doc["teach_back"], TeachBackQuestion, "teach-back question", lambda v, w: _teach(v, w, codes)
        ),
        child_teach_back=_child_set(doc, codes),
        parameters=parameters,
        files=MappingProxyType(files),
        digest=sha256("".join(f"{d}  {n}\n" for n, d in sorted(files.items())).encode()),
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
_OPTIONAL_TOP_KEYS = {"parameters", "child_teach_back"}

# Collection is allowed only under a yes to both, so every version must ask them.
REQUIRED_DECISIONS = frozenset({ParticipationDecision.INTERVIEW_NOW, ParticipationDecision.STORAGE})


def _language(
    folder: Path, code: str, doc: dict[str, object], parameters: Mapping[str, str], must_mention: tuple[str, str]
) -> FormLanguage:
    where = f"language {code!r}"
    # `signoff` is the place v1 kept a single reviewer inside the pinned file. It is read for its shape
    # and never counted: sign-offs live in signoffs.yaml (app/consent/review.py).
    check_keys(doc, where, {"name", "texts"}, optional={"changed", "signoff"})
    texts_doc = as_mapping(doc["texts"], f"{where} texts")
    check_keys(texts_doc, f"{where} texts", {variant.value for variant in TextVariant})
    texts: dict[TextVariant, FormText] = {}
    for variant in TextVariant:
        name = as_text(texts_doc[variant.value], f"{where} {variant.value} text")
        if name in UNPINNED:
            raise FormError(f"{where} {variant.value} text: {name} is kept beside the texts, never one of them")
        raw = read_bytes(folder, name, MAX_TEXT_BYTES, f"{where} {variant.value} text")
        content = _fill(decode_text(raw, f"{where} {variant.value} text {name}"), parameters, f"{where} text {name}")
        _check_sections(content, f"{where} {variant.value} text {name}")
        for needle, what in zip(must_mention, ("organisation name", "complaints email"), strict=True):
            if needle not in content:
                raise FormError(f"{where} {variant.value} text {name} does not mention the {what} {needle!r}")
        texts[variant] = FormText(code, variant, name, sha256(content.encode()), content, sha256(raw))
    if len({text.filename for text in texts.values()}) != len(texts):
        raise FormError(f"{where}: two variants name the same file")
    if doc.get("signoff") is not None:
        parse_date(as_mapping(doc["signoff"], f"{where} signoff").get("date"), f"{where} signoff")
    changed = None if doc.get("changed") is None else parse_date(doc["changed"], f"{where} changed")
    return FormLanguage(code, as_text(doc["name"], f"{where} name"), MappingProxyType(texts), changed)


def parse_date(value: object, where: str) -> date:
    """An ISO date, as YAML gives it (a date) or as text; FormError otherwise."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise FormError(f"{where}: date must be an ISO date such as 2025-11-20") from None
    if type(value) is not date:
        raise FormError(f"{where}: date must be an ISO date such as 2025-11-20")
    return value


def _child_set(doc: dict[str, object], codes: tuple[str, ...]) -> Mapping[TeachBackQuestion, TeachBackEntry]:
    """The teach-back questions in child language: none, or the adult set's questions, each of them."""
    if "child_teach_back" not in doc:
        return MappingProxyType({})
    child = _terms(
        doc["child_teach_back"], TeachBackQuestion, "child teach-back question", lambda v, w: _teach(v, w, codes)
    )
    adult = {str(key) for key in as_mapping(doc["teach_back"], "teach-back questions")}
    if {term.value for term in child} != adult:
        raise FormError("child_teach_back must ask the same questions as teach_back, in child language")
    return child


def _parameters(value: object, codes: tuple[str, ...]) -> Mapping[str, Labels]:
    doc = as_mapping(value, "parameters")
    for name in doc:
        if not _PARAMETER_NAME.fullmatch(name):
            raise FormError(f"parameters: {name!r} is not a lower-case name such as region")
    parameters = {name: _labels(item, f"parameter {name!r}", codes) for name, item in doc.items()}
    for name, values in parameters.items():
        for code, text in values.items():
            if not _PARAMETER_VALUE.fullmatch(text):
                raise FormError(
                    f"parameter {name!r} in {code!r} must be a name or short phrase: letters, spaces, - ' and ."
                )
    return MappingProxyType(parameters)


def _fill(content: str, parameters: Mapping[str, str], where: str) -> str:
    """The text with every {{name}} replaced by the parameter's value in its language."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            known = ", ".join(sorted(parameters)) or "none"
            raise FormError(f"{where} uses {{{{{name[:40]}}}}}, which is not a parameter; parameters: {known}")
        return parameters[name]

    filled = _PARAMETER.sub(value, content)
    if "{{" in filled or "}}" in filled:
        raise FormError(f"{where} has an unclosed {{{{ or }}}}; write a parameter as {{{{name}}}}")
    return filled


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


def _terms(
    value: object,
    kind: type[E],
    noun: str,
    parse: Callable[[object, str], T],
    *,
    required: frozenset[E] = frozenset(),
    optional: bool = False,
) -> Mapping[E, T]:
    """The terms a version declares: its own vocabulary, each term known to the code.

    A version need not declare every term the code knows, so a term added for a later version never
    stops an earlier one from loading; what is not declared cannot be recorded under the version.
    """
    doc = as_mapping(value, f"{noun}s")
    for key in doc:
        if key not in {term.value for term in kind}:
            raise FormError(f"unknown {noun} {key!r}; the terms are defined in app/consent/vocabulary.py")
    if not doc and not optional:
        raise FormError(f"no {noun} is declared")
    missing = [term.value for term in kind if term in required and term.value not in doc]
    if missing:
        raise FormError(f"{noun} {missing[0]!r} is not declared; every version must ask it")
    return MappingProxyType({term: parse(doc[term.value], f"{noun} {term.value!r}") for term in kind if term in doc})


def _labeller(codes: tuple[str, ...]) -> Callable[[object, str], Labels]:
    return lambda value, where: _labels(value, where, codes)


def _purpose(value: object, where: str, codes: tuple[str, ...]) -> PurposeEntry:
    doc = as_mapping(value, where)
    check_keys(doc, where, {"label", "example_recipient"})
    return PurposeEntry(
        _labels(doc["label"], where, codes), _labels(doc["example_recipient"], f"{where} example", codes)
    )


def _decision(value: object, where: str, codes: tuple[str, ...]) -> DecisionEntry:
    doc = as_mapping(value, where)
    check_keys(doc, where, {"label", "question"})
    return DecisionEntry(_labels(doc["label"], where, codes), _labels(doc["question"], f"{where} question", codes))


def _teach(value: object, where: str, codes: tuple[str, ...]) -> TeachBackEntry:
    doc = as_mapping(value, where)
    check_keys(doc, where, {"question", "listen_for"})
    return TeachBackEntry(
        _labels(doc["question"], where, codes), _labels(doc["listen_for"], f"{where} key point", codes)
    )


def _retention(value: object, codes: tuple[str, ...]) -> Mapping[str, Labels]:
    doc = as_mapping(value, "retention_options")
    if not doc or any(not _RETENTION.fullmatch(key) for key in doc):
        raise FormError("retention_options: expected ISO 8601 periods in whole years, such as P10Y")
    return MappingProxyType({key: _labels(item, f"retention option {key!r}", codes) for key, item in doc.items()})


def _labels(value: object, where: str, codes: tuple[str, ...]) -> Labels:
    doc = as_mapping(value, where)
    for code in codes:
        if code not in doc:
            raise FormError(f"{where} has no {code!r} text")
    extra = sorted(set(doc) - set(codes))
    if extra:
        raise FormError(f"{where} has text in undeclared language {extra[0]!r}")
    labels = {code: as_text(doc[code], f"{where} in {code!r}") for code in codes}
    for code, text in labels.items():
        if len(text) > MAX_LABEL_CHARS or "\n" in text.strip():
            raise FormError(f"{where} in {code!r} must be one line of at most {MAX_LABEL_CHARS} characters")
        if any(mark in text for mark in ("{{", "}}", "<!--", "-->")):
            raise FormError(f"{where} in {code!r} is shown as it is: no {{{{parameters}}}} or HTML comments")
    return MappingProxyType(labels)


def _no_undeclared_files(folder: Path, files: Mapping[str, str]) -> None:
    for entry in sorted(folder.iterdir()):
        if entry.name not in files and entry.name not in UNPINNED:
            raise FormError(f"{entry.name} is in the version folder but not declared in {FORM_FILE}")


def check_ids(form_id: str, version: str) -> None:
    """FormError unless form_id is a lower-case id and version is like v1, so neither can leave the root."""
    if not FORM_ID_PATTERN.fullmatch(form_id) or not VERSION_PATTERN.fullmatch(version):
        raise FormError(f"consent form {form_id!r}/{version!r}: expected a lower-case form id and a version like v1")


def version_key(pair: tuple[str, str]) -> tuple[str, int, str]:
    """Sort (form, version) pairs with versions in numeric order: v2 before v10."""
    form_id, version = pair
    number = int(version[1:]) if VERSION_PATTERN.fullmatch(version) else -1
    return form_id, number, version
