"""HKDF-derived keys and HMAC, checked against RFC 5869 and RFC 4231."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.crypto.derive import Purpose, derive_key, keyed_hash

# RFC 5869 appendix A.3 (test case 3): zero-length salt and info.
RFC5869_3_IKM = bytes([0x0B]) * 22
RFC5869_3_PRK = bytes.fromhex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04")
RFC5869_3_OKM = bytes.fromhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
# RFC 5869 appendix A.1 (test case 1), to check the reference below with a salt and info too.
RFC5869_1_SALT = bytes(range(0x0D))
RFC5869_1_INFO = bytes(range(0xF0, 0xFA))
RFC5869_1_OKM = bytes.fromhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def reference_hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> tuple[bytes, bytes]:
    """HKDF-SHA256 written from RFC 5869 section 2 with the stdlib only; returns (PRK, OKM)."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return prk, okm[:length]


def test_reference_hkdf_matches_rfc5869_case_3() -> None:
    assert reference_hkdf(RFC5869_3_IKM, b"", b"", 42) == (RFC5869_3_PRK, RFC5869_3_OKM)


def test_reference_hkdf_matches_rfc5869_case_1() -> None:
    assert reference_hkdf(RFC5869_3_IKM, RFC5869_1_SALT, RFC5869_1_INFO, 42)[1] == RFC5869_1_OKM


@pytest.mark.parametrize("purpose", list(Purpose))
def test_derive_key_is_hkdf_sha256_with_empty_salt_and_purpose_info(purpose: Purpose) -> None:
    # derive_key passes salt=None; RFC 5869 says an absent salt is HashLen zeros, and HMAC
    # pads a zero-length key to the same block, so it equals the RFC's zero-length salt.
    info = purpose.value.encode()
    expected = reference_hkdf(RFC5869_3_IKM, b"", info, 32)[1]
    assert derive_key(RFC5869_3_IKM, purpose) == expected
    assert reference_hkdf(RFC5869_3_IKM, bytes(32), info, 32)[1] == expected


def test_purpose_strings_are_stable() -> None:
    # Changing one silently breaks every blind index or pseudonym already stored.
    assert {p.name: p.value for p in Purpose} == {
        "BLIND_INDEX": "testimony/blind-index/v1",
        "EXPORT_PSEUDONYM": "testimony/export-pseudonym/v1",
        "CLIENT_ADDRESS": "testimony/client-address/v1",
        "CONSENT_REFERENCE": "testimony/consent-reference/v1",
        "JOURNAL": "testimony/journal/v1",
    }


def test_derive_key_is_deterministic() -> None:
    root = bytes(range(32))
    assert derive_key(root, Purpose.BLIND_INDEX) == derive_key(bytes(range(32)), Purpose.BLIND_INDEX)
    assert len(derive_key(root, Purpose.BLIND_INDEX)) == 32


def test_derive_key_differs_per_purpose() -> None:
    root = bytes(range(32))
    keys = {derive_key(root, p) for p in Purpose}
    assert len(keys) == len(Purpose)
    assert root not in keys


def test_derive_key_differs_per_root() -> None:
    a, b = bytes(range(32)), bytes(range(1, 33))
    for purpose in Purpose:
        assert derive_key(a, purpose) != derive_key(b, purpose)


def test_keyed_hash_is_hmac_sha256_rfc4231_case_2() -> None:
    assert keyed_hash(b"Jefe", b"what do ya want for nothing?") == bytes.fromhex(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
