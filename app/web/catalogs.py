"""Keeping the catalogs whole: every message of the templates and the code, and the .po files' gaps.

`python -m app.web.catalogs` adds each missing message to every catalog with an empty translation,
for a translator to fill in; tests/web/test_i18n.py fails while any is empty, fuzzy or missing.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from app.web import i18n

HERE = Path(__file__).parent
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": (2,)}
"""``_(message)`` in templates and messages.py; ``render.gettext(request, message)`` in the code."""


def extract() -> set[str]:
    found = extract_from_dir(
        str(HERE), METHODS, keywords=KEYWORDS, options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    )
    return {message if isinstance(message, str) else message[0] for _file, _line, message, _c, _ctx in found}


def read(language: str) -> Catalog:
    with i18n.po_path(language).open("rb") as f:
        return read_po(f, locale=language, domain=i18n.DOMAIN)


def gaps(language: str) -> dict[str, set[str]]:
    return gaps_of(read(language), extract())


def gaps_of(catalog: Catalog, wanted: set[str]) -> dict[str, set[str]]:
    """What a catalog lacks (missing, empty or fuzzy) and what it keeps that nothing uses."""
    present = {m.id: m for m in catalog if isinstance(m.id, str) and m.id}
    return {
        "missing": wanted - set(present),
        "untranslated": {k for k, m in present.items() if k in wanted and (not m.string or m.fuzzy)},
        "unused": set(present) - wanted,
    }


def add_missing() -> None:
    for language in i18n.LANGUAGES:
        catalog = read(language)
        for message in sorted(extract() - {m.id for m in catalog if m.id}):
            catalog.add(message, message if language == i18n.DEFAULT else "")
        with i18n.po_path(language).open("wb") as f:
            write_po(f, catalog, width=120, omit_header=False)


if __name__ == "__main__":
    add_missing()
