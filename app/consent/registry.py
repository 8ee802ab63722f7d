"""The consent forms this deployment serves, loaded and validated once at start."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from app.consent.forms import (
    ConsentForm,
    FormError,
    TeachBackEntry,
    TextVariant,
    check_source,
    list_forms,
    load_form,
)
from app.consent.published import check_published, published_versions
from app.consent.review import Review, ReviewState, read_review
from app.consent.schemas import (
    DecisionQuestion,
    FormLanguageRead,
    FormRead,
    FormSummary,
    FormTextRead,
    PurposeLabel,
    ReviewerRead,
    TeachBackPrompt,
    TermLabel,
    TextRef,
)
from app.consent.vocabulary import DataCategory, DisclosureLevel, ReceiptOption, RecipientClass, TeachBackQuestion
from app.core.errors import NotFound, ValidationFailed

K = TypeVar("K", bound=str)
log = logging.getLogger("testimony.consent")


def default_root() -> Path:
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "consent_forms", here.parents[1] / "_consent_forms"):
        if candidate.is_dir():
            return candidate
    raise FormError("the consent_forms folder is missing from this installation")


def allowed(values: Iterable[object]) -> str:
    """The allowed values of one of the form's own lists, for an error message (never the client's input)."""
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True, slots=True)
class Served:
    form: ConsentForm
    review: Review


class FormRegistry:
    def __init__(self, root: Path | None = None, *, development: bool = False) -> None:
        self.root = root or default_root()
        self.development = development

    @cached_property
    def served_forms(self) -> dict[tuple[str, str], Served]:
        """Every published form version this deployment serves, with its review.

        Drafts are not served, and outside development mode neither is a version whose translations
        are not all signed off. A published version whose files changed, or a sign-off that cannot
        count, is a FormError that stops the start: records pin the hashes of what was read to people.
        """
        changed = check_published(self.root)
        if changed:
            raise FormError("published consent forms changed: " + "; ".join(str(p) for p in changed))
        published = published_versions(self.root)
        today = datetime.now(UTC).date()
        served: dict[tuple[str, str], Served] = {}
        sources: dict[str, str] = {}
        for form_id, version in list_forms(self.root):
            if (form_id, version) not in published:
                continue
            form = load_form(self.root, form_id, version)
            check_source(form, sources.setdefault(form_id, form.source_language))
            review = read_review(self.root, form, today)
            why_not = None if self.development else _not_for_the_field(form, review)
            if why_not is None:
                served[(form_id, version)] = Served(form, review)
            else:
                log.warning("consent form %s/%s is not served: %s (consent_forms/README.md)", form_id, version, why_not)
        return served

    @property
    def forms(self) -> dict[tuple[str, str], ConsentForm]:
        """The versions served, by (form, version)."""
        return {key: entry.form for key, entry in self.served_forms.items()}

    def get(self, form_id: str, version: str) -> ConsentForm | None:
        entry = self.served_forms.get((form_id, version))
        return None if entry is None else entry.form

    def review_of(self, form: ConsentForm) -> ReviewState:
        return self.served_forms[(form.form_id, form.version)].review.state

    def review_on(self, form: ConsentForm, language: str, day: date) -> str:
        """What a record of that day in that language was read: `source`, `reviewed` or `unreviewed`."""
        return self.served_forms[(form.form_id, form.version)].review.languages[language].state_on(day)

    def published_names(self) -> str:
        """The published versions as "standard/v1, ...", for messages that list what may be asked for."""
        return allowed(f"{f}/{v}" for f, v in sorted(self.forms)) or "none"

    def summaries(self) -> list[FormSummary]:
        return [
            FormSummary(
                form_id=f.form_id,
                version=f.version,
                languages=sorted(f.languages),
                digest=f.digest,
                review=self.review_of(f),
            )
            for _, f in sorted(self.forms.items())
        ]

    def served(self, form_id: str, version: str) -> ConsentForm:
        """A published version, or 404 listing the published ones."""
        form = self.get(form_id, version)
        if form is None:
            raise NotFound(
                "no published consent form by that name and version; published: %(forms)s",
                fields=["form_id", "version"],
                params={"forms": self.published_names()},
            )
        return form

    def text(self, form_id: str, version: str, language: str, variant: str = "main") -> FormTextRead:
        form = self.served(form_id, version)
        if language not in form.languages:
            raise NotFound(
                "consent form %(form)s has no text in that language; its languages: %(languages)s",
                fields=["language"],
                params={"form": f"{form.form_id}/{form.version}", "languages": list(form.languages)},
            )
        if variant not in {v.value for v in TextVariant}:
            raise ValidationFailed(
                "no such text variant; the variants: %(text_variants)s",
                fields=["variant"],
                params={"text_variants": [v.value for v in TextVariant]},
            )
        text = form.text(language, TextVariant(variant))
        return FormTextRead(
            form_id=form.form_id,
            version=form.version,
            language=language,
            variant=text.variant.value,
            sha256=text.sha256,
            content=text.content,
            review=self.review_of(form),
        )

    def whole(self, form_id: str, version: str) -> FormRead:
        form = self.served(form_id, version)
        review = self.served_forms[(form_id, version)].review
        return FormRead(
            form_id=form.form_id,
            version=form.version,
            digest=form.digest,
            review=review.state,
            source_language=form.source_language,
            complaints_email=form.complaints_email,
            sections=list(form.sections),
            languages=[_language(form, review, code) for code in form.languages],
        )


def _not_for_the_field(form: ConsentForm, review: Review) -> str | None:
    """Why a published version may not be read to people outside development mode, if it may not."""
    if form.is_template:
        return "it is a template: its complaints contact is on a domain reserved for examples"
    if review.state is ReviewState.UNREVIEWED:
        return f"translations {', '.join(review.unreviewed)} are not signed off"
    return None


def _language(form: ConsentForm, review: Review, code: str) -> FormLanguageRead:
    language = form.languages[code]
    reviewed = review.languages[code]
    return FormLanguageRead(
        code=code,
        name=language.name,
        title=form.title[code],
        organisation=form.organisation[code],
        review="source" if reviewed.is_source else "reviewed" if reviewed.reviewed else "unreviewed",
        reviewers=[ReviewerRead(name=r.name, role=r.role, date=r.date) for r in reviewed.reviewers],
        texts=[TextRef(variant=t.variant.value, sha256=t.sha256) for t in language.texts.values()],
        decisions=[
            DecisionQuestion(id=k, label=e.label[code], question=e.question[code]) for k, e in form.decisions.items()
        ],
        teach_back=_prompts(form.teach_back, code),
        child_teach_back=_prompts(form.child_teach_back, code),
        parameters={name: values[code] for name, values in form.parameters.items()},
        retention_options=_labels(TermLabel[str], form.retention_options, code),
        receipt_options=_labels(TermLabel[ReceiptOption], form.receipt_options, code),
        purposes=[
            PurposeLabel(id=k, label=e.label[code], example_recipient=e.example_recipient[code])
            for k, e in form.purposes.items()
        ],
        recipient_classes=_labels(TermLabel[RecipientClass], form.recipient_classes, code),
        data_categories=_labels(TermLabel[DataCategory], form.data_categories, code),
        disclosure_levels=_labels(TermLabel[DisclosureLevel], form.disclosure_levels, code),
    )


def _labels(kind: type[TermLabel[K]], terms: Mapping[K, Mapping[str, str]], code: str) -> list[TermLabel[K]]:
    return [kind(id=k, label=labels[code]) for k, labels in terms.items()]


def _prompts(questions: Mapping[TeachBackQuestion, TeachBackEntry], code: str) -> list[TeachBackPrompt]:
    return [
        TeachBackPrompt(id=k, question=e.question[code], listen_for=e.listen_for[code]) for k, e in questions.items()
    ]
