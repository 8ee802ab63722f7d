"""Count tables for ``aggregate_only``: every count under ``THRESHOLD`` suppressed, and enough others with it
that no suppressed count can be worked out from what is published.

A table and its totals are one grid with a total row and a total column: every line of that grid (a row with
its row total, a column with its column total, the totals with the grand total) adds up. A suppressed count can
be worked out exactly when, and only when, it is the lone unknown of a line or, more generally, when the
equations of the lines pin it down. Read the suppressed cells as the edges of a graph between lines (a cell
joins its row and its column): a cell is pinned down exactly when it is a bridge of that graph, so every
suppressed cell must lie on a cycle of suppressed cells. Primary suppression hides every count under the
threshold, totals included; secondary suppression then closes each bridge with the cheapest path of further
cells (small inner counts first, totals last), until none is left.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

THRESHOLD = 10
"""Counts under this are never published."""

Cell = tuple[int, int]


@dataclass(frozen=True)
class CountTable:
    """A published table: None where a count is suppressed."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[int | None, ...], ...]
    row_totals: tuple[int | None, ...]
    column_totals: tuple[int | None, ...]
    total: int | None


@dataclass(frozen=True)
class CountList:
    """A published one-way table: None where a count is suppressed."""

    labels: tuple[str, ...]
    counts: tuple[int | None, ...]
    total: int | None


def suppress_table(
    rows: Sequence[str], columns: Sequence[str], counts: Mapping[tuple[str, str], int], *, threshold: int = THRESHOLD
) -> CountTable:
    """The table of ``counts`` (missing pairs count 0) with its totals, suppressed for publication."""
    if not rows or not columns:
        raise ValueError("a table needs at least one row and one column")
    r, c = len(rows), len(columns)
    grid = [[counts.get((row, col), 0) for col in columns] for row in rows]
    for line in grid:
        line.append(sum(line))
    grid.append([sum(grid[i][j] for i in range(r)) for j in range(c + 1)])
    hidden = suppressed_cells(grid, threshold=threshold)

    def shown(i: int, j: int) -> int | None:
        return None if (i, j) in hidden else grid[i][j]

    return CountTable(
        rows=tuple(rows),
        columns=tuple(columns),
        cells=tuple(tuple(shown(i, j) for j in range(c)) for i in range(r)),
        row_totals=tuple(shown(i, c) for i in range(r)),
        column_totals=tuple(shown(r, j) for j in range(c)),
        total=shown(r, c),
    )


def suppress_list(counts: Mapping[str, int], *, threshold: int = THRESHOLD) -> CountList:
    """A one-way table and its total, suppressed: one line, so a lone suppressed value gets a partner."""
    labels = tuple(counts)
    values = [counts[label] for label in labels] + [sum(counts.values())]
    hidden = {i for i, v in enumerate(values) if v < threshold}
    if len(hidden) == 1 and len(values) > 1:
        # The smallest other value, the total last: a lone unknown of the line is its total minus the rest.
        partner = min((i for i in range(len(values)) if i not in hidden), key=lambda i: (i == len(labels), values[i]))
        hidden.add(partner)
    shown = tuple(None if i in hidden else v for i, v in enumerate(values))
    return CountList(labels=labels, counts=shown[:-1], total=shown[-1])


def suppressed_cells(grid: Sequence[Sequence[int]], *, threshold: int = THRESHOLD) -> set[Cell]:
    """The cells of a grid whose last row and column are its totals to leave out: every count under the
    threshold, and complementary cells until no left-out cell is a bridge."""
    n_rows, n_cols = len(grid), len(grid[0])
    hidden = {(i, j) for i in range(n_rows) for j in range(n_cols) if grid[i][j] < threshold}
    while (bridge := _a_bridge(hidden, n_rows)) is not None:
        hidden |= _cheapest_cycle(grid, hidden, bridge)
    return hidden


def _cost(grid: Sequence[Sequence[int]], cell: Cell) -> int:
    i, j = cell
    last_row, last_col = len(grid) - 1, len(grid[0]) - 1
    margin = (i == last_row) + (j == last_col)  # a total hides more than a cell; the grand total most
    return (grid[i][j] + 1) * (1 + 1000 * margin)


def _neighbours(cells: set[Cell], n_rows: int) -> dict[int, list[tuple[int, Cell]]]:
    """Lines are nodes: row i is i, column j is n_rows + j."""
    graph: dict[int, list[tuple[int, Cell]]] = {}
    for i, j in cells:
        graph.setdefault(i, []).append((n_rows + j, (i, j)))
        graph.setdefault(n_rows + j, []).append((i, (i, j)))
    return graph


def _a_bridge(cells: set[Cell], n_rows: int) -> Cell | None:
    """A suppressed cell whose row and column no other path of suppressed cells joins, if any."""
    graph = _neighbours(cells, n_rows)
    for cell in sorted(cells):
        start, goal = cell[0], n_rows + cell[1]
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for other, via in graph[node]:
                if via != cell and other not in seen:
                    seen.add(other)
                    todo.append(other)
        if goal not in seen:
            return cell
    return None


def _cheapest_cycle(grid: Sequence[Sequence[int]], hidden: set[Cell], bridge: Cell) -> set[Cell]:
    """The cells to suppress so that ``bridge`` lies on a cycle: the cheapest path from its column back to its
    row through any cells but itself, where cells already suppressed cost nothing."""
    n_rows, n_cols = len(grid), len(grid[0])
    start, goal = n_rows + bridge[1], bridge[0]
    best: dict[int, int] = {start: 0}
    came: dict[int, tuple[int, Cell]] = {}
    queue = [(0, start)]
    while queue:
        cost, node = heapq.heappop(queue)
        if node == goal:
            break
        if cost > best.get(node, cost):
            continue
        if node < n_rows:
            steps = [(n_rows + j, (node, j)) for j in range(n_cols)]
        else:
            steps = [(i, (i, node - n_rows)) for i in range(n_rows)]
        for other, cell in steps:
            if cell == bridge:
                continue
            total = cost + (0 if cell in hidden else _cost(grid, cell))
            if total < best.get(other, total + 1):
                best[other] = total
                came[other] = (node, cell)
                heapq.heappush(queue, (total, other))
    path: set[Cell] = set()
    node = goal
    while node != start:
        node, cell = came[node]
        path.add(cell)
    return path
