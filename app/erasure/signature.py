"""A backup's signature: the service's Ed25519 signing key over a digest of every member, so that a restore
takes only a backup this service made.

age authenticates a backup's stream against change, not its origin: anyone with the public recipient can write
one. So ``testimony backup`` frames every tar member (name, size, content) into one SHA-256 and adds, as the last
member, that digest signed under ``signing.BACKUP_CONTEXT`` with the keyring's active signing key.
``testimony restore`` reads the whole stream once, unpacking nothing, and checks the signature against every
signing key the keyring holds (retired ones included: a backup outlives a rotation); only then does it unpack,
digesting again, and undoes everything if the second reading differs from the one it verified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
from typing import IO

from app.crypto import keyring as kr
from app.crypto import signing
from app.erasure.archive import BackupError

SIGNATURE = "signature.json"
CHUNK = 1 << 16
UNSIGNED = "this file is not a Testimony Vault backup signed by this service's keys"


class Digest:
    """The running digest of a backup's members, in the order written."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def member(self, name: str, size: int) -> None:
        encoded = name.encode()
        self._hash.update(len(encoded).to_bytes(4, "big") + encoded + size.to_bytes(8, "big"))

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.copy().digest()


class Hashing:
    """A file read through the digest (tarfile copies a blob with ``read``)."""

    def __init__(self, source: IO[bytes], digest: Digest) -> None:
        self._source = source
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._digest.update(data)
        return data


def signed(digest: Digest, keyring: kr.Keyring) -> bytes:
    """The signature member's content: the digest, signed with the active signing key."""
    signer = keyring.signer
    value = digest.digest()
    document = {
        "key_id": signer.key_id,
        "sha256": value.hex(),
        "signature": base64.b64encode(signer.sign(signing.BACKUP_CONTEXT, value)).decode(),
    }
    return json.dumps(document).encode()


def check(content: bytes, digest: Digest, keyring: kr.Keyring) -> None:
    """BackupError unless ``content`` signs this digest with one of the keyring's signing keys."""
    try:
        document = json.loads(content)
        key_id = str(document["key_id"])
        signature = base64.b64decode(str(document["signature"]), validate=True)
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{UNSIGNED} (its signature cannot be read)") from None
    keys = [signing.Signer.from_seed(e.seed).public_key for e in keyring.signing_keys if e.key_id == key_id]
    if not keys:
        raise BackupError(f"{UNSIGNED} (signed by a key this keyring never held)")
    if not signing.verify(keys[0], signature, signing.BACKUP_CONTEXT, digest.digest()):
        raise BackupError(f"{UNSIGNED} (its signature does not match what it holds)")


def read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, digest: Digest) -> Hashing:
    """A member's content, read through the digest; only regular files are in a backup."""
    if not member.isfile() or member.name == SIGNATURE:
        raise BackupError(f"{UNSIGNED} (it holds a member no backup has)")
    digest.member(member.name, member.size)
    source = tar.extractfile(member)
    assert source is not None
    return Hashing(source, digest)


def verified(tar: tarfile.TarFile, keyring: kr.Keyring) -> bytes:
    """Read the whole stream, writing nothing, and return the digest its last member validly signs."""
    digest = Digest()
    while (member := tar.next()) is not None:
        if member.name == SIGNATURE and member.isfile():
            source = tar.extractfile(member)
            assert source is not None
            check(source.read(CHUNK), digest, keyring)
            if tar.next() is not None:
                raise BackupError(f"{UNSIGNED} (something follows its signature)")
            return digest.digest()
        content = read_member(tar, member, digest)
        while content.read(CHUNK):
            pass
    raise BackupError(f"{UNSIGNED} (it has no signature)")
