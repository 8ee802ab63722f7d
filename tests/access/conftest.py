"""The matrix world, built once per session (per xdist worker) and copied for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.access.world import Saved, World, build, restore
from tests.support.database import Templates


@pytest.fixture(scope="session")
def matrix_saved(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Saved:
    return build(templates, tmp_path_factory.mktemp("matrix"))


@pytest.fixture
def world(matrix_saved: Saved, templates: Templates, tmp_path: Path) -> Iterator[World]:
    with restore(matrix_saved, templates, tmp_path) as w:
        yield w
