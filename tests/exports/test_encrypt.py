"""A bundle encrypted to the recipient's age key as it streams: the real `age -d` decrypts it to the bundle."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.crypto import keyring as kr
from app.exports.bundle import Bundle
from app.exports.encrypt import AGE, encrypt_to_age
from tests.support.bundles import README, fingerprint, info, sample_entries, standalone, write_bundle

SIGNER = kr.generate().signer


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real age identity from age-keygen: its file and its recipient."""
    path = tmp_path_factory.mktemp("age") / "identity.txt"
    subprocess.run(["/usr/bin/age-keygen", "-o", str(path)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["/usr/bin/age-keygen", "-y", str(path)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return path, recipient


def test_the_encrypted_bundle_decrypts_with_the_age_binary_and_verifies(
    tmp_path: Path, identity: tuple[Path, str]
) -> None:
    key_path, recipient = identity
    plain = tmp_path / "plain.zip"
    write_bundle(plain, SIGNER)
    bundle = Bundle(sample_entries(), info(), SIGNER, README)
    sealed = tmp_path / "bundle.zip.age"
    with sealed.open("wb") as fh:
        for block in encrypt_to_age(bundle.chunks(), recipient):
            fh.write(block)
    assert sealed.read_bytes().startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert b"manifest.json" not in sealed.read_bytes()
    decrypted = tmp_path / "bundle.zip"
    subprocess.run([AGE, "-d", "-i", str(key_path), "-o", str(decrypted), str(sealed)], check=True)
    assert decrypted.read_bytes() == plain.read_bytes()
    assert bundle.result.manifest_sha256  # the writer finished behind the encryption
    alone = standalone(tmp_path, str(decrypted), "--key", fingerprint(SIGNER))
    assert alone.returncode == 0, alone.stdout


def test_another_identity_cannot_decrypt(tmp_path: Path, identity: tuple[Path, str]) -> None:
    _, recipient = identity
    sealed = tmp_path / "b.age"
    sealed.write_bytes(b"".join(encrypt_to_age([b"PK\x03\x04 bundle bytes"], recipient)))
    other = tmp_path / "other.txt"
    subprocess.run(["/usr/bin/age-keygen", "-o", str(other)], check=True, capture_output=True)
    refused = subprocess.run([AGE, "-d", "-i", str(other), str(sealed)], capture_output=True, check=False)
    assert refused.returncode != 0
    assert refused.stdout == b""


def test_only_an_age_recipient_is_accepted(identity: tuple[Path, str]) -> None:
    key_path, _ = identity
    secret = next(line for line in key_path.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
    for bad in ("", "age1notakey", "-r", "ssh-ed25519 AAAA", secret):
        with pytest.raises(ValueError, match="age"):
            list(encrypt_to_age([b"x"], bad))


class Broken(Exception):
    pass


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_a_failing_source_stops_age_and_raises_its_error(identity: tuple[Path, str]) -> None:
    _, recipient = identity

    def source() -> Iterator[bytes]:
        yield b"x" * 100_000
        raise Broken

    with pytest.raises(Broken):
        for _ in encrypt_to_age(source(), recipient):
            pass
    assert "age-feeder" not in _threads()


def test_closing_the_stream_early_stops_age(identity: tuple[Path, str]) -> None:
    _, recipient = identity
    endless = (b"y" * 65536 for _ in range(100_000))
    stream = encrypt_to_age(endless, recipient)
    next(stream)
    stream.close()
    assert "age-feeder" not in _threads()
