"""A consent text's section markers: where each of the 14 sections starts, for checking and for reading aloud.

The marker is an HTML comment alone on its line (consent_forms/README.md), so it never shows when the
text is rendered and is never read aloud by mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"<!--\s*section:\s*(\S+?)\s*-->")


@dataclass(frozen=True, slots=True)
class Section:
    """One section of a text: its id (None for the introduction before the first marker) and its lines."""

    id: str | None
    lines: tuple[str, ...]


def split(content: str) -> list[Section]:
    """The text cut at its markers, in order; the markers themselves are left out."""
    sections: list[Section] = []
    current: str | None = None
    lines: list[str] = []
    for line in content.splitlines():
        match = MARKER.fullmatch(line.strip())
        if match:
            if current is not None or any(x.strip() for x in lines):
                sections.append(Section(current, tuple(lines)))
            current, lines = match.group(1), []
        else:
            lines.append(line)
    if current is not None or any(x.strip() for x in lines):
        sections.append(Section(current, tuple(lines)))
    return sections
