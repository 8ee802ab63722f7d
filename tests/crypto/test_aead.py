"""AES-256-GCM sealing of single values: round trips, binding to place, one error."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.crypto import aead
from app.crypto.errors import DecryptionFailed

KEY = bytes(range(32))
ROW = uuid.UUID("0190f1a2-0000-7000-8000-000000000001")
PERSON = uuid.UUID("0190f1a2-0000-7000-8000-0000000000aa")


def _seal(plaintext: bytes, key: bytes = KEY) -> bytes:
    return aead.seal(key, plaintext, table="person", column="family_name", row_id=ROW, person_id=PERSON)


def _open(
    blob: bytes,
    key: bytes = KEY,
    *,
    table: str = "person",
    column: str = "family_name",
    row_id: uuid.UUID = ROW,
    person_id: uuid.UUID | None = PERSON,
) -> bytes:
    return aead.open(key, blob, table=table, column=column, row_id=row_id, person_id=person_id)


def test_round_trip() -> None:
    blob = _seal(b"Grigoryan")
    assert _open(blob) == b"Grigoryan"
    assert b"Grigoryan" not in blob


def test_layout_is_format_byte_nonce_ciphertext_tag() -> None:
    blob = _seal(b"abc")
    assert blob[:1] == aead.FORMAT_V1
    assert len(blob) == 1 + aead.NONCE_BYTES + 3 + 16


@pytest.mark.parametrize("text", ["Գրիգորյան Անահիտ", "Grigoryan Anahit", "Григорян Анаит", ""])
def test_armenian_latin_cyrillic_round_trip(text: str) -> None:
    assert _open(_seal(text.encode())).decode() == text


def test_nonces_differ_between_two_seals_of_the_same_plaintext() -> None:
    a, b = _seal(b"same"), _seal(b"same")
    assert a[1 : 1 + aead.NONCE_BYTES] != b[1 : 1 + aead.NONCE_BYTES]
    assert a != b


@pytest.mark.parametrize(
    "moved",
    [
        {"table": "contact"},
        {"column": "given_name"},
        {"row_id": uuid.UUID("0190f1a2-0000-7000-8000-000000000002")},
        {"person_id": uuid.UUID("0190f1a2-0000-7000-8000-0000000000bb")},
        {"person_id": None},
    ],
    ids=["table", "column", "row_id", "person_id", "person_id-none"],
)
def test_ciphertext_moved_to_another_place_fails(moved: dict[str, Any]) -> None:
    blob = _seal(b"secret")
    with pytest.raises(DecryptionFailed):
        _open(blob, **moved)


def test_value_sealed_without_person_opens_only_without_person() -> None:
    blob = aead.seal(KEY, b"totp", table="user", column="totp_secret", row_id=ROW, person_id=None)
    assert aead.open(KEY, blob, table="user", column="totp_secret", row_id=ROW, person_id=None) == b"totp"
    with pytest.raises(DecryptionFailed):
        aead.open(KEY, blob, table="user", column="totp_secret", row_id=ROW, person_id=PERSON)


def test_seal_aad_format() -> None:
    assert aead.seal_aad("person", "family_name", ROW, PERSON) == (
        f"v1|person|family_name|{ROW.hex}|{PERSON.hex}".encode()
    )
    assert aead.seal_aad("user", "totp_secret", ROW, None) == f"v1|user|totp_secret|{ROW.hex}|-".encode()


def test_separator_in_names_refused() -> None:
    # "a|b" + "c" and "a" + "b|c" would otherwise give the same AAD.
    with pytest.raises(ValueError, match=r"\|"):
        aead.seal_aad("a|b", "c", ROW, PERSON)
    with pytest.raises(ValueError, match=r"\|"):
        aead.seal_aad("a", "b|c", ROW, PERSON)


def _flip(blob: bytes, i: int) -> bytes:
    return blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :]


def _failures() -> dict[str, tuple[bytes, bytes]]:
    """(key, blob) pairs that must all fail the same way."""
    blob = _seal(b"statement text")
    return {
        "tampered-nonce": (KEY, _flip(blob, 1)),
        "tampered-ciphertext": (KEY, _flip(blob, 1 + aead.NONCE_BYTES)),
        "tampered-tag": (KEY, _flip(blob, len(blob) - 1)),
        "truncated-tag": (KEY, blob[:-1]),
        "truncated-short": (KEY, blob[: 1 + aead.NONCE_BYTES]),
        "empty": (KEY, b""),
        "extended": (KEY, blob + b"\x00"),
        "wrong-key": (bytes(31) + b"\x01", blob),
        "short-key": (KEY[:16], blob),
        "format-byte-0": (KEY, b"\x00" + blob[1:]),
        "format-byte-2": (KEY, b"\x02" + blob[1:]),
    }


@pytest.mark.parametrize("case", sorted(_failures()))
def test_every_failure_is_the_same_decryption_failed(case: str) -> None:
    key, blob = _failures()[case]
    with pytest.raises(DecryptionFailed) as info:
        _open(blob, key=key)
    assert type(info.value) is DecryptionFailed
    assert str(info.value) == "decryption failed"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ or info.value.__context__ is None


def test_encrypt_refuses_wrong_key_length() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        aead.encrypt(KEY[:16], b"x", b"aad")


def test_new_key_is_32_random_bytes() -> None:
    a, b = aead.new_key(), aead.new_key()
    assert len(a) == aead.KEY_BYTES
    assert a != b


@given(plaintext=st.binary(max_size=4096), aad=st.binary(max_size=64))
def test_round_trip_arbitrary_bytes(plaintext: bytes, aad: bytes) -> None:
    blob = aead.encrypt(KEY, plaintext, aad)
    assert aead.decrypt(KEY, blob, aad) == plaintext
    with pytest.raises(DecryptionFailed):
        aead.decrypt(KEY, blob, aad + b"x")


BINDING = {"case": "c1", "code": "KX7-42QM"}


def _seal_bound(plaintext: bytes, binding: dict[str, str] = BINDING) -> bytes:
    return aead.seal_bound(
        KEY, plaintext, table="people", column="identity", row_id=ROW, person_id=PERSON, binding=binding
    )


def _open_bound(blob: bytes, binding: dict[str, str] = BINDING, *, accept_v1: bool = False) -> bytes:
    return aead.open_bound(
        KEY, blob, table="people", column="identity", row_id=ROW, person_id=PERSON, binding=binding, accept_v1=accept_v1
    )


def test_bound_aad_appends_the_binding_in_name_order() -> None:
    assert aead.bound_aad("people", "identity", ROW, PERSON, {"code": "KX7-42QM", "case": "c1"}) == (
        f"v2|people|identity|{ROW.hex}|{PERSON.hex}|case=c1|code=KX7-42QM".encode()
    )


def test_bound_value_carries_its_own_format_byte_and_round_trips() -> None:
    blob = _seal_bound(b"Grigoryan")
    assert blob[:1] == aead.FORMAT_V2
    assert aead.is_bound(blob)
    assert not aead.is_bound(aead.seal(KEY, b"x", table="people", column="identity", row_id=ROW, person_id=PERSON))
    assert _open_bound(blob) == b"Grigoryan"


@pytest.mark.parametrize(
    "binding",
    [{"case": "c2", "code": "KX7-42QM"}, {"case": "c1", "code": "KX7-42QN"}, {"case": "c1"}, {**BINDING, "x": "1"}],
    ids=["other-case", "other-code", "missing", "extra"],
)
def test_bound_value_fails_under_another_binding(binding: dict[str, str]) -> None:
    with pytest.raises(DecryptionFailed):
        _open_bound(_seal_bound(b"secret"), binding)


def test_v1_value_opens_only_while_accepted_and_a_v2_value_is_never_read_as_v1() -> None:
    v1 = aead.seal(KEY, b"old", table="people", column="identity", row_id=ROW, person_id=PERSON)
    assert _open_bound(v1, accept_v1=True) == b"old"
    with pytest.raises(DecryptionFailed):
        _open_bound(v1)
    # Relabelling a v1 value as v2, or the reverse, fails: the two AADs never coincide.
    with pytest.raises(DecryptionFailed):
        _open_bound(aead.FORMAT_V2 + v1[1:], accept_v1=True)
    with pytest.raises(DecryptionFailed):
        _open_bound(aead.FORMAT_V1 + _seal_bound(b"new")[1:], accept_v1=True)


@pytest.mark.parametrize("binding", [{}, {"a|b": "c"}, {"a=b": "c"}, {"a": "b|c"}], ids=["empty", "bar", "eq", "val"])
def test_ambiguous_or_empty_binding_is_refused(binding: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="bind"):
        aead.bound_aad("people", "identity", ROW, PERSON, binding)
