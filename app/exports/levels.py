"""What a disclosure level lets out of a person's sealed documents: pure functions the export build calls.

The build decides, per person, which categories go (``decide()``) and the one level (``person_level``); then,
for each sealed document it opened, ``allowed_fields`` keeps only the fields the field-to-category table maps
to a category that goes (a field the table does not know never leaves). What is left is shaped by the level:

- ``named_*``: as filtered.
- ``pseudonymous``: ``pseudonymise``: every internal id, grant id, UUID, receipt or pseudonym code and hash is
  replaced by a per-export opaque id (``OpaqueIds``, keyed by a random salt that lives only as long as the
  build), and the person is named by ``pseudonym``: a code per (recipient, person) under the derived export
  key, stable for one recipient and unlinkable between recipients. The original's exact size goes too: it
  fingerprints a circulated file as well as its hash would.
- ``deidentified``: ``deidentify``: only structured fields in ``DEIDENTIFIED_FIELDS`` go (never an identifier,
  contact, place or free text; the narrative comes from a custodian-reviewed redacted version the caller adds),
  dates are coarsened to the month, ids are opaque. The quasi-identifier check is in ``app.exports.quasi``.
- ``aggregate_only``: no record at all; counts go through ``app.exports.suppression``.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from app.consent.categories import FIELD_CATEGORIES, Field, category_of
from app.consent.vocabulary import DisclosureLevel, is_more_protective, most_protective

# The one level ------------------------------------------------------------------------------------------


def person_level(allowed: Iterable[DisclosureLevel], maximum: DisclosureLevel) -> DisclosureLevel | None:
    """The person's one level: the most protective of the levels their allowed categories allow, each capped
    by the request's maximum; None when no category is allowed.

    ``allowed`` holds, for each category ``decide()`` allowed at some level, the most revealing level at which
    it did (a mapping's ``.values()``). A category that was allowed at no level is not in it.
    """
    capped = [maximum if is_more_protective(maximum, level) else level for level in allowed]
    return most_protective(capped) if capped else None


def is_named(level: DisclosureLevel) -> bool:
    return level in (DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED)


# Field filtering ----------------------------------------------------------------------------------------


def allowed_fields(table: str, column: str, document: Mapping[str, Any], categories: Collection[str]) -> dict[str, Any]:
    """The part of one sealed document whose fields map to an allowed category.

    A path the table lists is one field, whatever it holds (a list of records is one field unless its parts
    are listed). A path the table does not list is walked only when it holds an object, or a list of objects,
    whose parts the table lists; anything else it does not know is left out.
    """
    return _filter(table, column, document, frozenset(categories), "")


_PARENTS: frozenset[Field] = frozenset(
    (t, c, p.rsplit(".", n)[0]) for (t, c, p) in FIELD_CATEGORIES for n in range(1, p.count(".") + 1)
)
"""Each path under which the field table lists parts (``a`` and ``a.b`` for ``a.b.c``): read from the table,
which cannot change, once."""


def _lists_parts_of(table: str, column: str, path: str) -> bool:
    return (table, column, path) in _PARENTS


def _filter(table: str, column: str, doc: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in doc.items():
        path = f"{prefix}{name}"
        category = category_of(table, column, path)
        if category is not None:
            if category in allowed:
                kept[name] = value
        elif _lists_parts_of(table, column, path):
            if isinstance(value, Mapping):
                inner = _filter(table, column, value, allowed, f"{path}.")
                if inner:
                    kept[name] = inner
            elif isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
                items = [_filter(table, column, item, allowed, f"{path}.") for item in value]
                if any(items):
                    kept[name] = items
    return kept


# Pseudonymous -------------------------------------------------------------------------------------------


def _code(digest: bytes, prefix: str, groups: int = 4) -> str:
    # Base32 turns each 5 bytes into 8 characters, so only the blocks the code shows are encoded: the same
    # characters as encoding the whole digest, at a fraction of the cost (the encoder is pure Python).
    chars = groups * 4
    text = base64.b32encode(digest[: -(-chars // 8) * 5]).decode()
    return prefix + "-" + "-".join(text[i : i + 4] for i in range(0, chars, 4))


def pseudonym(export_key: bytes, recipient_id: uuid.UUID, person_id: uuid.UUID) -> str:
    """The person's code for one recipient: HMAC-SHA256 under the derived export key (``Purpose.EXPORT_PSEUDONYM``)
    over the recipient and the person. The same for every export to that recipient, and unlinkable between
    recipients without the key."""
    message = b"testimony/export-pseudonym|" + recipient_id.bytes + person_id.bytes
    return _code(hmac.digest(export_key, message, "sha256"), "P")


class OpaqueIds:
    """Per-export opaque ids: an HMAC of the internal value under a random salt made for this export only.

    The same internal value gets the same opaque id throughout one export (records still refer to each other),
    and nothing links it to the value or to another export's id once the salt is gone; the salt is never
    stored or written anywhere.
    """

    def __init__(self) -> None:
        self._salt = secrets.token_bytes(32)
        self._recent: dict[object, str] = {}
        self._texts: dict[str, str] = {}

    def of(self, value: object) -> str:
        """The opaque id standing for an internal value (an id, a code, a hash)."""
        kept = type(value) is str or type(value) is uuid.UUID  # never 1 and True, equal keys of unequal text
        if kept and (known := self._recent.get(value)) is not None:
            return known
        text = str(value).strip().lower()
        opaque = _code(hmac.digest(self._salt, text.encode(), "sha256"), "X", groups=5)
        if kept:
            if len(self._recent) >= RECENT_IDS:  # bounded: a build of many people must not hold one per value
                self._recent.clear()
            self._recent[value] = opaque
        return opaque

    def in_text(self, text: str) -> str:
        """The text with each internal value found in it (``INTERNAL_VALUE``) replaced by its opaque id."""
        if len(text) > SHORT_TEXT:
            return INTERNAL_VALUE.sub(self._replace_match, text)
        if (known := self._texts.get(text)) is not None:
            return known
        replaced = INTERNAL_VALUE.sub(self._replace_match, text)
        if len(self._texts) >= RECENT_IDS:
            self._texts.clear()
        self._texts[text] = replaced
        return replaced

    def _replace_match(self, match: re.Match[str]) -> str:
        return self.of(match.group(0))


SHORT_TEXT = 80
"""Texts up to this long that ``in_text`` remembers (terms, URLs, dates, ids), the same way as ``RECENT_IDS``;
longer ones (a person's words) are searched every time and never kept."""
RECENT_IDS = 4096
"""Opaque ids an ``OpaqueIds`` remembers (then forgets all and starts again): a record asks for the same
values several times (its person, grants, chains), and the values every record shares (forms) stay found."""


_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_HEX = r"[0-9a-fA-F]{32,}"
_RECEIPT = r"[0-9A-HJKMNP-TV-Z]{5}(?:-[0-9A-HJKMNP-TV-Z]{5}){3}"  # app.consent.reference codes
_PERSON_CODE = r"[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{4}"  # app.people pseudonym codes
INTERNAL_VALUE = re.compile(rf"(?<![0-9A-Za-z-])(?:{_UUID}|{_HEX}|{_RECEIPT}|{_PERSON_CODE})(?![0-9A-Za-z-])")
"""Anything inside a string that could be an internal id, a receipt or pseudonym code or a hash."""

_ID_WORDS = frozenset({"id", "ids", "code", "codes", "sha256", "digest", "hash", "salt", "receipt", "reference"})
"""A key whose last ``_``-separated word is one of these names an id, code or hash (``id``, ``grant_ids``...)."""


def _is_id_key(key: str) -> bool:
    return key.lower().rpartition("_")[2] in _ID_WORDS


def pseudonymise(value: Any, ids: OpaqueIds) -> Any:
    """A copy of a JSON value with every internal value replaced by its opaque id.

    A value under a key named like an id, code or hash is replaced whole (each item of a list of them), and
    any UUID, long hex string, receipt or pseudonym code found inside any other string is replaced in place.
    The original's exact ``size`` goes with its hash: both fingerprint a circulated file.
    """
    kind = type(value)  # the exact JSON types first: an isinstance check against an ABC costs more than the rest
    if kind is dict:
        return _pseudonymise_dict(value, ids)
    if kind is str:
        return ids.in_text(value)
    if kind is list or kind is tuple:
        return [pseudonymise(item, ids) for item in value]
    if value is None or kind is bool or kind is int or kind is float:
        return value
    if isinstance(value, Mapping):
        return _pseudonymise_dict(value, ids)
    if isinstance(value, list | tuple):
        return [pseudonymise(item, ids) for item in value]
    if isinstance(value, uuid.UUID):
        return ids.of(value)
    if isinstance(value, str):
        return ids.in_text(str.__str__(value))  # a str subclass (an enum) by its text
    return value


def _pseudonymise_dict(value: Mapping[str, Any], ids: OpaqueIds) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "size":
            continue
        if _is_id_key(key):
            out[key] = _replace_whole(item, ids)
            continue
        kind = type(item)  # the leaves inline: one call a document's field was most of the cost
        if kind is str:
            out[key] = ids.in_text(item)
        elif item is None or kind is bool or kind is int or kind is float:
            out[key] = item
        else:
            out[key] = pseudonymise(item, ids)
    return out


def _replace_whole(value: Any, ids: OpaqueIds) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return [_replace_whole(item, ids) for item in value]
    if isinstance(value, Mapping):
        return pseudonymise(value, ids)
    return ids.of(value)


# Deidentified -------------------------------------------------------------------------------------------

DEIDENTIFIED_FIELDS: frozenset[Field] = frozenset(
    {
        ("people", "identity", "sex_gender"),
        ("people", "identity", "languages"),
        ("interviews", "details", "gender_preference"),
        ("interviews", "details", "checklist.private_setting"),
        ("interviews", "details", "checklist.referral_available_locally"),
        ("interviews", "details", "checklist.incident_types"),
        ("interviews", "details", "checklist.care_available_locally"),
        ("interviews", "details", "checklist.completed_at"),
        ("interviews", "details", "reconfirmation.confirmed"),
        ("interviews", "details", "reconfirmation.at"),
        ("interviews", "details", "reconfirmation.outcome"),
        ("statement_versions", "content", "read_back_in"),
        ("statement_versions", "content", "confirmed_by_interviewee"),
        ("incidents", "details", "date"),
        ("incidents", "details", "violation_types"),
    }
)
"""The only fields that may leave at ``deidentified``: structured values (choices, flags, dates), never an
identifier, a contact, a place, a person's own words or anyone's id. The narrative is the custodian-reviewed
redacted version, which the build adds itself."""

DATE_FIELDS: frozenset[Field] = frozenset(
    {
        ("interviews", "details", "checklist.completed_at"),
        ("interviews", "details", "reconfirmation.at"),
        ("incidents", "details", "date"),
    }
)
"""The fields among ``DEIDENTIFIED_FIELDS`` that hold dates (or objects of dates), coarsened to the month."""

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2}(?:[T ][0-9:.+\-Z]*)?)?$")


def to_month(value: Any) -> Any:
    """A date, a datetime, an ISO date string, or an object or list of them, coarsened to ``YYYY-MM``;
    a value that is no date becomes None (it is not let out in a form nobody checked)."""
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str):
        match = _ISO_DATE.match(value.strip())
        return f"{match.group(1)}-{match.group(2)}" if match else None
    if isinstance(value, Mapping):
        return {key: to_month(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_month(item) for item in value]
    return None


def deidentify(table: str, column: str, document: Mapping[str, Any], categories: Collection[str]) -> dict[str, Any]:
    """One sealed document at ``deidentified``: the allowed fields that are in ``DEIDENTIFIED_FIELDS``, with
    dates coarsened to the month. Ids never appear among those fields, so nothing needs replacing."""
    allowed = frozenset(categories)
    return _deidentify(table, column, allowed_fields(table, column, document, allowed), "")


def _deidentify(table: str, column: str, doc: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in doc.items():
        path = f"{prefix}{name}"
        field = (table, column, path)
        if field in FIELD_CATEGORIES:
            if field in DEIDENTIFIED_FIELDS:
                kept[name] = to_month(value) if field in DATE_FIELDS else value
        elif isinstance(value, Mapping):
            inner = _deidentify(table, column, value, f"{path}.")
            if inner:
                kept[name] = inner
        elif isinstance(value, list):
            items = [_deidentify(table, column, item, f"{path}.") for item in value if isinstance(item, Mapping)]
            if any(items):
                kept[name] = items
    return kept


# One call per document ----------------------------------------------------------------------------------


def for_level(
    level: DisclosureLevel,
    table: str,
    column: str,
    document: Mapping[str, Any],
    categories: Collection[str],
    ids: OpaqueIds,
) -> dict[str, Any] | None:
    """One sealed document as it may leave at the person's level; None at ``aggregate_only`` (counts only).

    Internal ids are replaced by the export's opaque ids at every level: none leaves in any bundle. The person's
    own name in the bundle (their pseudonym, or nothing) is the caller's to add.
    """
    if level is DisclosureLevel.AGGREGATE_ONLY:
        return None
    if level is DisclosureLevel.DEIDENTIFIED:
        shaped = deidentify(table, column, document, categories)
    else:
        shaped = allowed_fields(table, column, document, categories)
    result: dict[str, Any] = pseudonymise(shaped, ids)
    return result
