"""Reading a consent form folder's files as untrusted input: FormError, capped reads, strict YAML, shape checks.

The loader (forms.py) and the published lock (published.py) read files only through here.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from app.core.errors import ConfigError

FORM_FILE = "form.yaml"
SIGNOFF_FILE = "signoffs.yaml"
REVIEW_NOTES = "REVIEW.md"
# Beside the pinned files, never pinned: a published text can be signed off, and its review notes kept,
# without changing the version.
UNPINNED = frozenset({SIGNOFF_FILE, REVIEW_NOTES})
FILE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")


class FormError(ConfigError):
    """A consent form or the published lock is missing, malformed or inconsistent."""


def read_bytes(folder: Path, name: str, limit: int, where: str | None = None) -> bytes:
    """The bytes of a plain, regular, non-symlink file of at most limit bytes in folder."""
    where = where or name
    if not FILE_NAME_PATTERN.fullmatch(name):
        raise FormError(f"{where}: {name!r} must be a plain file name in the version folder")
    path = folder / name
    if path.is_symlink():
        raise FormError(f"{where}: {name} is a symlink")
    try:
        # Non-blocking, so a FIFO in the folder is refused below instead of hanging the read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise FormError(f"{where}: file {name} is missing") from None
    except OSError as exc:
        reason = "is a symlink" if exc.errno == errno.ELOOP else "cannot be read"
        raise FormError(f"{where}: {name} {reason}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FormError(f"{where}: {name} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FormError(f"{where}: {name} is larger than {limit // 1024} KiB")
    return data


def decode_text(raw: bytes, where: str) -> str:
    """A text read aloud: UTF-8 without BOM, CR or NUL."""
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError(f"{where} is not UTF-8") from None
    # Line endings and BOMs change the bytes, and therefore the pinned hash, without changing what is read aloud.
    if "\r" in content or content.startswith("\ufeff") or "\x00" in content:
        raise FormError(f"{where}: use UTF-8 without BOM, LF line endings and no NUL")
    return content


def sha256(data: bytes) -> str:
    """The hex SHA-256 that published.lock and ConsentForm.files record."""
    return hashlib.sha256(data).hexdigest()


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases (no expansion bombs) or duplicate keys (no silently overridden labels)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise FormError("YAML aliases are not allowed")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise FormError(f"line {key_node.start_mark.line + 1}: keys must be plain text")
            if key_node.tag == "tag:yaml.org,2002:merge":
                # A merge key copies another mapping in, which is a duplicate key by another name.
                raise FormError(f"line {key_node.start_mark.line + 1}: merge keys (<<) are not allowed")
            if key_node.value in seen:
                raise FormError(f"line {key_node.start_mark.line + 1}: duplicate key {key_node.value!r}")
            seen.add(key_node.value)
        return dict(super().construct_mapping(node, deep))


def parse_yaml(raw: bytes, name: str = FORM_FILE) -> object:
    """Parse a form folder's YAML file strictly: no aliases, no duplicate or non-text keys."""
    try:
        return yaml.load(raw.decode("utf-8"), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except FormError as exc:
        raise FormError(f"{name}: {exc}") from None
    except UnicodeDecodeError:
        raise FormError(f"{name} is not UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormError(f"{name} is not valid YAML{at}") from None
    except (ValueError, RecursionError):
        # PyYAML raises these for impossible dates such as 2026-13-01 and for absurd nesting.
        raise FormError(f"{name} is not valid YAML") from None


def as_mapping(value: object, where: str) -> dict[str, object]:
    """The value as a mapping with text keys, or FormError."""
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise FormError(f"{where}: expected a mapping with text keys")
    return value


def check_keys(doc: Mapping[str, object], where: str, required: set[str], optional: Iterable[str] = ()) -> None:
    """FormError naming the first missing or unknown key."""
    missing = sorted(required - doc.keys())
    if missing:
        raise FormError(f"{where}: missing {missing[0]!r}")
    unknown = sorted(doc.keys() - required - set(optional))
    if unknown:
        raise FormError(f"{where}: unknown key {unknown[0]!r}")


def as_text(value: object, where: str) -> str:
    """The value as non-empty, NUL-free, stripped text that is valid Unicode, or FormError."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise FormError(f"{where}: expected non-empty text (quote yes, no, on and off in YAML)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a YAML escape such as "\ud800"
        raise FormError(f"{where}: the text is not valid Unicode") from None
    return value.strip()
