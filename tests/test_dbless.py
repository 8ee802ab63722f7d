"""The `dbless` mark (tests/conftest.py): CI's PostgreSQL pass leaves out what it marks, so it must mark a test that
never reaches the database under test, and never one that does, by whichever fixture or by the variable itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import UNREACHABLE_DATABASE
from tests.support.database import postgres_admin_url

ROOT = Path(__file__).resolve().parents[1]

PURE = [
    "tests/audit/test_merkle.py::test_roots_match_the_published_tree_heads",  # RFC 6962 vectors
    "tests/test_cli.py::test_the_commands_are_the_documented_ones",  # the command line's parser
]
USES_DATABASE = [
    "tests/test_openapi.py::test_the_declared_routes_are_the_served_ones",  # app -> settings -> database
    "tests/test_cli.py::test_an_unready_production_start_names_everything_missing_at_once",  # cli_env -> database
    "tests/access/test_matrix.py::test_matrix",  # world -> matrix_saved -> templates
    "tests/bench/test_bench_smoke.py::test_main_prints_the_table_and_writes_the_report",  # the variable: its mark
]


def _selected(marks: str, nodeids: list[str]) -> set[str]:
    """The tests of ``nodeids`` that ``-m marks`` selects, as a real pytest collects them (parameters dropped)."""
    collect = ["-p", "no:cacheprovider", "-p", "no:xdist", "--collect-only", "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *collect, "-m", marks, *nodeids],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 5), done.stdout[-3000:] + done.stderr[-3000:]
    return {line.split("[")[0] for line in done.stdout.splitlines() if line.startswith("tests/")}


def test_a_pure_test_is_dbless_and_one_that_reaches_the_database_is_not() -> None:
    nodeids = PURE + USES_DATABASE
    assert _selected("dbless", nodeids) == set(PURE)
    assert _selected("not dbless", nodeids) == set(USES_DATABASE)


def test_a_dbless_test_finds_no_database_in_the_environment() -> None:
    assert postgres_admin_url() == UNREACHABLE_DATABASE


@pytest.mark.usefixtures("database")
def test_a_test_with_the_database_keeps_the_runs_own() -> None:
    assert postgres_admin_url() != UNREACHABLE_DATABASE
