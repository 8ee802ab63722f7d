"""The consent forms this deployment serves, loaded and validated once at start."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from app.consent.forms import ConsentForm, FormError, TextVariant, list_forms, load_form
from app.consent.published import check_published, published_versions
from app.consent.schemas import FormSummary, FormTextRead
from app.core.errors import NotFound


def default_root() -> Path:
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "consent_forms", here.parents[1] / "_consent_forms"):
        if candidate.is_dir():
            return candidate
    raise FormError("the consent_forms folder is missing from this installation")


class FormRegistry:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()

    @cached_property
    def forms(self) -> dict[tuple[str, str], ConsentForm]:
        """Every published form version, validated strictly (translations signed off).

        Drafts are not served. A published version whose files changed is a FormError
        that stops the start: records pin the hashes of what was read to people.
        """
        changed = check_published(self.root)
        if changed:
            raise FormError("published consent forms changed: " + "; ".join(str(p) for p in changed))
        published = published_versions(self.root)
        return {(f, v): load_form(self.root, f, v) for f, v in list_forms(self.root) if (f, v) in published}

    def get(self, form_id: str, version: str) -> ConsentForm | None:
        return self.forms.get((form_id, version))

    def summaries(self) -> list[FormSummary]:
        return [
            FormSummary(form_id=f.form_id, version=f.version, languages=sorted(f.languages), digest=f.digest)
            for _, f in sorted(self.forms.items())
        ]

    def text(self, form_id: str, version: str, language: str, variant: str = "main") -> FormTextRead:
        form = self.get(form_id, version)
        if form is None or language not in form.languages or variant not in {v.value for v in TextVariant}:
            raise NotFound("no such consent form, version or language")
        text = form.text(language, TextVariant(variant))
        return FormTextRead(
            form_id=form.form_id,
            version=form.version,
            language=language,
            variant=text.variant.value,
            sha256=text.sha256,
            content=text.content,
        )
