"""Ed25519 signing with context strings, checked against RFC 8032."""

from __future__ import annotations

import hashlib

import pytest

from app.crypto import signing

# RFC 8032 section 7.1, TEST 1.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

CHECKPOINT_CONTEXT = b"testimony-vault/checkpoint/v1"
SEED = bytes(range(32))


@pytest.fixture
def signer() -> signing.Signer:
    return signing.Signer.from_seed(SEED)


def test_rfc8032_test_1() -> None:
    signer = signing.Signer.from_seed(RFC8032_SECRET)
    assert signer.public_key == RFC8032_PUBLIC
    assert signer.sign_raw(b"") == RFC8032_SIGNATURE
    assert signing.verify_raw(RFC8032_PUBLIC, RFC8032_SIGNATURE, b"")
    assert not signing.verify_raw(RFC8032_PUBLIC, RFC8032_SIGNATURE, b"\x00")


def test_sign_verify_with_context(signer: signing.Signer) -> None:
    sig = signer.sign(signing.MANIFEST_CONTEXT, b"manifest body")
    assert len(sig) == 64
    assert signing.verify(signer.public_key, sig, signing.MANIFEST_CONTEXT, b"manifest body")
    assert not signing.verify(signer.public_key, sig, signing.MANIFEST_CONTEXT, b"manifest body!")


def test_signature_does_not_cross_contexts(signer: signing.Signer) -> None:
    sig = signer.sign(signing.MANIFEST_CONTEXT, b"tree head 42")
    assert not signing.verify(signer.public_key, sig, CHECKPOINT_CONTEXT, b"tree head 42")
    other = signer.sign(CHECKPOINT_CONTEXT, b"tree head 42")
    assert not signing.verify(signer.public_key, other, signing.MANIFEST_CONTEXT, b"tree head 42")
    assert signing.verify(signer.public_key, other, CHECKPOINT_CONTEXT, b"tree head 42")


def test_context_boundary_is_unambiguous(signer: signing.Signer) -> None:
    # Without the length prefix, ("ab", "c") and ("a", "bc") would sign the same bytes.
    sig = signer.sign(b"ab", b"c")
    assert not signing.verify(signer.public_key, sig, b"a", b"bc")


def test_context_signature_is_not_a_raw_signature(signer: signing.Signer) -> None:
    sig = signer.sign(signing.MANIFEST_CONTEXT, b"body")
    assert not signing.verify_raw(signer.public_key, sig, b"body")
    assert not signing.verify_raw(signer.public_key, sig, signing.MANIFEST_CONTEXT + b"body")


def test_raw_sign_verify(signer: signing.Signer) -> None:
    sig = signer.sign_raw(b"signed note\n")
    assert signing.verify_raw(signer.public_key, sig, b"signed note\n")
    assert not signing.verify(signer.public_key, sig, b"", b"signed note\n")


def test_verify_with_another_key_fails(signer: signing.Signer) -> None:
    other = signing.Signer.from_seed(bytes(range(1, 33)))
    sig = signer.sign(signing.MANIFEST_CONTEXT, b"body")
    assert not signing.verify(other.public_key, sig, signing.MANIFEST_CONTEXT, b"body")


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [(b"short", bytes(64)), (RFC8032_PUBLIC, bytes(63)), (RFC8032_PUBLIC, b""), (RFC8032_PUBLIC, bytes(64))],
    ids=["short-key", "short-signature", "empty-signature", "zero-signature"],
)
def test_malformed_inputs_verify_false(public_key: bytes, signature: bytes) -> None:
    assert signing.verify_raw(public_key, signature, b"") is False


def test_fingerprint_is_sha256_of_raw_public_key() -> None:
    assert signing.fingerprint(RFC8032_PUBLIC) == hashlib.sha256(RFC8032_PUBLIC).hexdigest()
    assert len(signing.fingerprint(RFC8032_PUBLIC)) == 64


def test_key_id_is_the_16_hex_prefix_of_the_fingerprint(signer: signing.Signer) -> None:
    digest = hashlib.sha256(signer.public_key).hexdigest()
    assert signer.key_id == signing.key_id(signer.public_key) == digest[:16]
    assert signing.key_id(RFC8032_PUBLIC) == hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:16]


def test_signer_repr_does_not_show_the_seed(signer: signing.Signer) -> None:
    assert SEED.hex() not in repr(signer)
    assert repr(SEED) not in repr(signer)


def test_raw_signing_refuses_what_could_pass_as_a_framed_message() -> None:
    signer = signing.Signer.from_seed(bytes(range(32)))
    with pytest.raises(ValueError, match="NUL"):
        signer.sign_raw(b"\x00\x1btestimony-vault/manifest/v1{}")
    assert signing.verify_raw(signer.public_key, signer.sign_raw(b"origin\n1\n"), b"origin\n1\n")
