"""Custody commitments and the proof file that lets a court check one without trusting the server.

A commitment is SHA-256(context || salt || digest): the context names the kind of item, the salt is 32
random bytes kept sealed beside the record, the digest is the SHA-256 of the item (the canonical bytes of a
statement version, or an attachment's original file). It enters the log as an entry of its own; a signed
checkpoint that includes that entry fixes that the item existed when the checkpoint was signed.

A proof file holds what an outsider needs to check that: the kind, the digest, the salt, the stored entry,
its RFC 9162 inclusion proof and the signed checkpoint. Standard library only (plus the signing recipe the
note format uses), so the offline verifier can ship it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.audit.entries import CUSTODY_ACTION, check_entry, custody_problems
from app.audit.merkle import leaf_hash, verify_inclusion
from app.audit.note import Checkpoint, NoteError, parse_note, verify_checkpoint
from app.crypto.signing import fingerprint

FORMAT = "testimony-vault/custody-proof/v1"
SALT_SIZE = 32
DIGEST_SIZE = 32

# One fixed string per kind of item, so a commitment to a statement can never pass for one to a file.
CONTEXTS: dict[str, bytes] = {
    "statement_version": b"testimony-vault/custody/v1/statement-version",
    "attachment_original": b"testimony-vault/custody/v1/attachment-original",
}
KIND_NAMES = {"statement_version": "statement version", "attachment_original": "attachment original"}

_FIELDS: dict[str, type] = {
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
    """SHA-256(context || salt || digest) for an item of this kind."""
    if kind not in CONTEXTS:
        raise ValueError(f"no custody context for kind {kind!r}")
    if len(salt) != SALT_SIZE or len(digest) != DIGEST_SIZE:
        raise ValueError("a custody salt and digest are 32 bytes each")
    return hashlib.sha256(CONTEXTS[kind] + salt + digest).digest()


def document(
    *,
    kind: str,
    digest: bytes,
    salt: bytes,
    entry: bytes,
    seq: int,
    tree_size: int,
    path: Sequence[bytes],
    checkpoint: str,
) -> dict[str, Any]:
    """The proof file's content: everything a verifier needs, and nothing that names a person or a record."""
    return {
        "format": FORMAT,
        "kind": kind,
        "digest": digest.hex(),
        "salt": salt.hex(),
        "entry": base64.b64encode(entry).decode("ascii"),
        "leaf_index": seq,
        "tree_size": tree_size,
        "inclusion_proof": [base64.b64encode(p).decode("ascii") for p in path],
        "checkpoint": checkpoint,
    }


@dataclass
class CustodyReport:
    """The outcome of checking one proof against one item and a pinned key."""

    kind: str | None = None
    entry: dict[str, Any] = field(default_factory=dict)
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Malformed(ValueError):
    """The proof file is not a proof of the kind asked for, as this verifier knows them."""


def _hex32(document: dict[str, Any], name: str) -> bytes:
    try:
        value = bytes.fromhex(document[name])
    except ValueError:
        value = b""
    if len(value) != 32 or value.hex() != document[name]:
        raise Malformed(f"{name} is not 64 lowercase hex digits")
    return value


def b64_field(text: object, name: str) -> bytes:
    try:
        if not isinstance(text, str):
            raise ValueError(name)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Malformed(f"{name} is not base64") from exc


def read_proof(raw: bytes, wanted: str, fields: dict[str, type]) -> dict[str, Any]:
    """A proof file's JSON object, of format ``wanted``, holding each of ``fields`` with its type; or Malformed."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except RecursionError:  # nesting no proof has
        raise Malformed("it is not UTF-8 JSON a verifier accepts (too deeply nested)") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("it is not UTF-8 JSON") from exc
    if not isinstance(doc, dict):
        raise Malformed("it is not a JSON object")
    if doc.get("format") != wanted:
        raise Malformed(f"its format is not {wanted}")
    for name, kind in fields.items():
        value = doc.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise Malformed(f"{name} is missing or of the wrong type")
    return doc


def _parse(raw: bytes) -> dict[str, Any]:
    doc = read_proof(raw, FORMAT, _FIELDS)
    if doc["kind"] not in CONTEXTS:
        raise Malformed(f"kind is none of {', '.join(sorted(CONTEXTS))}")
    return doc


def verify_proof(raw: bytes, item_digest: bytes, public_key: bytes, key_name: str | None = None) -> CustodyReport:
    """Check a proof file's bytes against the SHA-256 of the item in hand and a pinned key.

    Each check that can fail on its own is reported on its own, so a changed item, another salt, a changed
    entry, a wrong path and a foreign key each name themselves. `key_name` defaults to the checkpoint's origin.
    """
    report = CustodyReport()
    try:
        doc = _parse(raw)
        digest, salt = _hex32(doc, "digest"), _hex32(doc, "salt")
        entry = b64_field(doc["entry"], "entry")
        path = [b64_field(p, "inclusion_proof") for p in doc["inclusion_proof"]]
    except Malformed as exc:
        report.problems.append(f"the proof file is not a custody proof: {exc}")
        return report
    report.kind = doc["kind"]
    if item_digest != digest:
        report.problems.append(
            f"the item's SHA-256 is {item_digest.hex()}, but the proof is for {digest.hex()}: "
            "this is not the item that was committed"
        )
    seq = _check_entry(entry, commitment(doc["kind"], salt, digest), report)
    if seq is not None and doc["leaf_index"] != seq:
        report.problems.append(f"the proof's leaf index {doc['leaf_index']} is not the entry's seq {seq}")
    report.checkpoint = _open_checkpoint(doc["checkpoint"], public_key, key_name, report)
    if report.checkpoint is not None:
        _check_inclusion(entry, doc["leaf_index"], doc["tree_size"], path, report.checkpoint, report)
    return report


def _check_entry(entry: bytes, expected: bytes, report: CustodyReport) -> int | None:
    """The entry's seq once it reads as a canonical custody entry; its commitment compared with `expected`."""
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
        # The origin only says which key name to look for; the pinned key decides.
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
