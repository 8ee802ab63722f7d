"""The participation-consent wizard's page: the form read section by section in two languages, and the
posted fields turned into the service's input (the service decides what is complete; the page only asks).

Nothing of the person goes into a URL: the page is posted, and the code word is never shown again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from app.access.principal import Principal
from app.consent import sections
from app.consent import service as consent
from app.consent.schemas import FormLanguageRead, FormRead, FormTextRead
from app.core.errors import ValidationFailed
from app.runtime import Runtime
from app.web import render
from app.web.messages import _

YES, NO = "yes", "no"
TIME_TO_THINK = "time_to_think"
SECRET_FIELDS = frozenset({"withdrawal_code_word", render.CSRF_FIELD})
"""Never put back into a page shown again: the code word is said once, and typed again after an error."""
MAX_FIELDS = 200


@dataclass(frozen=True)
class Block:
    """A piece of a section as the page shows it: a heading, a paragraph or a bulleted list."""

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class SectionPair:
    """One section in the interviewee's language, beside the same section in the staff's."""

    id: str | None
    title: str | None
    """The section's heading in the interviewee's language (the text's own, as written)."""
    theirs: tuple[Block, ...]
    ours_title: str | None
    ours: tuple[Block, ...] | None


def _titled(found: tuple[Block, ...]) -> tuple[str | None, tuple[Block, ...]]:
    """A section's leading heading apart from its body."""
    if found and found[0].kind == "heading":
        return found[0].text, found[1:]
    return None, found


@dataclass(frozen=True)
class Choice:
    """What the first step chose: the form version, the interviewee's language and who the text is for."""

    form_id: str
    version: str
    language: str
    variant: str

    @property
    def child(self) -> bool:
        return self.variant == "child"


@dataclass
class Texts:
    """What the page needs of the form: both languages' labels and the texts read, with their hashes."""

    form: FormRead
    theirs: FormLanguageRead
    ours: FormLanguageRead
    text: FormTextRead
    staff_text: FormTextRead | None
    guardian: FormTextRead | None
    guardian_staff: FormTextRead | None
    extra: dict[str, Any] = field(default_factory=dict)


def blocks(lines: tuple[str, ...]) -> tuple[Block, ...]:
    """Markdown written to be read aloud, as plain blocks (autoescaped by the template, never raw HTML)."""
    found: list[Block] = []
    items: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith("- "):
            items.append(line[2:].strip())
            continue
        if items:
            found.append(Block("list", items=tuple(items)))
            items = []
        if not line:
            continue
        if line.startswith("#"):
            found.append(Block("heading", line.lstrip("#").strip()))
        else:
            found.append(Block("para", line))
    if items:
        found.append(Block("list", items=tuple(items)))
    return tuple(found)


def pairs(theirs: FormTextRead, ours: FormTextRead | None) -> list[SectionPair]:
    """The two texts side by side, section by section (every text has the same sections, in order)."""
    mine = {s.id: s for s in sections.split(ours.content)} if ours is not None else {}
    result = []
    for section in sections.split(theirs.content):
        other = mine.get(section.id)
        title, body = _titled(blocks(section.lines))
        other_title, other_body = _titled(blocks(other.lines)) if other else (None, None)
        result.append(SectionPair(section.id, title, body, other_title, other_body))
    return result


def language_of(form: FormRead, code: str) -> FormLanguageRead:
    return next(lang for lang in form.languages if lang.code == code)


def staff_language(request: Request, form: FormRead) -> str:
    """The page's language when the form has it, else the form's source language."""
    wanted = render.language_of(request)
    return wanted if any(lang.code == wanted for lang in form.languages) else form.source_language


def context(texts: Texts, choice: Choice, values: Mapping[str, str]) -> dict[str, Any]:
    theirs, ours = texts.theirs, texts.ours
    child_set = choice.child and bool(theirs.child_teach_back)
    same = theirs.code == ours.code
    return {
        "choice": choice,
        "form": texts.form,
        "theirs": theirs,
        "ours": ours,
        "same_language": same,
        "text": texts.text,
        "sections": pairs(texts.text, None if same else texts.staff_text),
        "guardian": texts.guardian,
        "guardian_sections": pairs(texts.guardian, None if same else texts.guardian_staff) if texts.guardian else [],
        "decisions": list(zip(theirs.decisions, ours.decisions, strict=True)),
        "teach_back_set": "child" if child_set else "adult",
        "teach_back": list(
            zip(
                theirs.child_teach_back if child_set else theirs.teach_back,
                ours.child_teach_back if child_set else ours.teach_back,
                strict=True,
            )
        ),
        "values": {k: v for k, v in values.items() if k not in SECRET_FIELDS},
        "problems": [],
        **texts.extra,
    }


# Where the service's field names are on the page: the anchor to link to and what the field is called.
FIELD_PLACES: dict[str, tuple[str, str]] = {
    "witness": ("method", _("How consent is taken")),
    "method": ("method", _("How consent is taken")),
    "place": ("method", _("How consent is taken")),
    "date_of_birth": ("age", _("Date of birth or age")),
    "age_years": ("age", _("Date of birth or age")),
    "interpreter": ("interpreter", _("Interpreter")),
    "retention": ("decision-storage", _("How long to keep it")),
    "recontact": ("recontact", _("Contacting the person later")),
    "teach_back": ("teach-back", _("Teach-back")),
    "teach_back_set": ("teach-back", _("Teach-back")),
    "minor": ("minor", _("A child and their guardian")),
    "withdrawal_code_word": ("code-word", _("Withdrawal code word")),
    "receipt": ("receipt", _("Receipt")),
    "notes": ("notes", _("Notes")),
    "deferred_reason": ("outcome", _("Needs time to think")),
}


def problems(request: Request, fields: list[str], decisions: Mapping[str, str]) -> list[tuple[str, str]]:
    """The fields an error names, as (anchor, name in the staff's language), each once, in order."""
    found: list[tuple[str, str]] = []
    for name in fields:
        head, _dot, rest = name.partition(".")
        if head == "decisions":
            decision = rest.split(".")[0]
            place = (f"decision-{decision}", decisions.get(decision, render.gettext(request, "Decisions")))
            if not decision:
                place = ("decisions", render.gettext(request, "Decisions"))
        elif head in FIELD_PLACES:
            anchor, label = FIELD_PLACES[head]
            place = (anchor, render.gettext(request, label))
        else:
            place = ("form-text", render.gettext(request, "The form and the text read"))
        if place not in found:
            found.append(place)
    return found


def _text(values: Mapping[str, str], name: str) -> str | None:
    value = values.get(name, "").strip()
    return value or None


def _yes_no(values: Mapping[str, str], name: str) -> bool | None:
    value = values.get(name)
    return True if value == YES else False if value == NO else None


def participation(values: Mapping[str, str], choice: Choice, texts: Texts, teach_back_set: str) -> dict[str, Any]:
    """The posted fields as the API's ParticipationCreate body. A part the documenter left empty is left
    out, so that the service's own check names it; "time to think" records a deferral with what was said."""
    deferring = values.get("outcome") == TIME_TO_THINK
    decisions = {d.id.value: _yes_no(values, f"decision_{d.id.value}") for d in texts.theirs.decisions}
    body: dict[str, Any] = {
        "form_id": choice.form_id,
        "form_version": choice.version,
        "language": choice.language,
        "text_variant": choice.variant,
        "text_sha256": values.get("text_sha256", ""),
        "method": values.get("method") or "verbal_witnessed",
        "place": _text(values, "place"),
        "decisions": {k: v for k, v in decisions.items() if v is not None} or None,
        "teach_back": {
            key.removeprefix("teach_back_"): value
            for key, value in values.items()
            if key.startswith("teach_back_") and value in {"pass", "re_explained"}
        },
        "teach_back_set": teach_back_set,
        "notes": _text(values, "notes"),
    }
    if choice.child and values.get("guardian_text_sha256"):
        body["guardian_text_sha256"] = values["guardian_text_sha256"]
    if _text(values, "witness_name") or _text(values, "witness_role"):
        body["witness"] = {"name": values.get("witness_name", ""), "role": values.get("witness_role", "")}
    if _text(values, "date_of_birth"):
        body["date_of_birth"] = values["date_of_birth"].strip()
    elif _text(values, "age_years"):
        body["age_years"] = values["age_years"].strip()
    if deferring:
        return body | {"status": "deferred", "deferred_reason": TIME_TO_THINK}
    body |= {
        "decisions": decisions if all(v is not None for v in decisions.values()) else body["decisions"],
        "retention": _text(values, "retention"),
        "withdrawal_code_word": _text(values, "withdrawal_code_word"),
        "receipt": _text(values, "receipt"),
    }
    if values.get("interpreter") == YES:
        body["interpreter"] = {
            "name": values.get("interpreter_name", ""),
            "accepted_by_interviewee": _yes_no(values, "interpreter_accepted"),
            "confidentiality_signed": _yes_no(values, "interpreter_confidentiality"),
            "conflict_check": values.get("interpreter_conflict", ""),
            "conflict_note": _text(values, "interpreter_conflict_note"),
        }
    if decisions.get("re_contact") is True and any(_text(values, k) for k in RECONTACT):
        body["recontact"] = {
            "channel": values.get("recontact_channel", ""),
            "phone_owner": values.get("recontact_phone_owner", ""),
            "may_leave_messages": _yes_no(values, "recontact_messages"),
            "safe_times": values.get("recontact_safe_times", ""),
            "if_someone_else_answers": values.get("recontact_someone_else", ""),
            "expires_on": values.get("recontact_expires_on", ""),
        }
    if choice.child:
        body["minor"] = _minor(values)
    return body


RECONTACT = (
    "recontact_channel",
    "recontact_phone_owner",
    "recontact_safe_times",
    "recontact_someone_else",
    "recontact_expires_on",
)


def _minor(values: Mapping[str, str]) -> dict[str, Any]:
    minor: dict[str, Any] = {
        "assent": _yes_no(values, "minor_assent"),
        "guardian_conflict": values.get("guardian_conflict") == YES,
        "social_worker": _text(values, "social_worker"),
        "best_interests_checked_by": values.get("best_interests_checked_by", ""),
    }
    if _text(values, "guardian_name") or _text(values, "guardian_relation"):
        minor["guardian"] = {
            "name": values.get("guardian_name", ""),
            "relation": values.get("guardian_relation", ""),
            "consent": _yes_no(values, "guardian_consent"),
        }
    return minor


def choice_of(values: Mapping[str, str]) -> Choice:
    """The first step's answer, as posted (the services refuse a form, version or language they lack)."""
    form_id, _slash, version = values.get("form", "").partition("/")
    variant = "child" if values.get("variant") == "child" else "main"
    return Choice(form_id=form_id, version=version, language=values.get("language", ""), variant=variant)


def load(request: Request, runtime: Runtime, principal: Principal, choice: Choice) -> Texts:
    """The form and its texts through the consent service, as the API serves them (404 for what it lacks)."""
    form = consent.read_form(runtime, principal, choice.form_id, choice.version)
    if not any(lang.code == choice.language for lang in form.languages):
        raise ValidationFailed(_("Choose one of the form's languages."), fields=["language"])
    staff = staff_language(request, form)

    def text(language: str, variant: str) -> FormTextRead:
        return consent.form_text(runtime, principal, form.form_id, form.version, language, variant)

    same = staff == choice.language
    return Texts(
        form=form,
        theirs=language_of(form, choice.language),
        ours=language_of(form, staff),
        text=text(choice.language, choice.variant),
        staff_text=None if same else text(staff, choice.variant),
        guardian=text(choice.language, "guardian") if choice.child else None,
        guardian_staff=text(staff, "guardian") if choice.child and not same else None,
    )
