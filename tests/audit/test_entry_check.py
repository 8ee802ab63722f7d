"""The per-entry check of the offline verifier: each kind of non-canonical entry gets its own message."""

from __future__ import annotations

import pytest

from app.audit.entries import check_entry

NOT_PLAIN = "holds a value other than strings, safe integers, booleans and nulls"
NOT_CANONICAL = "is not canonical JSON (its bytes differ from the RFC 8785 form of its content)"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"a":"x","seq":3}', (3, None)),
        (b'{"a":[1,{"b":null}],"seq":0}', (0, None)),
        ('{"a":"Ереван","seq":1}'.encode(), (1, None)),
        (b'{"a":1.5,"seq":3}', (3, NOT_PLAIN)),
        (b'{"a":NaN,"seq":3}', (3, NOT_PLAIN)),
        (b'{"a":-Infinity,"seq":3}', (3, NOT_PLAIN)),
        (b'{"a":9007199254740992,"seq":3}', (3, NOT_PLAIN)),
        (b'{"a":-9007199254740991,"seq":3}', (3, None)),
        (b'{"seq":9007199254740992}', (9007199254740992, NOT_PLAIN)),
        (b'{"a":1.5,"seq":3', (None, "not valid UTF-8 JSON")),
        (b'{"a":1.5, broken', (None, "not valid UTF-8 JSON")),
        (b"1.5", (None, "not a JSON object")),
        (b'{"a":1.5}', (None, "has no integer seq")),
        (b'{"seq":3,"a":"x"}', (3, NOT_CANONICAL)),
        (b'{"a": "x","seq":3}', (3, NOT_CANONICAL)),
        (b'{"a":"\\u0436","seq":3}', (3, NOT_CANONICAL)),
        (b'{"a":"\\ud800","seq":3}', (3, "holds a lone surrogate, which has no canonical form")),
        (b'{"a":"x","seq":3}\n', (3, NOT_CANONICAL)),
    ],
)
def test_each_entry_gets_its_verdict(line: bytes, expected: tuple[int | None, str | None]) -> None:
    assert check_entry(line) == expected
