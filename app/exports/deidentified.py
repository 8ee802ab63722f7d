"""The quasi-identifier check applied to the ``deidentified`` records of a bundle (``app.exports.quasi``).

A ``deidentified`` record shows no place and no age, so its quasi-identifiers are the month of each incident
it tells of and the person's sex (``identity.sex_gender``, under ``demographics``). One row per incident (one
for a person with none) goes through ``quasi.check``; a month it coarsens becomes its year in the record (or
goes), a sex it takes away goes from the record, and a person any of whose rows it drops is left out of the
bundle whole, counted with the other people left out.

The bundle's writer keeps no record in memory while it reads the pages: it counts the ``deidentified`` records
of each kind (alike in their quasi-identifiers, ``quasi_of``), checks the counts once every page is read
(``check``), and applies what the check decided to each record as it streams it out (``apply``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.exports import quasi


@dataclass(frozen=True)
class Quasi:
    """What the check reads of one ``deidentified`` record: the month of each incident it tells of, in order
    (one ``None`` for a record with none), and the person's sex."""

    months: tuple[str | None, ...]
    sex: str | None


@dataclass(frozen=True)
class Shown:
    """What the check left of a kept record: per incident the length its date's values are cut to (``None``:
    the date goes), and whether the sex goes."""

    month_lengths: tuple[int | None, ...]
    drop_sex: bool


def _incidents(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [i for interview in document.get("interviews", []) for i in interview.get("incidents", [])]


def _month(incident: Mapping[str, Any]) -> str | None:
    when = incident.get("date")
    start = when.get("start") if isinstance(when, dict) else None
    return start if isinstance(start, str) else None


def _sex(document: Mapping[str, Any]) -> str | None:
    value = document.get("identity", {}).get("sex_gender")
    return None if value is None else str(value)


def quasi_of(document: Mapping[str, Any]) -> Quasi:
    """The quasi-identifiers of a ``deidentified`` record's document."""
    months = tuple(_month(i) for i in _incidents(document)) or (None,)
    return Quasi(months, _sex(document))


def check(kinds: Mapping[Quasi, int]) -> tuple[set[Quasi], dict[Quasi, Shown]]:
    """The check over every ``deidentified`` record of a bundle, given as how many records there are of each
    kind (records alike in their quasi-identifiers: ``quasi_of``): the kinds dropped, and what is shown of the
    records of each kind kept. The same as checking a row per record (``quasi.Row.people``): records alike
    come out alike, so a build keeps a count per kind, never a summary per record."""
    records = [(q, n) for q, n in kinds.items() if n > 0]
    rows: list[quasi.Row] = []
    owners: list[int] = []
    for index, (q, people) in enumerate(records):
        for month in q.months:
            rows.append(quasi.Row(index, quasi.Quasi(region=None, month=month, age_band=None, sex=q.sex), people))
            owners.append(index)
    if not rows:
        return set(), {}
    result = quasi.check(rows)
    kept = dict(result.kept)
    dropped = {owners[position] for position in range(len(rows)) if position not in kept}
    shown: dict[Quasi, Shown] = {}
    position = 0
    for index, (q, _) in enumerate(records):
        positions = range(position, position + len(q.months))
        position += len(q.months)
        if index in dropped:
            continue
        lengths = tuple(None if kept[p].month is None else len(str(kept[p].month)) for p in positions)
        drop_sex = q.sex is not None and any(kept[p].sex is None for p in positions)
        shown[q] = Shown(lengths, drop_sex)
    return {records[i][0] for i in dropped}, shown


def apply(document: dict[str, Any], shown: Shown) -> None:
    """Coarsen a kept ``deidentified`` record's document in place as the check decided."""
    for incident, length in zip(_incidents(document), shown.month_lengths, strict=False):
        if isinstance(incident.get("date"), dict):
            incident["date"] = {
                key: (None if length is None else value[:length]) if isinstance(value, str) else value
                for key, value in incident["date"].items()
            }
    if shown.drop_sex:
        document["identity"].pop("sex_gender", None)
        if not document["identity"]:
            del document["identity"]
