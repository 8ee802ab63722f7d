"""A consent text cut at its section markers: what the consent wizard shows section by section."""

from __future__ import annotations

from app.consent.forms import TextVariant
from app.consent.registry import FormRegistry
from app.consent.sections import split
from app.consent.vocabulary import FormSection


def test_every_shipped_text_splits_into_its_introduction_and_the_fourteen_sections() -> None:
    forms = FormRegistry(development=True)
    for form in forms.forms.values():
        for language in form.languages:
            for variant in TextVariant:
                parts = split(form.text(language, variant).content)
                assert parts[0].id is None  # the title and the short introduction
                assert [p.id for p in parts[1:]] == [s.value for s in FormSection]
                assert not any("<!--" in line for p in parts for line in p.lines)


def test_a_text_without_an_introduction_starts_with_its_first_section() -> None:
    parts = split("<!-- section: who_we_are -->\n## 1. Who\nWe are.\n\n<!--section:voluntary-->\nYou choose.\n")
    assert [(p.id, [x for x in p.lines if x]) for p in parts] == [
        ("who_we_are", ["## 1. Who", "We are."]),
        ("voluntary", ["You choose."]),
    ]
