"""Translation review: the sign-offs in a version's `signoffs.yaml`, and whether the version is reviewed.

Sign-offs sit beside the pinned files and are not pinned themselves, so a published text can be signed
off later without changing it. What a sign-off signs is the language's digest (form.yaml and the
language's texts, see ConsentForm.language_digest): a sign-off for other text does not count.

A version is reviewed when every translation (every language but the source) carries a valid sign-off.
An unreviewed version is served in development mode only, marked `unreviewed`.

signoffs.yaml:

    hy:
      text_sha256: "<the language digest shown by `testimony forms review FORM VERSION`>"
      reviewers:
        - name: "..."
          role: "..."
          date: 2026-12-14
        - name: "..."
          role: "..."
          date: 2026-12-15
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from app.consent.form_files import SIGNOFF_FILE, as_mapping, as_text, check_keys, parse_yaml, read_bytes
from app.consent.forms import MAX_FORM_BYTES, ConsentForm, FormError, parse_date

REVIEWERS_NEEDED = 2
# Words that mark a value nobody filled in: a template, an example or a stand-in, not a person. In the
# three languages of the shipped forms, since reviewers write in theirs; checked after normalisation.
_PLACEHOLDER = re.compile(
    r"\b(fictional|fictitious|template|placeholder|example|sample|dummy|todo|tbd|tba|fixme|xxx+|lorem|ipsum"
    r"|test|n/?a|none|unknown|anonymous|somebody|someone|your|e\.g"
    r"|(full|first|last|given|family)\s+name|name\s+surname|first\s+last"
    r"|john\s+doe|jane\s+doe"
    r"|пример\w*|образ\w*|шаблон\w*|вымышл\w*|тест\w*|фио|имя\s+фамилия|иван\s+иванов\w*"
    r"|օրինակ\w*|կաղապար\w*|հորինված\w*|փորձնական\w*|անուն\s+ազգանուն)\b"
    r"|[<>\[\]{}]|\.\.\.|…",
    re.IGNORECASE,
)
# A name that is only a title and a number or letter ("Reviewer 1", "Рецензент Б").
_NUMBERED = re.compile(r"(reviewer|translator|рецензент|переводчик|գրախոս|թարգմանիչ)\s*\w{0,3}", re.IGNORECASE)
_SCRIPTS = ("LATIN", "CYRILLIC", "ARMENIAN", "GREEK")
# A sign-off dated after tomorrow (in any time zone) is a guess, not a record.
_CLOCK_SLACK = timedelta(days=1)


class ReviewState(StrEnum):
    REVIEWED = "reviewed"
    UNREVIEWED = "unreviewed"


@dataclass(frozen=True, slots=True)
class Reviewer:
    name: str
    role: str
    date: date


@dataclass(frozen=True, slots=True)
class LanguageReview:
    """A language's review: the source language is the text itself; a translation needs its sign-off."""

    code: str
    is_source: bool
    reviewers: tuple[Reviewer, ...]

    @property
    def reviewed(self) -> bool:
        return self.is_source or len(self.reviewers) >= REVIEWERS_NEEDED

    def state_on(self, day: date) -> str:
        """`source`, or whether the translation had been signed off by that day: what a record made
        that day was read."""
        if self.is_source:
            return "source"
        signed = self.reviewed and max(r.date for r in self.reviewers) <= day
        return ReviewState.REVIEWED.value if signed else ReviewState.UNREVIEWED.value


@dataclass(frozen=True, slots=True)
class Review:
    languages: Mapping[str, LanguageReview]

    @property
    def state(self) -> ReviewState:
        reviewed = all(language.reviewed for language in self.languages.values())
        return ReviewState.REVIEWED if reviewed else ReviewState.UNREVIEWED

    @property
    def unreviewed(self) -> list[str]:
        """The translations still waiting for a sign-off."""
        return [code for code, language in self.languages.items() if not language.reviewed]


def read_review(root: Path, form: ConsentForm, today: date) -> Review:
    """The version's review, from its signoffs.yaml (none: every translation unreviewed).

    FormError for a sign-off that cannot count: malformed, for another text, with fewer than two
    reviewers, a placeholder name or role, or a date before the text last changed or in the future.
    """
    form_name = f"consent form {form.form_id}/{form.version}"
    folder = root / form.form_id / form.version
    signed: dict[str, tuple[Reviewer, ...]] = {}
    path = folder / SIGNOFF_FILE
    if path.exists() or path.is_symlink():
        # Each failure below already names the file; only the form is added.
        try:
            raw = read_bytes(folder, SIGNOFF_FILE, MAX_FORM_BYTES, form_name)
            doc = as_mapping(parse_yaml(raw, SIGNOFF_FILE), SIGNOFF_FILE)
        except FormError as exc:
            raise FormError(f"{form_name}: {exc}" if str(exc).startswith(SIGNOFF_FILE) else str(exc)) from None
        for code, entry in doc.items():
            try:
                signed[code] = _signoff(form, code, entry, today)
            except FormError as exc:
                raise FormError(f"{form_name}: {SIGNOFF_FILE}: {exc}") from None
    return Review(
        MappingProxyType(
            {code: LanguageReview(code, code == form.source_language, signed.get(code, ())) for code in form.languages}
        )
    )


def _signoff(form: ConsentForm, code: str, entry: object, today: date) -> tuple[Reviewer, ...]:
    where = f"language {code!r}"
    if code not in form.languages:
        raise FormError(f"{where} is not a language of this version; its languages: {', '.join(form.languages)}")
    if code == form.source_language:
        raise FormError(f"{where} is the source language: its text is what translations are reviewed against")
    doc = as_mapping(entry, where)
    check_keys(doc, where, {"text_sha256", "reviewers"})
    digest = form.language_digest(code)
    if as_text(doc["text_sha256"], f"{where} text_sha256") != digest:
        raise FormError(
            f"{where}: the sign-off is for another text; the text as it is now has text_sha256 {digest}, "
            "and must be reviewed as it is now"
        )
    listed = doc["reviewers"]
    if not isinstance(listed, list) or len(listed) < REVIEWERS_NEEDED:
        raise FormError(f"{where}: a translation needs {REVIEWERS_NEEDED} reviewers, each with a name, role and date")
    source_changed = form.languages[form.source_language].changed
    own_changed = form.languages[code].changed
    if source_changed is None or own_changed is None:
        raise FormError(
            f"{where}: this version does not say when its texts last changed (languages: changed), so no "
            "sign-off can be checked against them; publish a new version"
        )
    text_date = max(source_changed, own_changed)
    reviewers = tuple(_reviewer(item, f"{where} reviewer {n}", text_date, today) for n, item in enumerate(listed, 1))
    names = [_same_person(reviewer.name) for reviewer in reviewers]
    # "A. Hovhannisyan" and "Anahit Hovhannisyan" may be one person: a name is the same as another when
    # its full words are all in the other.
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if set(a.split()) <= set(b.split()) or set(b.split()) <= set(a.split()):
                raise FormError(
                    f"{where}: the reviewers must be {len(reviewers)} different people; write each name in full"
                )
    return reviewers


def _reviewer(value: object, where: str, text_date: date, today: date) -> Reviewer:
    doc = as_mapping(value, where)
    check_keys(doc, where, {"name", "role", "date"})
    name = _plain(as_text(doc["name"], f"{where} name"), f"{where} name")
    role = _plain(as_text(doc["role"], f"{where} role"), f"{where} role")
    for field, text in (("name", name), ("role", role)):
        if (
            _PLACEHOLDER.search(text)
            or _NUMBERED.fullmatch(text)
            or not any(ch.isalpha() for ch in text)
            or len(text) < 2
        ):
            raise FormError(f"{where}: the {field} is a placeholder, not a reviewer's real {field}")
    when = parse_date(doc["date"], f"{where} date")
    if when < text_date:
        raise FormError(
            f"{where}: signed on {when.isoformat()}, before the text last changed on {text_date.isoformat()}; "
            "review the text as it is now"
        )
    if when > today + _CLOCK_SLACK:
        raise FormError(f"{where}: dated {when.isoformat()}, which is in the future")
    return Reviewer(name, role, when)


def _placeholder(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    return letters < 2 or _PLACEHOLDER.search(text) is not None or _NUMBERED.fullmatch(text) is not None


def _plain(text: str, where: str) -> str:
    """The text in NFKC form; refused when it hides characters or mixes alphabets inside a word.

    Invisible characters and look-alike letters from another alphabet would let a placeholder or a
    repeated name pass the checks below as something else.
    """
    text = unicodedata.normalize("NFKC", text)
    if any(unicodedata.category(ch) in {"Cf", "Cc", "Co", "Cn", "Zl", "Zp"} for ch in text):
        raise FormError(f"{where}: has invisible or control characters")
    for word in re.findall(r"\w+", text):
        scripts = {s for ch in word if ch.isalpha() for s in _SCRIPTS if unicodedata.name(ch, "").startswith(s)}
        if len(scripts) > 1:
            raise FormError(f"{where}: a word mixes letters of different alphabets")
    return text


def _same_person(name: str) -> str:
    """A name compared without case, punctuation or word order, initials standing for nothing more."""
    words = sorted(re.findall(r"\w+", name.casefold()))
    return " ".join(word for word in words if len(word) > 1) or " ".join(words)
