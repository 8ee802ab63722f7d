"""What a redaction may do to a statement's text: remove, never add or change.

A redacted text is the statement's text with parts taken out. Every word and punctuation mark it keeps
must be one of the statement's, in the statement's order; a removed part may be replaced by the one
marker ``[…]`` (``[...]`` is taken as the same marker and stored as ``[…]``). Spacing is free. Nothing
here stores or returns what was removed: the statement itself is what was removed from.
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
    return Outcome.KEEPS_ALL if len(kept) == len(source) else Outcome.REMOVES
