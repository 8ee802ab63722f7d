"""The quasi-identifier check of a ``deidentified`` bundle: no combination of region, month, age band and sex
may be shared by fewer than ``K`` people in the bundle.

Rows whose combination is too rare are coarsened one step at a time, and only those rows (local recoding), in
this order: the month becomes its year; the age band widens, then goes; the region becomes its broader
region (as the caller's ``broader`` says), then goes; the sex goes. A row still too rare after the last step
is dropped, and the caller learns only how many were. Every step only merges rows into larger groups, so a
group that was large enough stays so, and the loop ends.

People are counted, not rows: one person's several records (interviews, incidents) in one group count once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import date

K = 5
"""A combination of quasi-identifiers must be shared by at least this many people."""

AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 11, "0-11"),
    (12, 17, "12-17"),
    (18, 29, "18-29"),
    (30, 39, "30-39"),
    (40, 49, "40-49"),
    (50, 59, "50-59"),
    (60, None, "60+"),
)
WIDER_AGE_BAND: dict[str, str] = {
    "0-11": "0-17",
    "12-17": "0-17",
    "18-29": "18-39",
    "30-39": "18-39",
    "40-49": "40-59",
    "50-59": "40-59",
    "60+": "60+ (wide)",
}
"""A band a step wider; minors stay apart from adults. The wide bands are named apart from the fine ones, so a
widened row never merges with a fine one by accident of spelling."""


def age_band(age_years: int | None) -> str | None:
    """The fine age band of an age in years."""
    if age_years is None or age_years < 0:
        return None
    for low, high, name in AGE_BANDS:
        if age_years >= low and (high is None or age_years <= high):
            return name
    return None


@dataclass(frozen=True)
class Quasi:
    """One record's quasi-identifiers, as the bundle would show them; None where the record shows none."""

    region: str | None
    month: str | None  # "YYYY-MM", or "YYYY" once coarsened
    age_band: str | None
    sex: str | None


@dataclass(frozen=True)
class Row:
    person: Hashable  # anything that tells people apart within the build (never written out)
    quasi: Quasi
    people: int = 1
    """How many people ``person`` stands for: people whose rows are all alike go through the check as one
    ``person`` counted this many times, and come out alike (every step depends only on a row's combination,
    its step and the counts), so a build keeps a count per kind of record instead of a row per record."""


@dataclass(frozen=True)
class Checked:
    kept: tuple[tuple[int, Quasi], ...]
    """(index of the row in the input, its quasi-identifiers as they may go), in input order."""
    dropped: int
    """How many rows were dropped: a count only."""


Broader = Callable[[str], str | None]


def _no_broader(_region: str) -> str | None:
    return None


def _step(quasi: Quasi, level: int, broader: Broader) -> Quasi:
    """The quasi-identifiers one step coarser than at ``level`` (the step that takes it to ``level + 1``)."""
    if level == 0:
        return replace(quasi, month=quasi.month[:4] if quasi.month else None)
    if level == 1:
        return replace(quasi, age_band=WIDER_AGE_BAND.get(quasi.age_band) if quasi.age_band else None)
    if level == 2:
        return replace(quasi, age_band=None)
    if level == 3:
        return replace(quasi, region=broader(quasi.region) if quasi.region else None)
    if level == 4:
        return replace(quasi, region=None)
    return replace(quasi, sex=None)


STEPS = 6
"""How many coarsening steps there are (month, age band twice, region twice, sex)."""


def check(rows: Sequence[Row], *, k: int = K, broader: Broader = _no_broader) -> Checked:
    """Coarsen the rows whose combination fewer than ``k`` people share, step by step; drop what stays rare."""
    current = [row.quasi for row in rows]
    levels = [0] * len(rows)
    while True:
        rare = _rare(rows, current, k)
        movable = [i for i in rare if levels[i] < STEPS]
        if not movable:
            break
        for i in movable:
            current[i] = _step(current[i], levels[i], broader)
            levels[i] += 1
    left_rare = set(_rare(rows, current, k))
    kept = tuple((i, current[i]) for i in range(len(rows)) if i not in left_rare)
    return Checked(kept=kept, dropped=len(left_rare))


def _rare(rows: Sequence[Row], current: Sequence[Quasi], k: int) -> list[int]:
    people: dict[Quasi, dict[Hashable, int]] = defaultdict(dict)
    for row, quasi in zip(rows, current, strict=True):
        people[quasi][row.person] = row.people
    return [i for i, quasi in enumerate(current) if sum(people[quasi].values()) < k]


def age_band_at(date_of_birth: date | None, age_years: int | None, at: date) -> str | None:
    """The fine age band of a person on a day: from the date of birth when known, else the age given."""
    if date_of_birth is not None:
        years = at.year - date_of_birth.year - ((at.month, at.day) < (date_of_birth.month, date_of_birth.day))
        return age_band(years)
    return age_band(age_years)
