"""What a stored entry of the log is: RFC 8785 canonical JSON with an integer seq, of one of two kinds.

An **event** (versions 1 to 3) records one request or command: actor, action, resource, case, outcome...
A **custody commitment** (version 4) holds nothing but its version, seq, time, action and the commitment:
a proof hands it to an outsider, so it names no actor, session, case or record.

Standard library only, so the offline verifier can ship it.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any

CUSTODY_ENTRY_VERSION = 4
CUSTODY_ACTION = "custody.commit"
CUSTODY_ENTRY_KEYS = frozenset({"v", "seq", "at", "action", "commitment"})

# RFC 8785 writes numbers as IEEE doubles: integers beyond this lose precision, so no canonical form exists.
_MAX_SAFE_INTEGER = 2**53 - 1
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


def _plain_values(value: Any) -> bool:
    """True when the value holds only strings, safe integers, booleans, nulls, lists and objects."""
    if isinstance(value, dict):
        return all(_plain_values(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain_values(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    return isinstance(value, int) and abs(value) <= _MAX_SAFE_INTEGER


class _NotPlain(ValueError):
    """A number the canonical form cannot hold: the slow path names the problem."""


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > _MAX_SAFE_INTEGER:
        raise _NotPlain(text)
    return value


def _no_float(text: str) -> float:
    raise _NotPlain(text)


# Built once: json.loads and json.dumps with options build a new decoder or encoder on every call, which is
# most of the cost for entries this small. The hooks refuse floats, NaN and unsafe integers while parsing, so
# a walk over the values is needed only for an entry that holds one (and then only to say which problem).
_DECODER = json.JSONDecoder(parse_float=_no_float, parse_int=_safe_int, parse_constant=_no_float)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_encoder() -> Callable[[Any], str]:
    """_ENCODER.encode without its per-call set-up (a closure and a C encoder made on every call): the same C
    encoder with the same options, made once. Without the C accelerator, _ENCODER.encode itself."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    # (markers, default, string encoder, indent, key separator, item separator, sort_keys, skipkeys, allow_nan):
    # what JSONEncoder.iterencode passes for _ENCODER, less the cycle check a parsed value never needs.
    chunks = make(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    return lambda obj: "".join(chunks(obj, 0))


class _NotFast(ValueError):
    """An integer the fast path leaves to the full check: "-0" (canonically "0") or an unsafe one."""


def _fast_int(text: str) -> int:
    value = int(text)
    if text == "-0" or abs(value) > _MAX_SAFE_INTEGER:
        raise _NotFast(text)
    return value


# What _DECODER.decode runs, without its whitespace steps, for the fast path: its integer hook also refuses
# "-0", whose canonical form is "0". (typeshed types the argument as the scanner itself.)
_FAST_DECODER = json.JSONDecoder(parse_float=_no_float, parse_int=_fast_int, parse_constant=_no_float)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(_FAST_DECODER)  # type: ignore[arg-type]
_ENCODE = _canonical_encoder()

# RFC 8785 (section 3.2.3) orders an object's keys by their UTF-16 code units; json sorts them by code point.
# The two orders agree unless a key holds a character from U+E000 up (a BMP character there sorts after a
# surrogate pair, that is after every character beyond U+FFFF), so only such keys need the UTF-16 order.
_ABOVE_SURROGATES = re.compile("[\ud800-\U0010ffff]")


def _code_point_order_is_canonical(value: Any) -> bool:
    """True when sorting every object's keys by code point gives RFC 8785's order: no key holds U+D800 or above."""
    if isinstance(value, dict):
        return all(_ABOVE_SURROGATES.search(key) is None for key in value) and all(
            _code_point_order_is_canonical(item) for item in value.values()
        )
    if isinstance(value, list):
        return all(_code_point_order_is_canonical(item) for item in value)
    return True


def _utf16_order(item: tuple[str, Any]) -> bytes:
    return item[0].encode("utf-16-be", "surrogatepass")


def _encode_in_utf16_order(value: Any) -> str:
    """The canonical encoding of a parsed value whose keys json would sort differently (see above)."""
    if isinstance(value, dict):
        members = sorted(value.items(), key=_utf16_order)
        return "{" + ",".join(f"{_ENCODE(key)}:{_encode_in_utf16_order(item)}" for key, item in members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode_in_utf16_order(item) for item in value) + "]"
    return _ENCODE(value)


def _canonical(obj: Any) -> str:
    """The RFC 8785 form of a parsed entry holding only plain values."""
    return _ENCODER.encode(obj) if _code_point_order_is_canonical(obj) else _encode_in_utf16_order(obj)


def _canonical_without_encoding(text: str, obj: dict[str, Any]) -> bool:
    """True only if the parsed line is its own canonical form, shown without encoding it again (a third of
    the check's cost). It holds for a line in which every string is written without escapes, no whitespace
    lies between tokens, and no object is nested, whose keys appear once each and in sorted order:

    - with no backslash in the line, no string holds an escape, and the parser refuses raw control
      characters in strings, so each string is written as the encoder writes it (it escapes only quotes,
      backslashes and control characters);
    - the parser refuses raw tabs, newlines and carriage returns inside strings, so with no space either,
      nothing lies between tokens; integers are written as int writes them, once the hook has refused "-0";
    - without a backslash no string holds a quote, so each '":' ends a key (or opens a string starting
      with a colon, which only makes the count too large): as many as the object's keys means no key
      appears twice, and the parsed keys keep the line's order, which must be the encoder's sorted order.

    False says nothing: the caller compares the line with its encoding."""
    if "\\" in text or " " in text or "\n" in text or "\t" in text or "\r" in text or text.find("{", 1) >= 0:
        return False
    if text.count('":') != len(obj):
        return False
    keys = list(obj)
    return keys == sorted(keys)


def check_entry(line: bytes) -> tuple[int | None, str | None]:
    """Parse one stored entry: (its seq, or None) and a problem description, or None if it is canonical.

    The fast path accepts only what the full check accepts: one JSON object filling the whole line (the
    scan starts at its first byte and must end at its last, so no whitespace either side), with an integer
    seq, parsed by the same hooks (and "-0" refused), that is its own canonical form: shown without
    encoding for a flat entry written plainly, otherwise by comparing it with its canonical encoding.
    Anything else goes through the full check, which names the problem."""
    try:
        text = line.decode("utf-8")
        obj, end = _SCAN(text, 0)
    except (StopIteration, ValueError):  # _NotPlain, _NotFast and UnicodeDecodeError are ValueErrors
        return check_entry_fully(line)
    if end == len(text) and type(obj) is dict:
        seq = obj.get("seq")
        # UTF-8 maps strings to bytes one to one, so comparing the texts compares the bytes.
        # An ASCII line (CPython knows without reading it) has its keys in the same order either way.
        in_order = text.isascii() or _code_point_order_is_canonical(obj)
        if type(seq) is int and in_order and (_canonical_without_encoding(text, obj) or _ENCODE(obj) == text):
            return seq, None
    return check_entry_fully(line)


def check_entry_fully(line: bytes) -> tuple[int | None, str | None]:
    """check_entry without its fast path: every step, and the first problem found named."""
    try:
        text = line.decode("utf-8")
        obj = _DECODER.decode(text)
    except _NotPlain:
        return _check_slowly(line)
    except (UnicodeDecodeError, ValueError):
        return None, "not valid UTF-8 JSON"
    seq, problem = _seq_of(obj)
    if problem is not None:
        return None, problem
    if _canonical(obj) == text:
        return seq, None
    return seq, _not_canonical(obj)


def _seq_of(obj: Any) -> tuple[int, None] | tuple[None, str]:
    """An entry's seq, or why the parsed value is no entry."""
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        return None, "has no integer seq"
    return seq, None


def _not_canonical(obj: dict[str, Any]) -> str:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate, which has no canonical form"
    return "is not canonical JSON (its bytes differ from the RFC 8785 form of its content)"


def _check_slowly(line: bytes) -> tuple[int | None, str | None]:
    """The general path, for an entry holding a float, NaN or an unsafe integer: which problem comes first."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except ValueError:  # the hook stopped the fast parse before it reached the broken part
        return None, "not valid UTF-8 JSON"
    seq, problem = _seq_of(obj)
    if problem is not None:
        return None, problem
    if not _plain_values(obj):
        return seq, "holds a value other than strings, safe integers, booleans and nulls"
    return seq, _not_canonical(obj)


def _flat(value: Any) -> bool:
    """A value of a flat entry: a string, safe integer, boolean or null, or a list of them (no object)."""
    if isinstance(value, list):
        return all(_flat(item) and not isinstance(item, list) for item in value)
    return not isinstance(value, dict) and _plain_values(value)


def encode_plain(obj: dict[str, Any]) -> bytes | None:
    """The RFC 8785 bytes of a flat entry (strings, safe integers, booleans, nulls, lists of them; no nested
    object, whose keys could sort otherwise) with ASCII keys, by the C encoder the check compares entries
    with; None for anything else, which the writer leaves to a full RFC 8785 encoder. For such values the two
    forms are the same: strings escaped alike (quotes, backslashes and control characters only), integers as
    written, keys in one order (code point order is UTF-16 order for ASCII). A property test holds it to the
    rfc8785 package."""
    if not all(key.isascii() for key in obj) or not all(_flat(value) for value in obj.values()):
        return None
    try:
        return _ENCODE(obj).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no canonical form, the full encoder says so
        return None


def custody_entry(seq: int, at: str, commitment: bytes) -> dict[str, Any]:
    """The whole content of a custody commitment entry, before RFC 8785 encoding."""
    return {"v": CUSTODY_ENTRY_VERSION, "seq": seq, "at": at, "action": CUSTODY_ACTION, "commitment": commitment.hex()}


def custody_problems(obj: dict[str, Any]) -> list[str]:
    """The keys of a parsed entry that keep it from being a custody commitment entry as the log writes it."""
    problems = sorted(obj.keys() - CUSTODY_ENTRY_KEYS)  # anything more would be handed to an outsider
    problems += sorted(CUSTODY_ENTRY_KEYS - obj.keys())
    if "v" in obj and obj["v"] != CUSTODY_ENTRY_VERSION:
        problems.append("v")
    if "action" in obj and obj["action"] != CUSTODY_ACTION:
        problems.append("action")
    if "seq" in obj and (isinstance(obj["seq"], bool) or not isinstance(obj["seq"], int)):
        problems.append("seq")
    if "at" in obj and not isinstance(obj["at"], str):
        problems.append("at")
    if "commitment" in obj and not (isinstance(obj["commitment"], str) and _HEX_HASH.fullmatch(obj["commitment"])):
        problems.append("commitment")
    return problems
