"""The quasi-identifier check: no combination of region, month, age band and sex shared by fewer than five
people leaves; rare rows are coarsened, then dropped, and only the count of dropped rows is told."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from app.exports import deidentified
from app.exports.quasi import WIDER_AGE_BAND, K, Quasi, Row, age_band, age_band_at, check

BROADER = {"Tawila": "North Darfur", "El Fasher": "North Darfur", "Nyala": "South Darfur"}


def _rows(quasi: Quasi, people: range) -> list[Row]:
    return [Row(person=p, quasi=quasi) for p in people]


def test_a_combination_five_people_share_leaves_as_it_is() -> None:
    q = Quasi("Tawila", "2024-03", "18-29", "female")
    checked = check(_rows(q, range(5)))
    assert checked.dropped == 0
    assert [quasi for _, quasi in checked.kept] == [q] * 5


def test_rare_months_become_their_year_when_that_is_enough() -> None:
    rows = [Row(p, Quasi("Tawila", f"2024-0{1 + p % 3}", "18-29", "female")) for p in range(6)]
    checked = check(rows)
    assert checked.dropped == 0
    assert {quasi for _, quasi in checked.kept} == {Quasi("Tawila", "2024", "18-29", "female")}


def test_coarsening_goes_on_to_wider_age_bands_and_broader_regions() -> None:
    rows = [
        Row(1, Quasi("Tawila", "2024-01", "18-29", "female")),
        Row(2, Quasi("Tawila", "2024-02", "30-39", "female")),
        Row(3, Quasi("El Fasher", "2024-03", "18-29", "female")),
        Row(4, Quasi("El Fasher", "2024-04", "30-39", "female")),
        Row(5, Quasi("Tawila", "2024-05", "18-29", "female")),
    ]
    checked = check(rows, broader=BROADER.get)
    assert checked.dropped == 0
    # Year: still two or one per group; wider bands: three and two; no band: three and two; broader region: five.
    assert [quasi for _, quasi in checked.kept] == [Quasi("North Darfur", "2024", None, "female")] * 5


def test_a_lone_outlier_is_dropped_and_only_counted() -> None:
    common = Quasi("Nyala", "2023-11", "40-49", "male")
    rows = [*_rows(common, range(5)), Row("outlier", Quasi("Tawila", "2024-06", "60+", "female"))]
    checked = check(rows, broader=BROADER.get)
    assert checked.dropped == 1
    assert [i for i, _ in checked.kept] == [0, 1, 2, 3, 4]
    assert {quasi for _, quasi in checked.kept} == {common}


def test_people_are_counted_not_records() -> None:
    # One person's five incidents are one person: the combination is rare.
    rows = _rows(Quasi("Tawila", "2024-03", "18-29", "female"), range(1)) * 5
    assert check(rows).dropped == 5


def test_age_bands_keep_minors_apart() -> None:
    assert age_band(9) == "0-11"
    assert age_band(17) == "12-17"
    assert age_band(18) == "18-29"
    assert age_band(77) == "60+"
    assert age_band(None) is None
    assert WIDER_AGE_BAND["12-17"] == "0-17"
    assert WIDER_AGE_BAND["18-29"] != "0-17"


REGIONS = ["Tawila", "El Fasher", "Nyala", None]
MONTHS = ["2023-11", "2024-01", "2024-02", None]
BANDS = ["0-11", "12-17", "18-29", "30-39", "60+", None]
SEXES = ["female", "male", None]


def _coarser(original: str | None, shown: str | None, forms: set[str | None]) -> bool:
    return shown is None or shown == original or shown in forms


@settings(deadline=None, max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),
            st.sampled_from(REGIONS),
            st.sampled_from(MONTHS),
            st.sampled_from(BANDS),
            st.sampled_from(SEXES),
        ),
        max_size=60,
    )
)
def test_every_combination_that_leaves_is_shared_by_five_people_and_only_coarsens(
    drawn: list[tuple[int, str | None, str | None, str | None, str | None]],
) -> None:
    rows = [Row(person, Quasi(region, month, band, sex)) for person, region, month, band, sex in drawn]
    checked = check(rows, broader=BROADER.get)

    assert len(checked.kept) + checked.dropped == len(rows)
    people: dict[Quasi, set[Hashable]] = defaultdict(set)
    for i, quasi in checked.kept:
        people[quasi].add(rows[i].person)
    assert all(len(who) >= K for who in people.values())

    original_people: dict[Quasi, set[Hashable]] = defaultdict(set)
    for row in rows:
        original_people[row.quasi].add(row.person)
    for i, quasi in checked.kept:
        before = rows[i].quasi
        if len(original_people[before]) >= K:
            assert quasi == before  # what was safe already is left alone
        assert _coarser(before.month, quasi.month, {before.month[:4]} if before.month else set())
        assert _coarser(before.age_band, quasi.age_band, {WIDER_AGE_BAND.get(before.age_band or "")})
        assert _coarser(before.region, quasi.region, {BROADER.get(before.region or "")})
        assert _coarser(before.sex, quasi.sex, set())


def test_the_age_band_on_a_day_comes_from_the_date_of_birth_first() -> None:
    assert age_band_at(date(2008, 6, 2), None, date(2026, 6, 1)) == "12-17"  # 17 until the day before
    assert age_band_at(date(2008, 6, 2), None, date(2026, 6, 2)) == "18-29"
    assert age_band_at(None, 45, date(2026, 6, 1)) == "40-49"
    assert age_band_at(None, None, date(2026, 6, 1)) is None


INCIDENT_MONTHS = st.sampled_from([None, "2020-01", "2020-02", "2020-07", "2021-03", "2021", "2022-11"])
KIND = st.builds(
    lambda months, sex: deidentified.Quasi(tuple(months), sex),
    st.lists(INCIDENT_MONTHS, min_size=1, max_size=3),
    st.sampled_from([None, "female", "male", "other"]),
)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(KIND, max_size=60))
def test_checking_counts_per_kind_gives_what_a_row_per_record_gives(records: list[deidentified.Quasi]) -> None:
    """The build counts its ``deidentified`` records per kind instead of keeping a row per record: the check of
    the counts drops and coarsens exactly as the check of a row per record (each record a person)."""
    rows = [
        Row(index, Quasi(region=None, month=month, age_band=None, sex=q.sex))
        for index, q in enumerate(records)
        for month in q.months
    ]
    per_record = check(rows) if rows else None
    dropped, shown = deidentified.check(Counter(records))
    position = 0
    for q in records:
        mine = range(position, position + len(q.months))
        position += len(q.months)
        assert per_record is not None
        kept = dict(per_record.kept)
        if any(p not in kept for p in mine):
            assert q in dropped
            continue
        assert q not in dropped
        lengths = tuple(None if kept[p].month is None else len(str(kept[p].month)) for p in mine)
        drop_sex = q.sex is not None and any(kept[p].sex is None for p in mine)
        assert shown[q] == deidentified.Shown(lengths, drop_sex)
