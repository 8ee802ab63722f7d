"""The pages' languages: Babel gettext catalogs in locales/, compiled in memory when the app starts.

English is the source language. A catalog whose translation no native speaker has signed off is
``unreviewed`` (locales/review.yaml), and every page in it says so, as the consent forms do.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import yaml
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT = "en"
LANGUAGES: dict[str, str] = {"en": "English", "hy": "Հայերեն", "ru": "Русский"}
"""Each language by its own name, as the switcher shows it."""


@dataclass(frozen=True)
class Catalog:
    language: str
    translations: Translations
    reviewed: bool


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def review_status() -> dict[str, str]:
    """Each language's review status from locales/review.yaml: `reviewed` or `unreviewed`."""
    data = yaml.safe_load((LOCALES / "review.yaml").read_text(encoding="utf-8"))
    return {lang: str(entry["status"]) for lang, entry in data["languages"].items()}


def compile_catalog(language: str) -> Translations:
    """The .po file compiled to a .mo in memory: nothing to build by hand, nothing written to disk."""
    with po_path(language).open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def load_catalogs() -> dict[str, Catalog]:
    status = review_status()
    if set(status) != set(LANGUAGES):
        raise ValueError("locales/review.yaml must list exactly the languages of the pages")
    return {lang: Catalog(lang, compile_catalog(lang), reviewed=status[lang] == "reviewed") for lang in LANGUAGES}


def choose(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT
