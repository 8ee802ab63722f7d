"""RFC 8785 orders an object's keys by UTF-16 code units, not by code point: the entry checks follow it.

The two orders differ only for keys holding a character from U+E000 up: such a character sorts before any
character beyond U+FFFF by code point, and after it by UTF-16 code unit (a surrogate pair starts with
0xD800-0xDBFF). The log's writer (rfc8785) uses RFC 8785's order; the checks must accept exactly its bytes,
and refuse the code-point ordering of the same content, in the server's check, the offline verifier's and the
bundle verifier's copy.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.entries import check_entry, check_entry_fully
from app.exports import verify_bundle

NOT_CANONICAL = "is not canonical JSON (its bytes differ from the RFC 8785 form of its content)"

ENTRIES: list[dict[str, Any]] = [
    {"seq": 1, "\uffff": 1, "\U00010000": 2},
    {"seq": 2, "\ue000": "x", "\U0001f600": "y"},
    {"seq": 3, "a": {"\ufffd": 1, "\U0001f600": [{"\uffff": None, "\U00010000": True}]}},
]


def _code_point_order(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


CHECKS = [check_entry, check_entry_fully, verify_bundle.check_entry]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_the_rfc8785_bytes_pass_and_the_code_point_order_does_not(check: Any, entry: dict[str, Any]) -> None:
    canonical = bytes(rfc8785.dumps(entry))
    reordered = _code_point_order(entry)
    assert canonical != reordered
    assert check(canonical) == (entry["seq"], None)
    assert check(reordered) == (entry["seq"], NOT_CANONICAL)


_KEYS = st.text(st.sampled_from("a\u00e9\ue000\ufffd\uffff\U00010000\U0001f600"), max_size=3)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=5), st.integers(min_value=0, max_value=2**53 - 1))
def test_whatever_rfc8785_writes_passes_every_check(more: dict[str, Any], seq: int) -> None:
    try:
        line = bytes(rfc8785.dumps({**more, "seq": seq}))
    except rfc8785.CanonicalizationError:  # a lone surrogate has no canonical form
        return
    for check in CHECKS:
        assert check(line) == (seq, None)
