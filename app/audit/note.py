"""C2SP signed notes (https://c2sp.org/signed-note) carrying tlog checkpoints (https://c2sp.org/tlog-checkpoint).

Only Ed25519 keys are understood. Imports nothing of the application beyond the signing recipe, so the offline
verifier can ship it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple

from app.crypto.signing import Signer, verify_raw

ALG_ED25519 = 0x01
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100
ROOT_HASH_SIZE = 32

_SIG_PREFIX = "\u2014 "  # em dash, space
_KEY_HASH_HEX = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_MAX_TREE_SIZE = (1 << 64) - 1


class NoteError(Exception):
    """A note or verifier key is malformed, unsigned by the expected key, or its signature is bad."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed claim: the tree of `size` entries under `origin` has root `root_hash`."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


class NoteSignature(NamedTuple):
    """One signature line: who claims to have signed, the 4-byte key hash, and the raw signature."""

    key_name: str
    key_hash: bytes
    signature: bytes


def _valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _b64decode_canonical(text: str) -> bytes:
    """Strict standard base64: no stray characters, correct padding, and only one encoding per value."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("malformed base64") from exc
    # Non-zero padding bits decode too; refusing them keeps a signed value to a single spelling.
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError("malformed base64")
    return raw


def key_hash(key_name: str, public_key: bytes) -> bytes:
    """First 4 bytes of SHA-256(name || "\\n" || 0x01 || public key): names the key in signature lines."""
    return hashlib.sha256(key_name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def vkey(key_name: str, public_key: bytes) -> str:
    """The C2SP verifier key string: <name>+<hex key hash>+<base64(0x01 || public key)>."""
    if not _valid_key_name(key_name):
        raise NoteError("key names are non-empty and contain no spaces or '+'")
    if len(public_key) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    encoded = base64.b64encode(bytes([ALG_ED25519]) + public_key).decode("ascii")
    return f"{key_name}+{key_hash(key_name, public_key).hex()}+{encoded}"


def parse_vkey(text: str) -> tuple[str, bytes]:
    """Parse a verifier key string into (key name, raw Ed25519 public key), checking its key hash."""
    parts = text.split("+")
    # The key name cannot hold '+', and base64 can: only the first two '+' separate fields.
    if len(parts) < 3:
        raise NoteError("malformed verifier key")
    name, hash_hex, key_b64 = parts[0], parts[1], "+".join(parts[2:])
    if not _valid_key_name(name) or not _KEY_HASH_HEX.fullmatch(hash_hex):
        raise NoteError("malformed verifier key")
    key = _b64decode_canonical(key_b64)
    if len(key) != 33 or key[0] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 key")
    public_key = key[1:]
    if key_hash(name, public_key).hex() != hash_hex:
        raise NoteError("verifier key hash does not match its name and key")
    return name, public_key


def _decode(text: str | bytes) -> str:
    raw = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
    if len(raw) > MAX_NOTE_BYTES:
        raise NoteError("note is larger than 1 MiB")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError("note is not valid UTF-8") from exc
    if any(c < " " and c != "\n" for c in decoded):
        raise NoteError("note contains control characters")
    return decoded


def split_note(text: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text (with final newline) and signature lines, without verifying."""
    decoded = _decode(text)
    # The last blank line separates text from signatures, so the text may itself hold blank lines.
    cut = decoded.rfind("\n\n")
    if cut < 0:
        raise NoteError("note has no signature block")
    body, block = decoded[: cut + 1], decoded[cut + 2 :]
    if not block.endswith("\n"):
        raise NoteError("signature block does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed signature line")
        name, sep, sig_b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not _valid_key_name(name):
            raise NoteError("malformed signature line")
        blob = _b64decode_canonical(sig_b64)
        if len(blob) < 5:
            raise NoteError("malformed signature line")
        signatures.append(NoteSignature(name, blob[:4], blob[4:]))
    return body, signatures


def sign_note(body: str, signer: Signer, key_name: str) -> str:
    """Sign a note text (which must end in a newline) and return the whole note."""
    if not _valid_key_name(key_name):
        raise NoteError("key names are non-empty and contain no spaces or '+'")
    if not body.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _decode(body)
    message = body.encode("utf-8")
    blob = key_hash(key_name, signer.public_key) + signer.sign_raw(message)
    return f"{body}\n{_SIG_PREFIX}{key_name} {base64.b64encode(blob).decode('ascii')}\n"


def verify_note(text: str | bytes, key_name: str, public_key: bytes) -> str:
    """Return the note's text if it carries a valid signature by this key; raise NoteError otherwise.

    Lines by other keys (witness cosignatures) are ignored, but every line that names this key must verify:
    a bad line claiming to be ours means someone tampered with the note.
    """
    body, signatures = split_note(text)
    expected = key_hash(key_name, public_key)
    ours = [s for s in signatures if s.key_name == key_name and s.key_hash == expected]
    if not ours:
        raise NoteError(f"note is not signed by key {key_name}+{expected.hex()}")
    message = body.encode("utf-8")
    if not all(verify_raw(public_key, s.signature, message) for s in ours):
        raise NoteError(f"invalid signature for key {key_name}+{expected.hex()}")
    return body


def format_body(cp: Checkpoint) -> bytes:
    """The checkpoint note text: origin, decimal size, base64 root hash, then any extension lines."""
    if not cp.origin or "\n" in cp.origin or any(not line or "\n" in line for line in cp.extensions):
        raise NoteError("checkpoint origin and extension lines are non-empty single lines")
    if not 0 <= cp.size <= _MAX_TREE_SIZE:
        raise NoteError("checkpoint size is out of range")
    if len(cp.root_hash) != ROOT_HASH_SIZE:
        raise NoteError("checkpoint root hash is 32 bytes")
    lines = [cp.origin, str(cp.size), base64.b64encode(cp.root_hash).decode("ascii"), *cp.extensions]
    return ("\n".join(lines) + "\n").encode("utf-8")


def parse_body(body: str) -> Checkpoint:
    """Parse checkpoint note text; the caller is responsible for having verified its signature."""
    if not body.endswith("\n"):
        raise NoteError("checkpoint does not end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise NoteError("checkpoint needs origin, size and root hash lines, and no empty lines")
    origin, size_text, root_b64, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > _MAX_TREE_SIZE:
        raise NoteError("checkpoint size is not a canonical decimal number")
    root_hash = _b64decode_canonical(root_b64)
    if len(root_hash) != ROOT_HASH_SIZE:
        raise NoteError("checkpoint root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root_hash, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: Signer, key_name: str) -> str:
    """The whole signed checkpoint note."""
    return sign_note(format_body(cp).decode("utf-8"), signer, key_name)


def parse_note(text: str | bytes) -> tuple[Checkpoint, list[NoteSignature]]:
    """Parse a checkpoint note without verifying it: for display and diagnostics only."""
    body, signatures = split_note(text)
    return parse_body(body), signatures


def verify_checkpoint(text: str | bytes, key_name: str, public_key: bytes) -> Checkpoint:
    """The checkpoint, if the note is well formed and validly signed by this key; NoteError otherwise."""
    return parse_body(verify_note(text, key_name, public_key))
