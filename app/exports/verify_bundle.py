#!/usr/bin/env python3
"""Verify a Testimony Vault export bundle offline, with a signing key you pinned yourself.

    python3 verify_bundle.py BUNDLE --key KEY_OR_FINGERPRINT

BUNDLE is the bundle's ZIP file (decrypted first with `age -d` if it was sent encrypted) or the folder it
was extracted into. KEY_OR_FINGERPRINT is the organisation's published signing key: its 64-hex-digit
SHA-256 fingerprint, the base64 Ed25519 public key, or a C2SP verifier key (name+hash+key).

It checks that manifest.sig is a valid signature over manifest.json by the pinned key (over its SHA-512
digest in manifest format v2, over its bytes in v1; and that the key the bundle names is that key), that
every file has the SHA-256 and size the manifest lists, that
SHA256SUMS is the one the manifest hashed and lists the same hashes, that no file is missing or added,
that the ZIP is laid out exactly as the bundle writer lays it out (so that a reader streaming from the first
byte and one reading the central directory see the same entries: see ``_layout_problems``), and that
every custody proof under custody/ proves the file it names, in an audit log checkpoint signed by the
pinned key. Exit status: 0 when everything holds, 1 when anything does not, 2 for a usage error.

After a signing key rotation, a bundle signed by a newer key carries the key chain in its manifest
(``key_chain``): each statement is signed by the key it retired, vouching for the next. Starting from the
pinned key, every statement is checked before its key is trusted, so the bundle can never bring its own key:
the chain must start at the key you pinned. A forged or forking chain fails the bundle.

This one file needs only Python 3 and the `cryptography` package; it is also what
`testimony exports verify` runs. The custody proof checks are the same as those of
`python -m app.audit.verify custody` (copied here from app/audit: note.py, merkle.py, entries.py,
custody_proof.py), so that recipients need no other file.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MANIFEST_FORMAT = "testimony-vault/bundle-manifest/v2"
MANIFEST_CONTEXT = b"testimony-vault/manifest-sha512/v2"
"""v2: manifest.sig signs the SHA-512 digest of manifest.json (written and hashed in pieces by the builder)."""
MANIFEST_FORMAT_V1 = "testimony-vault/bundle-manifest/v1"
MANIFEST_CONTEXT_V1 = b"testimony-vault/manifest/v1"
"""v1 (bundles built before v2): manifest.sig signs manifest.json's bytes themselves."""
SUMS, MANIFEST, SIGNATURE, README = "SHA256SUMS", "manifest.json", "manifest.sig", "README.txt"
CUSTODY_DIR = "custody/"
MAX_MANIFEST = 256 << 20
MAX_SMALL = 64 << 20  # SHA256SUMS, manifest.sig and a custody proof are read whole; nothing honest is this big
_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_SUMS_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")


# --- Ed25519 with context strings (app/crypto/signing.py) ---------------------------------------------


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def key_id(public_key: bytes) -> str:
    return fingerprint(public_key)[:16]


def verify_raw(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_framed(public_key: bytes, signature: bytes, context: bytes, message: bytes) -> bool:
    return verify_raw(public_key, signature, len(context).to_bytes(2, "big") + context + message)


# --- Key transitions (app/crypto/signing.py) ------------------------------------------------------------

TRANSITION_CONTEXT = b"testimony-vault/key-transition/v1"
TRANSITION_FORMAT = "testimony-vault/key-transition/v1"
TRANSITION_FIELDS = frozenset({"from_key_id", "from_public_key", "to_key_id", "to_public_key", "at", "signature"})
MAX_TRANSITIONS = 1000


class ChainError(ValueError):
    """A key transition is malformed or forged, or the chain forks: the later keys cannot be trusted."""


def transition_message(old_public: bytes, new_public: bytes, at: str) -> bytes:
    b64 = base64.b64encode
    return (
        f"{TRANSITION_FORMAT}\nfrom {b64(old_public).decode()}\nto {b64(new_public).decode()}\n"
        f"to-key-id {key_id(new_public)}\nat {at}\n"
    ).encode("ascii")


def _key_field(statement: dict[str, object], name: str) -> bytes:
    value = statement.get(name)
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32 and name.endswith("public_key"):
        raise ChainError(f"a key transition's {name} is not an Ed25519 public key")
    if name == "signature" and len(raw) != 64:
        raise ChainError("a key transition's signature is not an Ed25519 signature")
    return raw


def check_transition(statement: object) -> tuple[bytes, bytes]:
    if not isinstance(statement, dict) or not TRANSITION_FIELDS <= set(statement):
        raise ChainError(
            "a key transition is not a {from_key_id, from_public_key, to_key_id, to_public_key, at, signature} object"
        )
    old, new = _key_field(statement, "from_public_key"), _key_field(statement, "to_public_key")
    signature = _key_field(statement, "signature")
    at = statement["at"]
    if not isinstance(at, str) or not at.isascii() or "\n" in at:
        raise ChainError("a key transition's time is not an ASCII timestamp")
    if statement["from_key_id"] != key_id(old) or statement["to_key_id"] != key_id(new):
        raise ChainError("a key transition's key ids are not those of its keys")
    if old == new:
        raise ChainError("a key transition names the same key twice")
    if not verify_framed(old, signature, TRANSITION_CONTEXT, transition_message(old, new, at)):
        raise ChainError(
            f"the transition from key {key_id(old)} to key {key_id(new)} is not signed by key {key_id(old)}: "
            "it is forged or was changed"
        )
    return old, new


def transition_sources(statements: object) -> dict[bytes, list[object]]:
    if not isinstance(statements, list) or len(statements) > MAX_TRANSITIONS:
        raise ChainError("the key transitions are not a list (of at most 1000)")
    by_old: dict[bytes, list[object]] = {}
    for statement in statements:
        old = statement.get("from_public_key") if isinstance(statement, dict) else None
        try:
            raw = base64.b64decode(old, validate=True) if isinstance(old, str) else None
        except ValueError:
            raw = None
        if raw is None:
            raise ChainError("a key transition does not name the key it comes from")
        by_old.setdefault(raw, []).append(statement)
    return by_old


def follow_chain(pinned: bytes, statements: object) -> list[bytes]:
    """The keys trusted from a pinned key, oldest first: the pinned key, then each key a trusted key vouched for."""
    by_old = transition_sources(statements)
    chain = [pinned]
    while True:
        successors = {check_transition(s)[1] for s in by_old.get(chain[-1], [])}
        if not successors:
            return chain
        if len(successors) > 1:
            raise ChainError(f"key {key_id(chain[-1])} vouches for {len(successors)} different keys: the chain forks")
        (new,) = successors
        if new in chain:
            raise ChainError("the key transitions go round in a circle")
        chain.append(new)


# --- C2SP signed notes and checkpoints (app/audit/note.py) --------------------------------------------

ALG_ED25519 = 0x01
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100
ROOT_HASH_SIZE = 32
_SIG_PREFIX = "\u2014 "
_KEY_HASH_HEX = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_MAX_TREE_SIZE = (1 << 64) - 1


class NoteError(Exception):
    """A note or verifier key is malformed, unsigned by the expected key, or its signature is bad."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


class NoteSignature(NamedTuple):
    key_name: str
    key_hash: bytes
    signature: bytes


def _valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _b64decode_canonical(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("malformed base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError("malformed base64")
    return raw


def key_hash(key_name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(key_name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def parse_vkey(text: str) -> tuple[str, bytes]:
    parts = text.split("+")
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
    decoded = _decode(text)
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


def verify_note(text: str | bytes, key_name: str, public_key: bytes) -> str:
    body, signatures = split_note(text)
    expected = key_hash(key_name, public_key)
    ours = [s for s in signatures if s.key_name == key_name and s.key_hash == expected]
    if not ours:
        raise NoteError(f"note is not signed by key {key_name}+{expected.hex()}")
    message = body.encode("utf-8")
    if not all(verify_raw(public_key, s.signature, message) for s in ours):
        raise NoteError(f"invalid signature for key {key_name}+{expected.hex()}")
    return body


def parse_body(body: str) -> Checkpoint:
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


def parse_note(text: str | bytes) -> tuple[Checkpoint, list[NoteSignature]]:
    body, signatures = split_note(text)
    return parse_body(body), signatures


def verify_checkpoint(text: str | bytes, key_name: str, public_key: bytes) -> Checkpoint:
    return parse_body(verify_note(text, key_name, public_key))


# --- RFC 9162 inclusion proofs (app/audit/merkle.py) --------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    if not 0 <= index < tree_size or not all(len(h) == 32 for h in (*proof, leaf, root_hash)):
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


# --- Log entries (app/audit/entries.py) ---------------------------------------------------------------

CUSTODY_ENTRY_VERSION = 4
CUSTODY_ACTION = "custody.commit"
CUSTODY_ENTRY_KEYS = frozenset({"v", "seq", "at", "action", "commitment"})
_MAX_SAFE_INTEGER = 2**53 - 1


def _plain_values(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain_values(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain_values(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    return isinstance(value, int) and abs(value) <= _MAX_SAFE_INTEGER


def _utf16_order(item: tuple[str, Any]) -> bytes:
    return item[0].encode("utf-16-be", "surrogatepass")


def _canonical_json(value: Any) -> str:
    """RFC 8785's form of plain values: keys ordered by their UTF-16 code units (section 3.2.3), which is not
    json's code point order for keys holding characters from U+E000 up."""
    if isinstance(value, dict):
        members = sorted(value.items(), key=_utf16_order)
        return "{" + ",".join(f"{_canonical_json(key)}:{_canonical_json(item)}" for key, item in members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical_json(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def check_entry(line: bytes) -> tuple[int | None, str | None]:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "not valid UTF-8 JSON"
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        return None, "has no integer seq"
    if not _plain_values(obj):
        return seq, "holds a value other than strings, safe integers, booleans and nulls"
    try:
        canonical = _canonical_json(obj).encode("utf-8")
    except UnicodeEncodeError:
        return seq, "holds a lone surrogate, which has no canonical form"
    if canonical != line:
        return seq, "is not canonical JSON (its bytes differ from the RFC 8785 form of its content)"
    return seq, None


def custody_problems(obj: dict[str, Any]) -> list[str]:
    problems = sorted(obj.keys() - CUSTODY_ENTRY_KEYS)
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


# --- Custody proofs (app/audit/custody_proof.py) ------------------------------------------------------

PROOF_FORMAT = "testimony-vault/custody-proof/v1"
CONTEXTS: dict[str, bytes] = {
    "statement_version": b"testimony-vault/custody/v1/statement-version",
    "attachment_original": b"testimony-vault/custody/v1/attachment-original",
}
KIND_NAMES = {"statement_version": "statement version", "attachment_original": "attachment original"}
_PROOF_FIELDS: dict[str, type] = {
    "format": str,
    "kind": str,
    "digest": str,
    "salt": str,
    "entry": str,
    "leaf_index": int,
    "tree_size": int,
    "inclusion_proof": list,
    "checkpoint": str,
}


def commitment(kind: str, salt: bytes, digest: bytes) -> bytes:
    if kind not in CONTEXTS:
        raise ValueError(f"no custody context for kind {kind!r}")
    if len(salt) != 32 or len(digest) != 32:
        raise ValueError("a custody salt and digest are 32 bytes each")
    return hashlib.sha256(CONTEXTS[kind] + salt + digest).digest()


@dataclass
class CustodyReport:
    kind: str | None = None
    entry: dict[str, Any] = field(default_factory=dict)
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Malformed(ValueError):
    """The proof file is not a custody proof as this verifier knows them."""


def _hex32(document: dict[str, Any], name: str) -> bytes:
    try:
        value = bytes.fromhex(document[name])
    except ValueError:
        value = b""
    if len(value) != 32 or value.hex() != document[name]:
        raise _Malformed(f"{name} is not 64 lowercase hex digits")
    return value


def _b64(text: object, name: str) -> bytes:
    try:
        if not isinstance(text, str):
            raise ValueError(name)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Malformed(f"{name} is not base64") from exc


def _parse_proof(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # nesting no proof has
        raise _Malformed("it is not UTF-8 JSON") from exc
    if not isinstance(doc, dict):
        raise _Malformed("it is not a JSON object")
    if doc.get("format") != PROOF_FORMAT:
        raise _Malformed(f"its format is not {PROOF_FORMAT}")
    for name, kind in _PROOF_FIELDS.items():
        value = doc.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _Malformed(f"{name} is missing or of the wrong type")
    if doc["kind"] not in CONTEXTS:
        raise _Malformed(f"kind is none of {', '.join(sorted(CONTEXTS))}")
    return doc


def verify_proof(raw: bytes, item_digest: bytes, public_key: bytes, key_name: str | None = None) -> CustodyReport:
    """Check a proof file's bytes against the SHA-256 of the item in hand and a pinned key."""
    report = CustodyReport()
    try:
        doc = _parse_proof(raw)
        digest, salt = _hex32(doc, "digest"), _hex32(doc, "salt")
        entry = _b64(doc["entry"], "entry")
        path = [_b64(p, "inclusion_proof") for p in doc["inclusion_proof"]]
    except _Malformed as exc:
        report.problems.append(f"the proof file is not a custody proof: {exc}")
        return report
    report.kind = doc["kind"]
    if item_digest != digest:
        report.problems.append(
            f"the item's SHA-256 is {item_digest.hex()}, but the proof is for {digest.hex()}: "
            "this is not the item that was committed"
        )
    seq = _check_custody_entry(entry, commitment(doc["kind"], salt, digest), report)
    if seq is not None and doc["leaf_index"] != seq:
        report.problems.append(f"the proof's leaf index {doc['leaf_index']} is not the entry's seq {seq}")
    report.checkpoint = _open_checkpoint(doc["checkpoint"], public_key, key_name, report)
    if report.checkpoint is not None:
        _check_inclusion(entry, doc["leaf_index"], doc["tree_size"], path, report.checkpoint, report)
    return report


def _check_custody_entry(entry: bytes, expected: bytes, report: CustodyReport) -> int | None:
    seq, problem = check_entry(entry)
    if problem is not None:
        report.problems.append(f"the log entry {problem}")
        return seq
    obj: dict[str, Any] = json.loads(entry)
    report.entry = obj
    wrong = custody_problems(obj)
    if wrong:
        report.problems.append(
            f"the log entry is not a custody commitment ({CUSTODY_ACTION}, version 4) as the log writes them: "
            f"{', '.join(wrong)}"
        )
        return seq
    if obj["commitment"] != expected.hex():
        report.problems.append(
            f"SHA-256(context || salt || digest) is {expected.hex()}, but the log entry commits to "
            f"{obj['commitment']}: the salt, the digest or the kind was changed, or the entry is another item's"
        )
    return seq


def _open_checkpoint(text: str, public_key: bytes, key_name: str | None, report: CustodyReport) -> Checkpoint | None:
    try:
        name = key_name if key_name is not None else parse_note(text)[0].origin
        return verify_checkpoint(text, name, public_key)
    except NoteError as exc:
        report.problems.append(f"checkpoint rejected: {exc} (with the pinned key {fingerprint(public_key)})")
        return None


def _check_inclusion(
    entry: bytes, index: int, tree_size: int, path: list[bytes], cp: Checkpoint, report: CustodyReport
) -> None:
    if tree_size != cp.size:
        report.problems.append(f"the proof's tree size {tree_size} is not the checkpoint's size {cp.size}")
    elif not verify_inclusion(leaf_hash(entry), index, cp.size, path, cp.root_hash):
        report.problems.append(
            f"the inclusion proof does not lead from the entry at index {index} to the signed root of "
            f"{cp.size} entries: the entry or the path was changed, or the entry is not in that tree"
        )


# --- Reading a bundle: its ZIP file, or the folder it was extracted into ------------------------------


def plain_name(name: str) -> bool:
    """The names a bundle writer uses: relative, '/'-separated parts of letters, digits, '.', '_', '-'."""
    parts = name.split("/")
    return len(name) <= 255 and len(parts) <= 4 and all(_NAME_PART.fullmatch(p) and not p.endswith(".") for p in parts)


class _Unreadable(Exception):
    """A file of the bundle could not be read whole."""


class _Source:
    label: str
    names: list[str]
    problems: list[str]

    def chunks(self, name: str) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds open."""


class _ZipSource(_Source):
    def __init__(self, path: Path) -> None:
        self.label = str(path)
        self._zip = zipfile.ZipFile(path)
        self.names, self.problems = [], []
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            name = info.filename
            if info.is_dir():
                self.problems.append(f"the ZIP holds a folder entry {name!r}, which no bundle has")
            elif name in self._members:
                self.problems.append(f"the ZIP holds {name!r} more than once")
            elif not plain_name(name):
                self.problems.append(f"the ZIP holds a file whose name no bundle uses: {name!r}")
            elif info.flag_bits & 0x1:
                self.problems.append(f"{name} is encrypted inside the ZIP, which no bundle is")
            else:
                self._members[name] = info
                self.names.append(name)
        self.problems.extend(_layout_problems(path, self._zip))

    def chunks(self, name: str) -> Iterator[bytes]:
        try:
            with self._zip.open(self._members[name]) as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise _Unreadable(f"{name} could not be read whole from the ZIP: {exc}") from exc

    def close(self) -> None:
        self._zip.close()


LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
"""signature, version, flags, method, time, date, CRC-32, compressed size, size, name length, extra length"""
DATA_DESCRIPTOR = struct.Struct("<4sIQQ")
"""signature, CRC-32, compressed size, size (ZIP64: 8-byte sizes)"""
END_RECORD = struct.Struct("<4sHHHHIIH")
WRITER_FLAGS = 0x0808
"""What the bundle writer (stream-zip, ZIP64) sets on every entry: a data descriptor follows the data (0x08),
and the name is UTF-8 (0x800). Nothing else: no encryption, no other kind of entry."""
DEFLATED = 8
ZIP64_LOCAL_EXTRA = struct.pack("<HHQQ", 0x0001, 16, 0, 0)
"""The only extra field of a local header the writer makes: ZIP64, sizes left to the data descriptor."""
_INFLATE_STEP = 1 << 20


def _layout_problems(path: Path, archive: zipfile.ZipFile) -> list[str]:
    """A bundle's ZIP is exactly what the bundle writer makes: its entries one after the other from the first
    byte, each a local header that agrees with the central directory, a deflate stream that ends exactly where
    the central directory says, and a data descriptor that agrees too; then the central directory and its end
    records, and nothing after. A reader that streams from the start (as many do) and one that reads the
    central directory then see the same entries. Anything else (a second ZIP put in front, an entry hidden in
    the bytes after another's deflate stream, bytes between entries) is a problem, not something to skip."""
    if archive.comment:
        return ["the ZIP carries a comment, which no bundle does"]
    entries = sorted(archive.infolist(), key=lambda i: i.header_offset)
    at = 0
    with path.open("rb") as fh:
        for info in entries:
            if info.header_offset > at:
                return [f"the ZIP has bytes no entry accounts for before {info.filename!r}"]
            if info.header_offset < at:
                return [f"the ZIP's entry {info.filename!r} overlaps the entry before it"]
            problem = _entry_problem(fh, info)
            if problem is not None:
                return [f"the ZIP's entry {info.filename!r} {problem}"]
            at = fh.tell()
        if at != archive.start_dir:
            return ["the ZIP has bytes no entry accounts for before its central directory"]
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(size - END_RECORD.size, 0))
        end = fh.read(END_RECORD.size)
    if len(end) != END_RECORD.size or END_RECORD.unpack(end)[0] != b"PK\x05\x06":
        return ["the ZIP has bytes after its end of central directory record"]
    return []


def _entry_problem(fh: BinaryIO, info: zipfile.ZipInfo) -> str | None:
    """What in one entry (read from its local header on) is not as the bundle writer makes it, or None."""
    fh.seek(info.header_offset)
    raw = fh.read(LOCAL_HEADER.size)
    if len(raw) < LOCAL_HEADER.size or raw[:4] != b"PK\x03\x04":
        return "has no local header where the central directory says"
    _sig, _version, flags, method, time, date, crc, compressed, size, name_length, extra_length = LOCAL_HEADER.unpack(
        raw
    )
    if flags != WRITER_FLAGS or info.flag_bits != WRITER_FLAGS:
        return (
            f"has flags {flags:#06x} in its local header and {info.flag_bits:#06x} in the central directory, "
            f"where every bundle entry has {WRITER_FLAGS:#06x}"
        )
    if method != DEFLATED or info.compress_type != DEFLATED:
        return "is not deflated in its local header and the central directory, as every bundle entry is"
    if _dos_time(info.date_time) != (time, date):
        return "has another time in its local header than in the central directory"
    if (crc, compressed, size) != (0, 0xFFFFFFFF, 0xFFFFFFFF):
        return "states a CRC or sizes in its local header, which a bundle leaves to the data descriptor"
    if fh.read(name_length) != info.orig_filename.encode("utf-8"):
        return "has another name in its local header than in the central directory"
    if fh.read(extra_length) != ZIP64_LOCAL_EXTRA:
        return "has a local extra field other than the ZIP64 one every bundle entry has"
    problem = _inflate_problem(fh, info)
    if problem is not None:
        return problem
    descriptor = fh.read(DATA_DESCRIPTOR.size)
    if len(descriptor) < DATA_DESCRIPTOR.size or DATA_DESCRIPTOR.unpack(descriptor) != (
        b"PK\x07\x08",
        info.CRC,
        info.compress_size,
        info.file_size,
    ):
        return "has no data descriptor after its data that agrees with the central directory"
    return None


def _inflate_problem(fh: BinaryIO, info: zipfile.ZipInfo) -> str | None:
    """Inflate the entry's data: its deflate stream must end exactly after the compressed size the central
    directory gives (bytes left over could hold an entry only a streaming reader sees), and inflate to the
    size and CRC-32 the central directory gives. Memory holds one step of output, whatever the data claims."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left, crc, size = info.compress_size, 0, 0
    try:
        while left and not inflater.eof:
            data = fh.read(min(left, _INFLATE_STEP))
            if not data:
                return "is cut short: the file ends inside its data"
            left -= len(data)
            while True:
                out = inflater.decompress(data, _INFLATE_STEP)
                crc, size = zlib.crc32(out, crc), size + len(out)
                if size > info.file_size:
                    return "inflates to more than the size the central directory gives"
                data = inflater.unconsumed_tail
                if inflater.eof or (not data and len(out) < _INFLATE_STEP):
                    break
    except zlib.error:
        return "holds data that is not a deflate stream"
    if not inflater.eof:
        return "has a deflate stream that does not end where the central directory says its data ends"
    if left or inflater.unused_data:
        return (
            f"has a deflate stream that ends {left + len(inflater.unused_data)} bytes before the end the central "
            "directory gives: those bytes could hold an entry that only some readers see"
        )
    if size != info.file_size or crc != info.CRC:
        return "inflates to another size or CRC-32 than the central directory gives"
    return None


def _dos_time(when: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = when
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class _FolderSource(_Source):
    def __init__(self, path: Path) -> None:
        self.label = str(path)
        self._root = path
        self.names, self.problems = [], []
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            for entry in sorted(files) + [d for d in dirs if (Path(folder) / d).is_symlink()]:
                full = Path(folder) / entry
                name = full.relative_to(path).as_posix()
                if full.is_symlink() or not full.is_file():
                    self.problems.append(f"{name} is not a plain file (a link or a device), which no bundle holds")
                elif not plain_name(name):
                    self.problems.append(f"the folder holds a file whose name no bundle uses: {name!r}")
                else:
                    self.names.append(name)

    def chunks(self, name: str) -> Iterator[bytes]:
        try:
            with (self._root / name).open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
        except OSError as exc:
            raise _Unreadable(f"{name} could not be read: {exc.strerror}") from exc


def _open_source(path: Path) -> _Source:
    if path.is_dir():
        return _FolderSource(path)
    return _ZipSource(path)


def _digest(source: _Source, name: str, limit: int) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, reading at most ``limit + 1`` bytes: more already means too long."""
    digest = hashlib.sha256()
    size = 0
    for chunk in source.chunks(name):
        digest.update(chunk)
        size += len(chunk)
        if size > limit:
            break
    return digest.hexdigest(), size


def _read(source: _Source, name: str, limit: int) -> bytes:
    parts, size = [], 0
    for chunk in source.chunks(name):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _Unreadable(f"{name} is larger than any honest one ({limit} bytes)")
    return b"".join(parts)


# --- The checks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PinnedKey:
    """What the recipient pinned: a whole public key, or only its fingerprint (the bundle then names the key)."""

    public_key: bytes | None = None
    fingerprint: str | None = None
    key_name: str | None = None
    """A C2SP verifier key's name, used for custody checkpoints (default: each checkpoint's origin)."""


@dataclass
class BundleReport:
    files: int = 0
    size: int = 0
    public_key: bytes | None = None
    """The key that signed the bundle: the pinned key, or one it vouches for through the key chain."""
    pinned_key: bytes | None = None
    chain: list[bytes] = field(default_factory=list)
    """The keys trusted, oldest first: the pinned key up to the one that signed the bundle."""
    signature_ok: bool = False
    custody_ok: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.signature_ok


def _facts(value: Any) -> tuple[str, int] | None:
    """A manifest's {"sha256": hex, "size": int}, or None when it is not one."""
    if not isinstance(value, dict) or set(value) != {"sha256", "size"}:
        return None
    sha, size = value["sha256"], value["size"]
    if not isinstance(sha, str) or not _HEX_HASH.fullmatch(sha) or type(size) is not int or size < 0:
        return None
    return sha, size


def _manifest_problems(doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return ["manifest.json is not a JSON object"]
    if doc.get("format") not in (MANIFEST_FORMAT, MANIFEST_FORMAT_V1):
        return [f"manifest.json's format is neither {MANIFEST_FORMAT} nor {MANIFEST_FORMAT_V1}"]
    problems = []
    files = doc.get("files")
    if not isinstance(files, dict) or not all(plain_name(n) and _facts(v) for n, v in files.items()):
        problems.append("manifest.json's files are not a map of plain names to their sha256 and size")
    elif set(files) & {SUMS, MANIFEST, SIGNATURE}:
        problems.append("manifest.json lists SHA256SUMS, itself or its signature among the files")
    if _facts(doc.get("sha256sums")) is None:
        problems.append("manifest.json does not give the sha256 and size of SHA256SUMS")
    if "key_chain" in doc and not isinstance(doc["key_chain"], list):
        problems.append("manifest.json's key_chain is not a list of key transitions")
    custody = doc.get("custody")
    if not isinstance(custody, list) or not all(
        isinstance(c, dict) and set(c) == {"proof", "item"} and all(isinstance(v, str) for v in c.values())
        for c in custody
    ):
        problems.append("manifest.json's custody is not a list of {proof, item}")
    return problems


def _shipped_key(doc: dict[str, Any], report: BundleReport) -> bytes | None:
    named = doc.get("signing_key")
    try:
        if not isinstance(named, dict):
            raise TypeError("signing_key")
        key = base64.b64decode(named["public_key"], validate=True)
    except (TypeError, KeyError, binascii.Error, ValueError):
        report.problems.append("manifest.json does not name its signing key")
        return None
    if len(key) != 32:
        report.problems.append("manifest.json's signing key is not an Ed25519 public key")
        return None
    if named.get("fingerprint") != fingerprint(key) or named.get("key_id") != key_id(key):
        report.problems.append("manifest.json's signing key id or fingerprint is not that of its public key")
    return key


def _pinned_start(pinned: PinnedKey, shipped: bytes | None, statements: Any) -> bytes | None:
    """The pinned public key; with only a fingerprint, the bundle's key or a chain key that has it."""
    if pinned.public_key is not None:
        return pinned.public_key
    candidates = [shipped] if shipped is not None else []
    if isinstance(statements, list):
        for statement in statements:
            try:
                candidates.append(_key_field(statement, "from_public_key") if isinstance(statement, dict) else b"")
            except ChainError:
                continue
    return next((k for k in candidates if len(k) == 32 and fingerprint(k) == pinned.fingerprint), None)


def _choose_key(pinned: PinnedKey, shipped: bytes | None, statements: Any, report: BundleReport) -> bytes | None:
    """The key to check against: the pinned one, or a later key it vouches for through the bundle's key chain.

    The chain is never a way in by itself: it is followed from the pinned key, and each statement must be signed
    by a key already trusted.
    """
    start = _pinned_start(pinned, shipped, statements)
    if start is None:
        shown = fingerprint(shipped) if shipped is not None else "none"
        chained = ", nor does its key chain start from the pinned key" if statements else ""
        report.problems.append(
            f"the bundle's signing key (fingerprint {shown}) is not the pinned key {pinned.fingerprint}{chained}"
        )
        return None
    report.pinned_key = start
    try:
        keys = follow_chain(start, statements if statements is not None else [])
    except ChainError as exc:
        report.problems.append(f"manifest.json's key_chain is refused: {exc}")
        keys = [start]
    if shipped is None or shipped not in keys:
        if shipped is not None:
            chained = " nor a key it vouches for through the bundle's key chain" if statements else ""
            report.problems.append(
                f"the bundle names the signing key {fingerprint(shipped)}, not the pinned key "
                f"{fingerprint(start)}{chained}"
            )
        report.chain = [start]
        return start
    report.chain = keys[: keys.index(shipped) + 1]
    return shipped


def _signed(doc: Any, manifest: bytes) -> tuple[bytes, bytes]:
    """The context and message manifest.sig must sign: v1's bytes, else (v2, or anything else) the SHA-512
    digest. The format is inside what is signed, so naming the other one fails the signature."""
    if isinstance(doc, dict) and doc.get("format") == MANIFEST_FORMAT_V1:
        return MANIFEST_CONTEXT_V1, manifest
    return MANIFEST_CONTEXT, hashlib.sha512(manifest).digest()


def _check_signature(source: _Source, doc: Any, manifest: bytes, key: bytes | None, report: BundleReport) -> None:
    if SIGNATURE not in source.names:
        report.problems.append("manifest.sig is missing")
        return
    text = _read(source, SIGNATURE, MAX_SMALL)
    try:
        signature = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        report.problems.append("manifest.sig is not a base64 signature")
        return
    if key is None:
        return
    if not verify_framed(key, signature, *_signed(doc, manifest)):
        report.problems.append(
            "manifest.sig is not a valid signature over manifest.json by the pinned key: the manifest was "
            "changed, or another key signed it"
        )
        return
    report.signature_ok = True


def _check_files(source: _Source, doc: dict[str, Any], report: BundleReport) -> dict[str, str]:
    """Hash every listed file; flag missing, added, changed ones. Returns the SHA-256 of each file that matched."""
    listed: dict[str, tuple[str, int]] = {n: _facts(v) for n, v in doc["files"].items()}  # type: ignore[misc]
    listed[SUMS] = _facts(doc["sha256sums"])  # type: ignore[assignment]
    present = set(source.names)
    for name in sorted(set(listed) - present):
        report.problems.append(f"{name} is listed in the manifest but missing")
    for name in sorted(present - set(listed) - {MANIFEST, SIGNATURE}):
        report.problems.append(f"{name} is in the bundle but not in the manifest")
    good: dict[str, str] = {}
    for name in [n for n in source.names if n in listed]:
        sha, size = listed[name]
        try:
            got_sha, got_size = _digest(source, name, size)
        except _Unreadable as exc:
            report.problems.append(str(exc))
            continue
        report.files += 1
        report.size += got_size
        if got_size != size:
            report.problems.append(f"{name} is {'longer' if got_size > size else 'shorter'} than the manifest says")
        elif got_sha != sha:
            report.problems.append(f"{name}: its SHA-256 is {got_sha}, but the manifest lists {sha}")
        else:
            good[name] = got_sha
    return good


def _check_sums(source: _Source, doc: dict[str, Any], good: dict[str, str], report: BundleReport) -> None:
    if SUMS not in good:
        return  # already reported: missing, or not the file the manifest hashed
    lines = _read(source, SUMS, MAX_SMALL).decode("ascii", errors="replace").split("\n")
    if lines[-1] != "":
        report.problems.append("SHA256SUMS does not end with a newline")
    listed: dict[str, str] = {}
    for number, line in enumerate(lines[:-1], start=1):
        match = _SUMS_LINE.fullmatch(line)
        if match is None or match[2] in listed:
            report.problems.append(f"SHA256SUMS line {number} is not '<sha256>  <name>' for a new name")
            continue
        listed[match[2]] = match[1]
    expected = {n: v["sha256"] for n, v in doc["files"].items()}
    if listed != expected:
        report.problems.append("SHA256SUMS does not list exactly the files and hashes of the manifest")


def _check_custody(
    source: _Source,
    doc: dict[str, Any],
    good: dict[str, str],
    keys: list[bytes],
    pinned: PinnedKey,
    report: BundleReport,
) -> None:
    """Each proof's checkpoint may be signed by any key of the chain up to the bundle's own (a checkpoint signed
    before a rotation is signed by the key then in use)."""
    linked = {c["proof"]: c["item"] for c in doc["custody"]}
    for name in source.names:
        if name.startswith(CUSTODY_DIR) and name not in linked:
            report.problems.append(f"{name} is a custody proof that the manifest links to no item")
    for proof, item in sorted(linked.items()):
        if not proof.startswith(CUSTODY_DIR):
            report.problems.append(f"the manifest names {proof} as a custody proof, outside custody/")
            continue
        if proof not in good or item not in good:
            report.problems.append(f"{proof}: the proof or its item {item} did not match the manifest; not checked")
            continue
        raw = _read(source, proof, MAX_SMALL)
        for key in reversed(keys):
            result = verify_proof(raw, bytes.fromhex(good[item]), key, pinned.key_name)
            if result.ok:
                late = retired_signer_problem(result.entry, key, doc.get("key_chain"))
                result.problems.extend([late] if late else [])
                break
        if result.ok and result.checkpoint is not None:
            report.custody_ok += 1
        report.problems.extend(f"{proof} (for {item}): {p}" for p in result.problems)


def _utc_second(text: object) -> datetime | None:
    """An ISO 8601 time with its offset, in UTC, to the second (a key transition's time is written to the second)."""
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return at.astimezone(UTC).replace(microsecond=0) if at.tzinfo is not None else None


def retired_signer_problem(entry: dict[str, Any], signer: bytes, statements: Any) -> str | None:
    """Why a custody proof's checkpoint, signed by ``signer`` (a key of the chain), cannot have been signed while that
    key was in use; None when it can.

    A checkpoint carries no time, but it covers the log entry, so it was signed at or after the entry's time. The
    key chain says when a key was retired: the time of the transition it signed to the next key. A checkpoint by a
    key retired before the entry's time was signed after its retirement (as a leaked retired key could), and fails.
    The chain's statements were checked before any of its keys was trusted (``follow_chain``); a key that signs no
    transition is the bundle's own, still in use.
    """
    if not entry:
        return None  # the entry itself was refused, and said why
    mine = base64.b64encode(signer).decode("ascii")
    times = [s.get("at") for s in statements or [] if isinstance(s, dict) and s.get("from_public_key") == mine]
    if not times:
        return None
    retired = [t for t in (_utc_second(text) for text in times) if t is not None]
    entry_at = _utc_second(entry.get("at"))
    if len(retired) != len(times) or entry_at is None:
        return f"the time of the log entry or of key {key_id(signer)}'s retirement in the key chain cannot be read"
    if entry_at > min(retired):
        return (
            f"its checkpoint is signed by key {key_id(signer)}, which the bundle's key chain retired at "
            f"{min(retired).isoformat()}, before the log entry it covers ({entry['at']}): a retired key signed it"
        )
    return None


def verify_bundle(path: Path, pinned: PinnedKey) -> BundleReport:
    """Every check of a bundle (ZIP file or extracted folder) against a pinned key; problems are listed."""
    report = BundleReport()
    try:
        source = _open_source(path)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        report.problems.append(f"{path} is neither a bundle's ZIP file nor its folder: {exc}")
        return report
    try:
        _verify(source, pinned, report)
    except _Unreadable as exc:
        report.problems.append(str(exc))
    finally:
        source.close()
    return report


def _verify(source: _Source, pinned: PinnedKey, report: BundleReport) -> None:
    report.problems.extend(source.problems)
    if MANIFEST not in source.names:
        report.problems.append("manifest.json is missing: nothing vouches for the bundle")
        return
    raw = _read(source, MANIFEST, MAX_MANIFEST)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nesting no manifest has
        report.problems.append("manifest.json is not UTF-8 JSON")
        return
    shipped = _shipped_key(doc, report) if isinstance(doc, dict) else None
    statements = doc.get("key_chain") if isinstance(doc, dict) else None
    key = _choose_key(pinned, shipped, statements, report)
    report.public_key = key
    _check_signature(source, doc, raw, key, report)
    problems = _manifest_problems(doc)
    if problems:
        report.problems.extend(problems)
        return
    report.manifest = doc
    good = _check_files(source, doc, report)
    _check_sums(source, doc, good, report)
    if key is not None:
        _check_custody(source, doc, good, report.chain or [key], pinned, report)


# --- Command line -------------------------------------------------------------------------------------


def read_key(text: str) -> PinnedKey:
    """A pinned key from the command line: a fingerprint, a base64 public key or a C2SP verifier key."""
    text = text.strip()
    if _FINGERPRINT.fullmatch(text.lower()):
        return PinnedKey(fingerprint=text.lower())
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        return PinnedKey(public_key=bytes(raw))
    try:
        name, public_key = parse_vkey(text)
    except NoteError as exc:
        raise ValueError(
            f"--key is neither a 64-hex-digit fingerprint, a base64 Ed25519 public key nor a verifier key: {exc}"
        ) from exc
    return PinnedKey(public_key=public_key, key_name=name)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Verify a Testimony Vault export bundle against a signing key you pinned yourself.",
    )
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the bundle's ZIP file, or its extracted folder")
    parser.add_argument(
        "--key",
        required=True,
        help="the published signing key: 64-hex-digit fingerprint, base64 Ed25519 key, or C2SP verifier key",
    )
    return parser


def print_report(report: BundleReport, path: Path, out: Any) -> int:
    out.write(f"bundle: {path}\n")
    doc = report.manifest
    if doc:
        out.write(f"export: {doc.get('export_id')}\nbuilt at: {doc.get('built_at')}\n")
    if report.pinned_key is not None:
        out.write(f"pinned key fingerprint: {fingerprint(report.pinned_key)}\n")
    for earlier, later in zip(report.chain, report.chain[1:], strict=False):
        out.write(f"key transition ok: key {key_id(earlier)} vouches for key {key_id(later)}\n")
    if report.signature_ok:
        out.write(f"signature ok: manifest.json signed by key {key_id(report.public_key or b'')}\n")
    out.write(f"files checked: {report.files} ({report.size} bytes)\n")
    out.write(f"custody proofs verified: {report.custody_ok}\n")
    for problem in report.problems:
        out.write(f"PROBLEM: {problem}\n")
    if report.ok:
        out.write("OK: the signature, every file, SHA256SUMS and every custody proof hold\n")
        return EXIT_OK
    out.write(f"FAILED: {max(len(report.problems), 1)} problem(s)\n")
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None, prog: str = "verify_bundle.py") -> int:
    parser = _parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        pinned = read_key(args.key)
        if not args.bundle.exists():
            raise ValueError(f"{args.bundle} does not exist")
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    return print_report(verify_bundle(args.bundle, pinned), args.bundle, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
