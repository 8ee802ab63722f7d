"""The allowed import directions (pyproject's [tool.importlinter]) hold, and a back-import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "app", tree / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "back_import", "contract"),
    [
        ("app/core/db.py", "from app.people import service", "app.core imports no domain"),
        ("app/audit/merkle.py", "from app.access import policy", "The audit log's core"),
        ("app/people/service.py", "from app.people import routes", "Domains never import faces"),
        ("app/consent/service.py", "from app import runtime", "Domains never import faces"),
        ("app/keys/datakeys.py", "from app.keys import service", "Access and key custody sit below"),
        ("app/cases/service.py", "from cryptography.hazmat.primitives import hashes", "Only app.crypto imports"),
        ("app/recipients/schemas.py", "import pyrage", "Only app.crypto imports"),
        ("app/crypto/aead.py", "from app.core import errors", "app.crypto imports nothing of ours"),
        ("app/consent/decision.py", "from app.consent import categories", "decide() imports nothing but"),
        ("app/consent/decision_inputs.py", "import sqlalchemy", "decide() imports nothing but"),
        ("app/consent/decision.py", "from app.core import errors", "decide() imports nothing but"),
        ("app/people/service.py", "from app.web import render", "Domains never import faces"),
        ("app/web/routes_cases.py", "from app.people import routes", "The web pages are a face beside the API"),
        ("app/web/render.py", "from cryptography.hazmat.primitives import hashes", "Only app.crypto imports"),
    ],
)
def test_a_back_import_breaks_its_contract(tmp_path: Path, module: str, back_import: str, contract: str) -> None:
    tree = _copy(tmp_path)
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{back_import}  # noqa\n", encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout


CORE_PACKAGES = {"app.core", "app.crypto"}  # held by contracts of their own, as whole packages
WIRING = {"app.main", "app.cli", "app.cli_support", "app.runtime", "app.models", "app.health"}


def _contracts() -> dict[str, dict[str, list[str]]]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        contracts = tomllib.load(f)["tool"]["importlinter"]["contracts"]
    return {c["name"]: c for c in contracts}


def _modules() -> list[str]:
    found = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_every_package_and_module_under_app_is_in_the_contracts() -> None:
    contracts = _contracts()
    top = {m for m in _modules() if m.count(".") == 1}
    assert top == set(contracts["Only app.crypto imports cryptography"]["source_modules"]) | {"app.crypto"}
    assert top == set(contracts["app.core imports no domain"]["forbidden_modules"]) | {"app.core", "app.crypto"}
    faces = contracts["Domains never import faces or the wiring above them"]
    audit_core = set(contracts["The audit log's core imports no domain"]["source_modules"])
    held = set(faces["source_modules"]) | set(faces["forbidden_modules"]) | audit_core | WIRING
    # A domain's module is either the domain (it may not import a face) or a face (no domain imports it).
    # A package held whole (the web pages, app.web: a face) holds its modules.
    loose = [
        m
        for m in _modules()
        if m not in held and m.count(".") == 2 and ".".join(m.split(".")[:2]) not in CORE_PACKAGES | held
    ]
    assert loose == [], "add these modules to the import contracts in pyproject.toml"
