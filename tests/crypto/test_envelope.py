"""Data keys wrapped by versioned KEKs: binding to subject and version, rotation."""

from __future__ import annotations

import uuid

import pytest

from app.crypto import aead, envelope
from app.crypto import keyring as kr
from app.crypto.errors import DecryptionFailed

ALICE = uuid.UUID("0190f1a2-0000-7000-8000-0000000000aa")
BOB = uuid.UUID("0190f1a2-0000-7000-8000-0000000000bb")


@pytest.fixture
def keyring() -> kr.Keyring:
    return kr.generate()


def test_wrap_unwrap_round_trip(keyring: kr.Keyring) -> None:
    dek = envelope.new_data_key()
    wrapped = envelope.wrap(keyring, ALICE, dek)
    assert wrapped.kek_version == keyring.kek_primary == 1
    assert dek not in wrapped.blob
    assert envelope.unwrap(keyring, ALICE, wrapped) == dek


def test_new_data_keys_are_distinct_aes256_keys() -> None:
    a, b = envelope.new_data_key(), envelope.new_data_key()
    assert len(a) == len(b) == 32
    assert a != b


def test_wrapped_key_moved_to_another_subject_fails(keyring: kr.Keyring) -> None:
    wrapped = envelope.wrap(keyring, ALICE, envelope.new_data_key())
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(keyring, BOB, wrapped)


def test_wrapped_key_relabelled_with_another_version_fails(keyring: kr.Keyring) -> None:
    # Both versions exist, so the failure comes from the AAD, not a missing KEK.
    rotated = keyring.with_new_kek()
    old = envelope.wrap(keyring, ALICE, envelope.new_data_key())
    relabelled = envelope.WrappedKey(kek_version=2, blob=old.blob)
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(rotated, ALICE, relabelled)


def test_unknown_kek_version_is_decryption_failed(keyring: kr.Keyring) -> None:
    wrapped = envelope.wrap(keyring, ALICE, envelope.new_data_key())
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(keyring, ALICE, envelope.WrappedKey(kek_version=7, blob=wrapped.blob))


def test_another_keyring_cannot_unwrap(keyring: kr.Keyring) -> None:
    wrapped = envelope.wrap(keyring, ALICE, envelope.new_data_key())
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(kr.generate(), ALICE, wrapped)


def test_rewrap_moves_to_primary_and_keeps_the_dek(keyring: kr.Keyring) -> None:
    dek = envelope.new_data_key()
    old = envelope.wrap(keyring, ALICE, dek)
    rotated = keyring.with_new_kek()

    new = envelope.rewrap(rotated, ALICE, old)

    assert new.kek_version == rotated.kek_primary == 2
    assert new.blob != old.blob
    assert envelope.unwrap(rotated, ALICE, new) == dek
    # The new wrap is under KEK 2 only: a keyring that lost KEK 1 still opens it.
    only_v2 = kr.Keyring(
        keks={2: rotated.kek(2)},
        kek_primary=2,
        roots=rotated.roots,
        root_primary=rotated.root_primary,
        signing_keys=rotated.signing_keys,
    )
    assert envelope.unwrap(only_v2, ALICE, new) == dek
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(only_v2, ALICE, old)


def test_rewrap_under_primary_is_unchanged(keyring: kr.Keyring) -> None:
    wrapped = envelope.wrap(keyring, ALICE, envelope.new_data_key())
    assert envelope.rewrap(keyring, ALICE, wrapped) == wrapped


def test_rewrap_of_a_moved_key_fails(keyring: kr.Keyring) -> None:
    old = envelope.wrap(keyring, ALICE, envelope.new_data_key())
    with pytest.raises(DecryptionFailed):
        envelope.rewrap(keyring.with_new_kek(), BOB, old)


def test_wrap_aad_is_the_documented_format() -> None:
    subject = uuid.UUID("0190f1a2-3b4c-7d5e-8f60-718293a4b5c6")
    assert envelope.wrap_aad(subject, 3) == b"dek|0190f1a23b4c7d5e8f60718293a4b5c6|3"
    assert envelope.wrap_aad(subject, 3) == f"dek|{subject.hex}|3".encode()


def test_wrap_uses_the_documented_aad(keyring: kr.Keyring) -> None:
    # Other components (backup tools, an independent recovery script) rebuild this AAD.
    dek = envelope.new_data_key()
    wrapped = envelope.wrap(keyring, ALICE, dek)
    aad = f"dek|{ALICE.hex}|{wrapped.kek_version}".encode()
    assert aead.decrypt(keyring.kek(wrapped.kek_version), wrapped.blob, aad) == dek
