"""Suppressed count tables: nothing under ten is published, and no suppressed count can be worked out from
what is (by subtraction along a line, or by solving all the lines' equations together)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from app.exports.suppression import THRESHOLD, CountTable, suppress_list, suppress_table


def _grid(table: CountTable) -> list[list[int | None]]:
    """The published table with its totals as one grid: the last row and column are the totals."""
    grid = [[*row, total] for row, total in zip(table.cells, table.row_totals, strict=True)]
    grid.append([*table.column_totals, table.total])
    return grid


def _true_grid(counts: list[list[int]]) -> list[list[int]]:
    grid = [[*row, sum(row)] for row in counts]
    grid.append([sum(row[j] for row in grid) for j in range(len(grid[0]))])
    return grid


def _lines(n_rows: int, n_cols: int) -> list[list[tuple[int, int, int]]]:
    """Each line's equation as (row, column, sign): the cells minus the total make zero."""
    lines = [[(i, j, 1) for j in range(n_cols - 1)] + [(i, n_cols - 1, -1)] for i in range(n_rows)]
    lines += [[(i, j, 1) for i in range(n_rows - 1)] + [(n_rows - 1, j, -1)] for j in range(n_cols)]
    return lines


def _subtractable(grid: list[list[int | None]]) -> list[tuple[int, int]]:
    """Suppressed cells that are the only unknown of one of their lines."""
    found = []
    for line in _lines(len(grid), len(grid[0])):
        unknown = [(i, j) for i, j, _ in line if grid[i][j] is None]
        if len(unknown) == 1:
            found.append(unknown[0])
    return found


def _determined(grid: list[list[int | None]]) -> list[tuple[int, int]]:
    """Suppressed cells the lines' equations pin down, by exact Gaussian elimination: a cell is pinned down when
    its unit vector lies in the row space of the equations over the unknowns."""
    unknowns = [(i, j) for i, row in enumerate(grid) for j, v in enumerate(row) if v is None]
    index = {cell: k for k, cell in enumerate(unknowns)}
    rows: list[list[Fraction]] = []
    for line in _lines(len(grid), len(grid[0])):
        coefficients = [Fraction(0)] * len(unknowns)
        for i, j, sign in line:
            if (i, j) in index:
                coefficients[index[(i, j)]] += sign
        if any(coefficients):
            rows.append(coefficients)
    basis = _reduce(rows)
    return [
        cell for cell in unknowns if _in_span(basis, [Fraction(int(k == index[cell])) for k in range(len(unknowns))])
    ]


def _reduce(rows: list[list[Fraction]]) -> list[tuple[int, list[Fraction]]]:
    """A row-echelon basis: (pivot column, row) pairs, each row with 1 at its pivot and 0 at the others'."""
    basis: list[tuple[int, list[Fraction]]] = []
    for row in rows:
        row = _eliminate(basis, row)
        pivot = next((k for k, v in enumerate(row) if v != 0), None)
        if pivot is None:
            continue
        row = [v / row[pivot] for v in row]
        basis = [(p, [a - b[p] * c for a, c in zip(b, row, strict=True)]) for p, b in basis]
        basis.append((pivot, row))
    return basis


def _eliminate(basis: list[tuple[int, list[Fraction]]], row: list[Fraction]) -> list[Fraction]:
    for pivot, b in basis:
        if row[pivot] != 0:
            factor = row[pivot]
            row = [a - factor * c for a, c in zip(row, b, strict=True)]
    return row


def _in_span(basis: list[tuple[int, list[Fraction]]], vector: list[Fraction]) -> bool:
    return not any(_eliminate(basis, vector))


def test_a_small_cell_and_its_complements_are_suppressed() -> None:
    rows, columns = ["torture", "detention"], ["2023", "2024", "2025"]
    counts = {("torture", "2023"): 40, ("torture", "2024"): 3, ("torture", "2025"): 25}
    counts |= {("detention", "2023"): 30, ("detention", "2024"): 50, ("detention", "2025"): 60}
    table = suppress_table(rows, columns, counts)
    assert table.cells[0][1] is None
    grid = _grid(table)
    assert _subtractable(grid) == []
    assert _determined(grid) == []
    assert table.total == 208


def test_a_table_with_nothing_small_is_published_whole() -> None:
    table = suppress_table(["a"], ["x", "y"], {("a", "x"): 12, ("a", "y"): 30})
    assert table.cells == ((12, 30),)
    assert table.row_totals == (42,)
    assert table.column_totals == (12, 30)
    assert table.total == 42


def test_totals_under_ten_are_suppressed_too() -> None:
    table = suppress_table(["a", "b"], ["x"], {("a", "x"): 4, ("b", "x"): 3})
    assert table.total is None
    assert all(v is None for v in [*table.row_totals, *table.column_totals])


def test_a_one_way_list_pairs_a_lone_suppressed_count() -> None:
    published = suppress_list({"female": 40, "male": 7, "another": 12})
    assert published.counts == (40, None, None)
    assert published.total == 59
    assert suppress_list({"female": 40, "male": 12}).counts == (40, 12)
    assert suppress_list({"female": 3, "male": 2}).total is None


COUNT = st.integers(0, 40) | st.integers(0, 9)  # small counts often, so suppression has work to do
TABLES = st.integers(1, 5).flatmap(lambda c: st.lists(st.lists(COUNT, min_size=c, max_size=c), min_size=1, max_size=5))


def test_the_check_finds_a_cell_pinned_down_though_no_line_has_a_lone_unknown() -> None:
    # Two cycles of suppressed cells joined by one cell: every line has two unknowns or more, yet solving the
    # lines together gives the joining cell.
    grid: list[list[int | None]] = [[10] * 4 for _ in range(4)]
    for i, j in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        grid[i][j] = None
    assert _subtractable(grid) == []
    assert _determined(grid) == [(1, 2)]


@settings(deadline=None, max_examples=150)
@given(TABLES)
def test_no_suppressed_count_can_be_derived_from_what_is_published(counts: list[list[int]]) -> None:
    rows = [f"r{i}" for i in range(len(counts))]
    columns = [f"c{j}" for j in range(len(counts[0]))]
    table = suppress_table(
        rows, columns, {(rows[i], columns[j]): v for i, line in enumerate(counts) for j, v in enumerate(line)}
    )
    grid, truth = _grid(table), _true_grid(counts)

    for i, line in enumerate(grid):
        for j, shown in enumerate(line):
            if truth[i][j] < THRESHOLD:
                assert shown is None  # every small count, totals included, is suppressed
            if shown is not None:
                assert shown == truth[i][j]  # and what is published is true
    assert _subtractable(grid) == []
    assert _determined(grid) == []


@settings(deadline=None)
@given(st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.integers(0, 30), min_size=1, max_size=8))
def test_no_suppressed_count_of_a_list_is_its_total_minus_the_rest(counts: dict[str, int]) -> None:
    published = suppress_list(counts)
    values = [*published.counts, published.total]
    truth = [*counts.values(), sum(counts.values())]
    assert all(shown is None or shown == true for shown, true in zip(values, truth, strict=True))
    assert all(shown is None for shown, true in zip(values, truth, strict=True) if true < THRESHOLD)
    assert sum(1 for v in values if v is None) != 1 or len(values) == 1
