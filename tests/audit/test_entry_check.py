"""The per-entry check of the offline verifier: each kind of non-canonical entry gets its own message."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.entries import check_entry, check_entry_fully, encode_plain

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
    assert check_entry_fully(line) == expected


# The fast path of check_entry must accept exactly what the full check accepts, and name the same problem
# (it hands everything it does not accept to the full check): compared on canonical lines, on lines written
# every other way, and on lines with a byte changed, inserted or dropped.

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True)
    | st.text(st.characters(exclude_categories=()), max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
_ENTRY = st.one_of(
    st.fixed_dictionaries({"seq": st.integers(min_value=-5, max_value=2**54) | _JSON}, optional={"v": _JSON}).flatmap(
        lambda fixed: st.dictionaries(st.text(max_size=6), _JSON, max_size=5).map(lambda more: {**more, **fixed})
    ),
    _JSON,
)


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    value = draw(_ENTRY)
    text = json.dumps(
        value,
        sort_keys=draw(st.booleans()),
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")])),
    )
    text = draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", " ", "\n"]))
    line = text.encode("utf-8", errors="surrogatepass")
    if line and draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(line) - 1))
        byte = bytes([draw(st.integers(min_value=0, max_value=255))])
        line = draw(
            st.sampled_from(
                [line[:at] + byte + line[at + 1 :], line[:at] + byte + line[at:], line[:at] + line[at + 1 :]]
            )
        )
    return line


@settings(max_examples=1500, deadline=None)
@given(_lines())
def test_the_fast_path_agrees_with_the_full_check(line: bytes) -> None:
    assert check_entry(line) == check_entry_fully(line)


@given(_ENTRY)
def test_canonical_lines_pass_both_ways(value: Any) -> None:
    try:
        line = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return
    assert check_entry(line) == check_entry_fully(line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"seq":1,"seq":1}',  # a repeated key parses to one: its encoding is shorter than the line
        b'{"a":1,"a":1,"seq":1}',
        b'{"seq":1} ',
        b' {"seq":1}',
        b'{"seq":1}{"seq":2}',
        b'{"seq":true}',
        b'{"seq":1.0}',
        b'{"seq":1E2}',
        b'{"seq":-0}',
        b'{"seq":01}',
        b'{"a":"\\/","seq":1}',
        b'{"a":"\\u001F","seq":1}',
        b'{"a":"\\u001f","seq":1}',
        b'{"a":"\x7f","seq":1}',
        b'{"a":{"c":1,"b":2},"seq":1}',
        b'{"a":{"b":1,"c":2},"seq":1}',
        b'{"seq":1,"\xc3\xa9":1}',
        b'{"\xc3\xa9":1,"seq":1}',
        b"[]",
        b"",
        b"\xff",
        # Lines the check accepts without encoding them, and their near misses.
        b'{"a":":x","seq":1}',
        b'{"a":"x","a":"x","seq":1}',
        b'{"a":"x","seq":1,"seq":1}',
        b'{"a":"x y","seq":1}',
        b'{"a":"{","seq":1}',
        b'{"a":[-0],"seq":1}',
        b'{"a":[1,[2,"b"]],"seq":1}',
        b'{"a":[],"b":true,"c":false,"d":null,"seq":-1}',
        b'{"b":1,"a":2,"seq":1}',
        b'{"a":1,"seq":1,"\xc3\xa9":"\xf0\x9f\x98\x80"}',
        b'{"\xf0\x9f\x98\x80":1,"\xef\xbf\xbd":2,"seq":1}',
        b'{"\xef\xbf\xbd":1,"\xf0\x9f\x98\x80":2,"seq":1}',
        b'{"a":"\t","seq":1}',
        b'{"a":"x",\t"seq":1}',
        b'{"a":{},"seq":1}',
        b'{"seq":9007199254740991}',
        b'{"seq":-9007199254740992}',
    ],
)
def test_the_fast_path_agrees_on_the_known_traps(line: bytes) -> None:
    assert check_entry(line) == check_entry_fully(line)


# Flat entries written member by member, in any order and with keys repeated: the check accepts these without
# encoding them when they hold no escape, whitespace or nested object, so order and repetition decide there.
_KEY = st.sampled_from(["seq", "a", "b", "\u00e9", "\U0001f600", "\ufffd", ":", "{"])
_FLAT_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**54), max_value=2**54)
    | st.sampled_from([0, -1, 1])
    | st.text(st.sampled_from('ab:{} "\\\t\u00e9\U0001f600'), max_size=4),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=4,
)


@st.composite
def _flat_lines(draw: st.DrawFn) -> bytes:
    members = draw(st.lists(st.tuples(_KEY, _FLAT_VALUE), max_size=6))
    if draw(st.booleans()):
        members.append(("seq", draw(st.integers(min_value=-3, max_value=3))))
    if draw(st.booleans()):
        members.sort(key=lambda member: member[0])
    written = ",".join(
        json.dumps(key, ensure_ascii=False) + ":" + json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        for key, value in members
    )
    return ("{" + written + "}").encode("utf-8")


@settings(max_examples=1500, deadline=None)
@given(_flat_lines())
def test_the_fast_path_agrees_on_flat_entries(line: bytes) -> None:
    assert check_entry(line) == check_entry_fully(line)


# The writer's fast encoding (app.audit.entries.encode_plain) must give the rfc8785 package's bytes whenever
# it answers, and must answer for the events the log writes (flat objects of strings, integers, nulls, lists).

_EVENT_VALUE = (
    st.none()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(st.characters(codec="utf-8"), max_size=12)
    | st.lists(st.text(st.characters(codec="utf-8"), max_size=6), max_size=3)
)


@given(st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=8), _EVENT_VALUE, max_size=8))
@settings(max_examples=400)
def test_the_fast_encoding_of_an_event_is_its_rfc8785_form(obj: dict[str, Any]) -> None:
    assert encode_plain(obj) == rfc8785.dumps(obj)


@given(_ENTRY)
@settings(max_examples=400)
def test_the_fast_encoding_answers_only_with_the_rfc8785_form(obj: Any) -> None:
    if not isinstance(obj, dict):
        return
    encoded = encode_plain(obj)
    if encoded is None:
        return
    assert encoded == rfc8785.dumps(obj)


@pytest.mark.parametrize(
    "obj",
    [{"a": 1.5}, {"a": 2**53}, {"é": "x"}, {"a": "\ud800"}, {"a": float("nan")}, {"a": {"b": 1}}],
)
def test_what_the_fast_encoding_leaves_to_the_full_encoder(obj: dict[str, Any]) -> None:
    assert encode_plain(obj) is None
