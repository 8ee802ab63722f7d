"""The manifest is encoded in pieces (``manifest.indented_pieces``), so a bundle of many records never holds
the encoder's small strings for all of it at once; its bytes are those of ``json.dumps`` with sorted keys and
an indent of one, which the signature covers and the standalone verifier reads."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.exports.manifest import indented_pieces

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)  # newlines, quotes, non-ASCII included
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=VALUES, split=st.integers(min_value=0, max_value=4))
def test_the_pieces_are_json_dumps_with_sorted_keys_and_an_indent_of_one(value: Any, split: int) -> None:
    assert "".join(indented_pieces(value, 0, split)) == json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)


def test_keys_that_are_not_text_are_encoded_as_json_dumps_encodes_them() -> None:
    value = {"files": {"a": 1}, "counts": {1: "one", 2: [{"b": None}]}}
    assert "".join(indented_pieces(value, 0, 3)) == json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)
