"""The crypto package stands alone, and only it touches cryptography.hazmat and pyrage."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CRYPTO = ROOT / "app" / "crypto"


def _imported_names(source: str, package: str) -> Iterator[str]:
    """Absolute names a module's source imports, relative imports resolved against package."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{module}" if module else base
            # Qualify each name: "from cryptography import hazmat" and "from app import db"
            # import submodules that the bare module name would hide.
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _imports(path: Path) -> set[str]:
    package = ".".join(path.relative_to(ROOT).parts[:-1])
    return set(_imported_names(path.read_text(encoding="utf-8"), package))


CRYPTO_LIBRARIES = {"cryptography", "pyrage"}
"""Third-party cryptography the crypto package may use: pyca/cryptography, and pyrage for age."""


def _allowed_in_crypto(name: str) -> bool:
    top = name.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or top == "__future__"
        or top in CRYPTO_LIBRARIES
        or name == "app.crypto"
        or name.startswith("app.crypto.")
    )


def _crypto_modules() -> list[Path]:
    return sorted(CRYPTO.glob("*.py"))


def test_crypto_modules_found() -> None:
    names = {p.name for p in _crypto_modules()}
    assert {"aead.py", "envelope.py", "keyring.py", "signing.py", "derive.py", "streams.py", "errors.py"} <= names


@pytest.mark.parametrize("path", _crypto_modules(), ids=lambda p: p.name)
def test_crypto_imports_only_stdlib_cryptography_and_itself(path: Path) -> None:
    bad = sorted({name for name in _imports(path) if not _allowed_in_crypto(name)})
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_import_walker_resolves_every_form() -> None:
    source = (
        "from __future__ import annotations\n"
        "import os.path, json as j\n"
        "from . import aead\n"
        "from .errors import DecryptionFailed\n"
        "from ..core import db\n"
        "from ..core.config import Settings\n"
        "from cryptography import hazmat\n"
        "def late():\n"
        "    import fastapi\n"
    )
    assert set(_imported_names(source, "app.crypto")) == {
        "__future__.annotations",
        "os.path",
        "json",
        "app.crypto.aead",
        "app.crypto.errors.DecryptionFailed",
        "app.core.db",
        "app.core.config.Settings",
        "cryptography.hazmat",
        "fastapi",
    }
    assert not _allowed_in_crypto("app.core.db")
    assert not _allowed_in_crypto("app.core.config.Settings")
    assert not _allowed_in_crypto("fastapi")
    assert _allowed_in_crypto("cryptography.hazmat.primitives")
    assert _allowed_in_crypto("app.crypto.errors.DecryptionFailed")
    assert _allowed_in_crypto("pyrage.x25519")
    assert not _allowed_in_crypto("pyrage_extra")


def _python_files() -> Iterator[Path]:
    for top in ("app", "bench", "tests"):
        base = ROOT / top
        if base.is_dir():
            for path in sorted(base.rglob("*.py")):
                if CRYPTO not in path.parents:
                    yield path


def _uses_hazmat(name: str) -> bool:
    return name == "cryptography.hazmat" or name.startswith("cryptography.hazmat.")


STANDALONE = {"app/exports/verify_bundle.py": ["cryptography.hazmat.primitives.asymmetric.ed25519.Ed25519PublicKey"]}
"""Files shipped alone to people who do not install the service: they cannot import app.crypto, so they use
the one primitive they need (an Ed25519 public key, to verify), and nothing else of hazmat."""


def test_only_app_crypto_imports_hazmat() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted({n for n in _imports(path) if _uses_hazmat(n)}) for path in _python_files()
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert offenders == STANDALONE


def test_hazmat_walker_covers_this_directory() -> None:
    walked = set(_python_files())
    assert Path(__file__).resolve() in walked
    assert not any(CRYPTO in p.parents for p in walked)
    assert _uses_hazmat("cryptography.hazmat.primitives.ciphers.aead")
    assert not _uses_hazmat("cryptography.exceptions")


def test_importing_crypto_loads_nothing_else_of_the_app() -> None:
    # Catches imports the AST walk cannot see (importlib, imports inside functions run at load).
    code = (
        "import sys\n"
        "import app.crypto.aead, app.crypto.envelope, app.crypto.keyring, app.crypto.signing\n"
        "import app.crypto.derive, app.crypto.streams, app.crypto.errors, app.crypto.age\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert "app.crypto.streams" in loaded
    outside = {m for m in loaded if m.startswith("app.") and not (m == "app.crypto" or m.startswith("app.crypto."))}
    assert outside == set()
    assert not loaded & {"fastapi", "sqlalchemy", "pydantic", "starlette", "app.core.config", "app.core.db"}
