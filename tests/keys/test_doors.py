"""Plaintext has named doors: no function outside app/keys/doors.py's list opens sealed data."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from app.keys.doors import DOORS, OPENERS

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
# The primitives themselves live here.
PRIMITIVES = ("app.crypto.", "app.keys.sealed.")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module, module: str) -> dict[str, str]:
    """Local name -> fully qualified name, for `import x.y as z` and `from x import y`."""
    names: dict[str, str] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
    return names


def _called(call: ast.Call, names: dict[str, str]) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return names.get(func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in names:
        return f"{names[func.value.id]}.{func.attr}"
    return None


def _functions(tree: ast.Module, prefix: str) -> Iterator[tuple[str, ast.AST]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}.{node.name}", node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{prefix}.{node.name}.{item.name}", item


def openers_called(source: str, module: str) -> set[str]:
    """The functions of a module that call an opening primitive (module-level code counts as `<module>`)."""
    tree = ast.parse(source)
    names = _imports(tree, module)
    found = set()
    inside: set[int] = set()
    for qualname, fn in _functions(tree, module):
        for node in ast.walk(fn):
            inside.add(id(node))
            if isinstance(node, ast.Call) and _called(node, names) in OPENERS:
                found.add(qualname)
    for node in ast.walk(tree):
        if id(node) not in inside and isinstance(node, ast.Call) and _called(node, names) in OPENERS:
            found.add(f"{module}.<module>")
    return found


def _all_doors() -> set[str]:
    found: set[str] = set()
    for path in sorted(APP.rglob("*.py")):
        module = _module_name(path)
        if module.startswith(PRIMITIVES) or f"{module}.".startswith(PRIMITIVES):
            continue
        found |= openers_called(path.read_text(encoding="utf-8"), module)
    return found


def test_only_the_named_doors_open_sealed_data() -> None:
    assert _all_doors() == set(DOORS)


def test_the_walker_finds_every_way_of_calling_an_opener() -> None:
    source = (
        "from app.keys.sealed import open_json\n"
        "from app.keys import sealed\n"
        "from app.crypto import aead as a\n"
        "import app.crypto.streams\n"
        "def direct(): open_json(1, 2, 3, 4)\n"
        "def via_module(): sealed.reseal(1, 2, 3, 4)\n"
        "def aliased(): return a.open(b'', b'')\n"
        "class Reader:\n"
        "    def read(self): return a.decrypt(b'', b'', b'')\n"
        "def innocent(): return a.seal(b'', b'')\n"
        "a.open_bound(1)\n"
    )
    assert openers_called(source, "app.people.example") == {
        "app.people.example.direct",
        "app.people.example.via_module",
        "app.people.example.aliased",
        "app.people.example.Reader.read",
        "app.people.example.<module>",
    }


def test_a_new_module_that_opens_sealed_data_is_caught() -> None:
    rogue = (
        "from app.keys.sealed import open_json\n"
        "def peek(session, keys, place, blob):\n"
        "    return open_json(session, keys, place, blob)\n"
    )
    assert openers_called(rogue, "app.exports.builder") == {"app.exports.builder.peek"}
    assert "app.exports.builder.peek" not in DOORS


def test_the_architecture_document_lists_the_same_doors_and_openers() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Named doors", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([^`]+)`", row)}
    assert listed == {door.removeprefix("app.") for door in DOORS}
    named = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", section.split("| door |", 1)[0]))
    assert named == {opener.removeprefix("app.crypto.").removeprefix("app.keys.") for opener in OPENERS}
