"""What a redaction may do to a statement's text: remove, never add or change.

A redacted text is the statement's text with parts taken out. Every word and punctuation mark it keeps
must be one of the statement's, in the statement's order, and every removed part must be replaced by the
one marker ``[…]`` (``[...]`` is taken as the same marker and stored as ``[…]``): between two markers the
kept words are one unbroken run of the statement. Without that, dropping a word joins the words around
it into a new claim ("I did not see him shoot" becomes "I did see him shoot"), and the custodian who
reviews the redaction never sees the original. Spacing is free. Nothing here stores or returns what was
removed: the statement itself is what was removed from.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

MARKER = "[…]"
_MARKERS = re.compile(r"\[(?:…|\.\.\.)\]")
_TOKENS = re.compile(r"\w+|[^\w\s]")


class Outcome(Enum):
    REMOVES = "removes"
    """Keeps some of the statement's tokens, in order, and leaves at least one out."""
    KEEPS_ALL = "keeps_all"
    """Keeps every token of the statement: nothing was redacted."""
    ADDS = "adds"
    """Holds a token the statement does not have at that point: refused."""
    UNMARKED = "unmarked"
    """Removes a part without putting the marker in its place: refused."""


def normalise(redacted: str) -> str:
    """The redacted text as stored: NFC, every marker written the one way."""
    return _MARKERS.sub(MARKER, unicodedata.normalize("NFC", redacted))


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(unicodedata.normalize("NFC", text))


def compare(original: str, redacted: str) -> Outcome:
    """Whether ``redacted`` is ``original`` with parts removed (markers aside), and whether any were."""
    source = _tokens(original)
    kept = [token for part in _MARKERS.split(normalise(redacted)) for token in _tokens(part)]
    at = 0
    for token in kept:
        # The earliest match leaves the most of the statement for the tokens still to come.
        while at < len(source) and source[at] != token:
            at += 1
        if at == len(source):
            return Outcome.ADDS
        at += 1
    if len(kept) == len(source):
        return Outcome.KEEPS_ALL
    return Outcome.REMOVES if _every_gap_marked(source, _MARKERS.split(normalise(redacted))) else Outcome.UNMARKED


def _every_gap_marked(source: list[str], parts: list[str]) -> bool:
    """Each part between markers is an unbroken run of the statement, and a gap (before, between or after
    the runs) stands only where a marker does. Each run is placed at its earliest place after the last:
    that leaves the most of the statement for the runs still to come."""
    at = 0
    last = max((i for i, part in enumerate(parts) if _tokens(part)), default=None)
    for i, part in enumerate(parts):
        run = _tokens(part)
        if not run:
            continue
        found = next(
            (p for p in range(at, len(source) - len(run) + 1) if source[p : p + len(run)] == run),
            None,
        )
        if found is None or (found > at and i == 0):  # not a run, or a gap before the first marker
            return False
        at = found + len(run)
    if last is None:  # everything removed: a marker must say so
        return len(parts) > 1
    return at == len(source) or last < len(parts) - 1
