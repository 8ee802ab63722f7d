"""The keyring document: round trips, passphrase protection, refusal of bad material."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from app.crypto import keyring as kr
from app.crypto import signing
from app.crypto.errors import KeyringError

CHEAP = kr.ScryptParams(n=2**10, r=8, p=1)
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def keyring() -> kr.Keyring:
    return kr.generate().with_new_kek()


def _material(keyring: kr.Keyring) -> list[bytes]:
    return [*keyring.keks.values(), *keyring.roots.values(), *(e.seed for e in keyring.signing_keys)]


def _doc(keyring: kr.Keyring) -> dict[str, Any]:
    return kr.to_document(keyring)


def _loads_doc(doc: Any) -> kr.Keyring:
    return kr.loads(json.dumps(doc).encode(), None)


def test_generate_has_one_of_each() -> None:
    k = kr.generate()
    assert (list(k.keks), k.kek_primary) == ([1], 1)
    assert (list(k.roots), k.root_primary) == ([1], 1)
    assert len(k.signing_keys) == 1
    assert k.signer.key_id == k.signing_keys[0].key_id
    assert len({*_material(k)}) == 3
    assert kr.generate().kek(1) != k.kek(1)


def test_plain_round_trip(keyring: kr.Keyring) -> None:
    raw = kr.dumps(keyring, None)
    assert not kr.is_protected(raw)
    assert json.loads(raw)["format"] == kr.PLAIN_FORMAT
    assert kr.loads(raw, None) == keyring


def test_protected_round_trip(keyring: kr.Keyring) -> None:
    raw = kr.dumps(keyring, PASSPHRASE, CHEAP)
    assert kr.is_protected(raw)
    wrapper = json.loads(raw)
    assert wrapper["format"] == kr.PROTECTED_FORMAT
    assert wrapper["kdf"] | {"salt": None} == {"name": "scrypt", "n": 2**10, "r": 8, "p": 1, "salt": None}
    assert kr.loads(raw, PASSPHRASE) == keyring


def test_protected_document_holds_no_key_material_in_clear(keyring: kr.Keyring) -> None:
    raw = kr.dumps(keyring, PASSPHRASE, CHEAP)
    plain = kr.dumps(keyring, None)
    for material in _material(keyring):
        encoded = base64.b64encode(material)
        assert encoded in plain  # the search below would find it if it were there
        assert encoded not in raw
        assert material not in raw
        assert material.hex().encode() not in raw
    assert b'"kek"' not in raw
    assert b'"seed"' not in raw


def test_wrong_passphrase(keyring: kr.Keyring) -> None:
    raw = kr.dumps(keyring, PASSPHRASE, CHEAP)
    with pytest.raises(KeyringError, match="wrong passphrase"):
        kr.loads(raw, PASSPHRASE + "!")


def test_protected_without_passphrase_names_the_variable(keyring: kr.Keyring) -> None:
    raw = kr.dumps(keyring, PASSPHRASE, CHEAP)
    for passphrase in (None, ""):
        with pytest.raises(KeyringError, match="TESTIMONY_KEYS__PASSPHRASE"):
            kr.loads(raw, passphrase)


def test_empty_passphrase_refused_on_dump(keyring: kr.Keyring) -> None:
    with pytest.raises(KeyringError, match="empty passphrase"):
        kr.dumps(keyring, "", CHEAP)


def test_production_scrypt_parameters() -> None:
    assert kr.PRODUCTION_SCRYPT == kr.ScryptParams(n=2**17, r=8, p=1)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b"\xff\xfe", b"[]", b"42", b'"testimony-keyring/1"', b"null"],
    ids=["empty", "unclosed", "text", "binary", "list", "number", "string", "null"],
)
def test_malformed_json(raw: bytes) -> None:
    with pytest.raises(KeyringError):
        kr.loads(raw, None)
    assert not kr.is_protected(raw)


@pytest.mark.parametrize("fmt", [None, "", "testimony-keyring/2", "testimony-keyring-protected/2", 1])
def test_wrong_format_string(keyring: kr.Keyring, fmt: Any) -> None:
    doc = _doc(keyring)
    doc["format"] = fmt
    with pytest.raises(KeyringError, match="not a Testimony Vault keyring"):
        _loads_doc(doc)


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


SHORT = base64.b64encode(bytes(range(16))).decode()
LONG = base64.b64encode(bytes(range(33))).decode()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("kek", "1"), SHORT),
        (("kek", "2"), LONG),
        (("root", "1"), SHORT),
        (("signing", 0, "seed"), SHORT),
        (("signing", 0, "seed"), ""),
    ],
    ids=["kek-short", "kek-long", "root-short", "seed-short", "seed-empty"],
)
def test_wrong_key_lengths(keyring: kr.Keyring, path: tuple[Any, ...], value: str) -> None:
    doc = _doc(keyring)
    _set(doc, path, value)
    with pytest.raises(KeyringError, match="wrong length"):
        _loads_doc(doc)


@pytest.mark.parametrize(
    ("path", "value"),
    [(("kek_primary",), 3), (("root_primary",), 2), (("kek",), {}), (("root",), {})],
    ids=["kek-primary", "root-primary", "no-keks", "no-roots"],
)
def test_missing_primary(keyring: kr.Keyring, path: tuple[Any, ...], value: Any) -> None:
    doc = _doc(keyring)
    _set(doc, path, value)
    with pytest.raises(KeyringError, match="primary key version is missing"):
        _loads_doc(doc)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("kek"),
        lambda d: d.pop("signing"),
        lambda d: d.update(kek_primary="one"),
        lambda d: d.update(kek=["AAAA"]),
        lambda d: d.update(kek={"x": d["kek"]["1"]}),
        lambda d: d["kek"].update({"1": 5}),
        lambda d: d["kek"].update({"1": "not base64!"}),
        lambda d: d.update(signing=[{"seed": d["signing"][0]["seed"]}]),
        lambda d: d.update(signing=None),
    ],
    ids=[
        "no-kek",
        "no-signing",
        "primary-not-int",
        "kek-list",
        "kek-version-text",
        "kek-not-string",
        "kek-bad-base64",
        "signing-no-key-id",
        "signing-null",
    ],
)
def test_malformed_documents(keyring: kr.Keyring, breakage: Any) -> None:
    doc = _doc(keyring)
    breakage(doc)
    with pytest.raises(KeyringError, match="malformed"):
        _loads_doc(doc)


def test_no_active_signing_key(keyring: kr.Keyring) -> None:
    doc = _doc(keyring)
    doc["signing"][0]["retired"] = True
    with pytest.raises(KeyringError, match="no active signing key"):
        _loads_doc(doc)


def test_signing_key_id_must_match_seed(keyring: kr.Keyring) -> None:
    doc = _doc(keyring)
    doc["signing"][0]["key_id"] = "0123456789abcdef"
    with pytest.raises(KeyringError, match="key id does not match"):
        _loads_doc(doc)


def test_retired_primary_kek_refused_on_load(keyring: kr.Keyring) -> None:
    doc = _doc(keyring)
    doc["kek_retired"] = [keyring.kek_primary]
    with pytest.raises(KeyringError, match="retired"):
        _loads_doc(doc)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("kek", bytes(32)),
        ("root", bytes(32)),
        ("seed", bytes(32)),
        ("kek", b"\xaa" * 32),
        ("root", b"0123" * 8),
    ],
    ids=["kek-zero", "root-zero", "seed-zero", "kek-repeated", "root-pattern"],
)
def test_placeholder_material_refused(keyring: kr.Keyring, path: str, value: bytes) -> None:
    keyring.check_not_placeholder()  # the real keyring passes
    if path == "kek":
        bad = kr.Keyring(
            keks={**keyring.keks, 1: value},
            kek_primary=keyring.kek_primary,
            roots=keyring.roots,
            root_primary=keyring.root_primary,
            signing_keys=keyring.signing_keys,
        )
    elif path == "root":
        bad = kr.Keyring(
            keks=keyring.keks,
            kek_primary=keyring.kek_primary,
            roots={1: value},
            root_primary=1,
            signing_keys=keyring.signing_keys,
        )
    else:
        entry = kr.SigningEntry(
            key_id=signing.key_id(signing.Signer.from_seed(value).public_key), seed=value, created="2025-01-01"
        )
        bad = kr.Keyring(
            keks=keyring.keks,
            kek_primary=keyring.kek_primary,
            roots=keyring.roots,
            root_primary=keyring.root_primary,
            signing_keys=(entry,),
        )
    # Well-formed, so loading accepts it; the placeholder check is what refuses it.
    assert kr.loads(kr.dumps(bad, None), None) == bad
    with pytest.raises(KeyringError, match="placeholder"):
        bad.check_not_placeholder()


def test_with_new_kek_increments_version_and_sets_primary() -> None:
    k1 = kr.generate()
    k2 = k1.with_new_kek()
    k3 = k2.with_new_kek()
    assert (k2.kek_primary, k3.kek_primary) == (2, 3)
    assert sorted(k3.keks) == [1, 2, 3]
    assert (k3.kek(1), k3.kek(2)) == (k1.kek(1), k2.kek(2))
    assert len({k3.kek(1), k3.kek(2), k3.kek(3)}) == 3
    assert (k3.roots, k3.signing_keys) == (k1.roots, k1.signing_keys)
    assert (k1.kek_primary, list(k1.keks)) == (1, [1])  # the original is untouched


def test_with_new_kek_after_retirement_never_reuses_a_version() -> None:
    k = kr.generate().with_new_kek().with_retired_keks({1}).with_new_kek()
    assert k.kek_primary == 3
    assert k.kek_retired == frozenset({1})


def test_retiring_the_primary_is_refused() -> None:
    k = kr.generate().with_new_kek()
    with pytest.raises(KeyringError, match="primary KEK cannot be retired"):
        k.with_retired_keks({2})
    with pytest.raises(KeyringError, match="primary KEK cannot be retired"):
        k.with_retired_keks({1, 2})
    assert k.with_retired_keks({1}).kek_retired == frozenset({1})


def test_retired_versions_survive_a_round_trip() -> None:
    k = kr.generate().with_new_kek().with_retired_keks({1})
    assert kr.loads(kr.dumps(k, PASSPHRASE, CHEAP), PASSPHRASE).kek_retired == frozenset({1})


def test_root_lookup() -> None:
    k = kr.generate()
    assert k.root() == k.root(1) == k.roots[1]
    with pytest.raises(KeyError):
        k.root(2)


def test_public_keys_list_ids_and_fingerprints_never_the_seed(keyring: kr.Keyring) -> None:
    published = keyring.public_keys()
    entry = keyring.signing_keys[0]
    pub = signing.Signer.from_seed(entry.seed).public_key
    assert published == [
        {
            "key_id": entry.key_id,
            "public_key": base64.b64encode(pub).decode(),
            "fingerprint": signing.fingerprint(pub),
            "created": entry.created,
            "retired": False,
        }
    ]
    text = json.dumps(published)
    assert base64.b64encode(entry.seed).decode() not in text
    assert entry.seed.hex() not in text


def test_repr_does_not_show_key_material(keyring: kr.Keyring) -> None:
    text = repr(keyring)
    assert "kek_primary=2" in text
    for material in _material(keyring):
        assert repr(material)[2:-1] not in text
        assert material.hex() not in text


def test_protected_file_cannot_demand_unbounded_scrypt_cost() -> None:
    raw = kr.dumps(kr.generate(), "a passphrase long enough", kr.ScryptParams(n=2**10, r=8, p=1))
    doc = json.loads(raw)
    doc["kdf"]["n"] = 2**30
    with pytest.raises(KeyringError, match="outside the accepted range"):
        kr.loads(json.dumps(doc).encode(), "a passphrase long enough")
    doc["kdf"]["n"] = 2**10
    doc["kdf"]["name"] = "argon2"
    with pytest.raises(KeyringError, match="unknown key derivation"):
        kr.loads(json.dumps(doc).encode(), "a passphrase long enough")
