"""The quasi-identifier check applied to the ``deidentified`` records of a bundle (``app.exports.quasi``).

A ``deidentified`` record shows no place and no age, so its quasi-identifiers are the month of each incident
it tells of and the person's sex (``identity.sex_gender``, under ``demographics``). One row per incident (one
for a person with none) goes through ``quasi.check``; a month it coarsens becomes its year in the record (or
goes), a sex it takes away goes from the record, and a person any of whose rows it drops is left out of the
bundle whole, counted with the other people left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.consent.vocabulary import DisclosureLevel
from app.exports import quasi
from app.exports.material import Record


def _incidents(record: Record) -> list[dict[str, Any]]:
    return [i for interview in record.document.get("interviews", []) for i in interview.get("incidents", [])]


def _month(incident: dict[str, Any]) -> str | None:
    when = incident.get("date")
    start = when.get("start") if isinstance(when, dict) else None
    return start if isinstance(start, str) else None


def _sex(record: Record) -> str | None:
    value = record.document.get("identity", {}).get("sex_gender")
    return None if value is None else str(value)


def checked(records: Sequence[Record]) -> tuple[list[Record], int]:
    """The records with the deidentified ones checked and coarsened in place; how many people were dropped."""
    rows: list[quasi.Row] = []
    places: list[tuple[int, dict[str, Any] | None]] = []
    for index, record in enumerate(records):
        if record.level is not DisclosureLevel.DEIDENTIFIED:
            continue
        incidents: list[dict[str, Any] | None] = [*_incidents(record)] or [None]
        for incident in incidents:
            month = _month(incident) if incident is not None else None
            rows.append(quasi.Row(index, quasi.Quasi(region=None, month=month, age_band=None, sex=_sex(record))))
            places.append((index, incident))
    if not rows:
        return list(records), 0
    result = quasi.check(rows)
    kept = {position: shown for position, shown in result.kept}
    dropped = {places[position][0] for position in range(len(rows)) if position not in kept}
    for position, shown in kept.items():
        index, incident = places[position]
        if incident is not None and isinstance(incident.get("date"), dict):
            incident["date"] = {
                key: (None if shown.month is None else value[: len(shown.month)]) if isinstance(value, str) else value
                for key, value in incident["date"].items()
            }
        if shown.sex is None and _sex(records[index]) is not None:
            records[index].document["identity"].pop("sex_gender", None)
            if not records[index].document["identity"]:
                del records[index].document["identity"]
    return [r for i, r in enumerate(records) if i not in dropped], len(dropped)
