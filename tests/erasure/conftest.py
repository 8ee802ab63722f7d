"""Fixtures of the erasure and backup tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.erasure.backups import AgeKey, age_key


@pytest.fixture
def key(tmp_path: Path) -> AgeKey:
    """A fresh age key pair the backups are encrypted to."""
    return age_key(tmp_path)
