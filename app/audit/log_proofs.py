"""Proof files for the log itself: one event's inclusion in a signed tree, and one signed tree extending another.

An inclusion proof file holds the event's stored bytes, its RFC 9162 path and the signed checkpoint of the tree
it leads to; a consistency proof file holds both signed checkpoints and the path between them. Each is checked
away from the server with a key the auditor pinned (`python -m app.audit.verify inclusion|consistency FILE
--key KEY`), never a key found in the file. Standard library only (plus the signing recipe the note format
uses), so the offline verifier can ship it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.audit.custody_proof import Malformed, b64_field, read_proof
from app.audit.entries import check_entry
from app.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from app.audit.note import Checkpoint, NoteError, parse_note, verify_checkpoint
from app.crypto.signing import fingerprint

INCLUSION_FORMAT = "testimony-vault/inclusion-proof/v1"
CONSISTENCY_FORMAT = "testimony-vault/consistency-proof/v1"

_INCLUSION_FIELDS: dict[str, type] = {
    "format": str,
    "entry": str,
    "leaf_index": int,
    "tree_size": int,
    "inclusion_proof": list,
    "checkpoint": str,
}
_CONSISTENCY_FIELDS: dict[str, type] = {
    "format": str,
    "first_size": int,
    "second_size": int,
    "consistency_proof": list,
    "first_checkpoint": str,
    "second_checkpoint": str,
}


def _b64s(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def inclusion_document(
    *, entry: bytes, seq: int, path: Sequence[bytes], checkpoint: str, tree_size: int
) -> dict[str, Any]:
    """An inclusion proof file's content: the entry, where it sits, the path and the signed tree."""
    return {
        "format": INCLUSION_FORMAT,
        "entry": base64.b64encode(entry).decode("ascii"),
        "leaf_index": seq,
        "tree_size": tree_size,
        "inclusion_proof": _b64s(path),
        "checkpoint": checkpoint,
    }


def consistency_document(
    *, first_size: int, second_size: int, path: Sequence[bytes], first_checkpoint: str, second_checkpoint: str
) -> dict[str, Any]:
    """A consistency proof file's content: both signed trees and the path from the first to the second."""
    return {
        "format": CONSISTENCY_FORMAT,
        "first_size": first_size,
        "second_size": second_size,
        "consistency_proof": _b64s(path),
        "first_checkpoint": first_checkpoint,
        "second_checkpoint": second_checkpoint,
    }


@dataclass
class ProofReport:
    """The outcome of checking one proof file with a pinned key."""

    entry: dict[str, Any] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def open_checkpoint(
    text: str | bytes,
    public_key: bytes,
    key_name: str | None,
    label: str,
    problems: list[str],
    chain: Sequence[bytes] = (),
) -> Checkpoint | None:
    """The checkpoint once its signature verifies with the pinned key (or a later key of `chain`, the pinned key
    and those it vouches for, oldest first); otherwise a problem naming it."""
    opened = open_checkpoint_in_chain(text, list(chain) or [public_key], key_name, label, problems)
    return opened[1] if opened is not None else None


def open_checkpoint_in_chain(
    text: str | bytes, keys: Sequence[bytes], key_name: str | None, label: str, problems: list[str]
) -> tuple[int, Checkpoint] | None:
    """(index in `keys` of the key that signed it, the checkpoint); None after naming the problem."""
    failure: NoteError | None = None
    for index in reversed(range(len(keys))):
        try:
            # The origin only says which key name to look for; the pinned key decides.
            name = key_name if key_name is not None else parse_note(text)[0].origin
            return index, verify_checkpoint(text, name, keys[index])
        except NoteError as exc:
            failure = failure or exc
    later = "" if len(keys) == 1 else f" or the {len(keys) - 1} later keys it vouches for"
    problems.append(f"{label} rejected: {failure} (with the pinned key {fingerprint(keys[0])}{later})")
    return None


def verify_inclusion_file(
    raw: bytes, public_key: bytes, key_name: str | None = None, chain: Sequence[bytes] = ()
) -> ProofReport:
    """Is the file's entry the event at its index in the tree its checkpoint signed with the pinned key?"""
    report = ProofReport()
    try:
        doc = read_proof(raw, INCLUSION_FORMAT, _INCLUSION_FIELDS)
        entry = b64_field(doc["entry"], "entry")
        path = [b64_field(p, "inclusion_proof") for p in doc["inclusion_proof"]]
    except Malformed as exc:
        report.problems.append(f"the file is not an inclusion proof: {exc}")
        return report
    seq, problem = check_entry(entry)
    if problem is not None:
        report.problems.append(f"the log entry {problem}")
    else:
        report.entry = json.loads(entry)
    if seq is not None and seq != doc["leaf_index"]:
        report.problems.append(f"the proof's leaf index {doc['leaf_index']} is not the entry's seq {seq}")
    cp = open_checkpoint(doc["checkpoint"], public_key, key_name, "checkpoint", report.problems, chain)
    if cp is None:
        return report
    report.checkpoints.append(cp)
    if doc["tree_size"] != cp.size:
        report.problems.append(f"the proof's tree size {doc['tree_size']} is not the checkpoint's size {cp.size}")
    elif not verify_inclusion(leaf_hash(entry), doc["leaf_index"], cp.size, path, cp.root_hash):
        report.problems.append(
            f"the inclusion proof does not lead from the entry at index {doc['leaf_index']} to the signed root of "
            f"{cp.size} entries: the entry or the path was changed, or the entry is not in that tree"
        )
    return report


def verify_consistency_file(
    raw: bytes, public_key: bytes, key_name: str | None = None, chain: Sequence[bytes] = ()
) -> ProofReport:
    """Does the second signed tree extend the first, both signed with the pinned key (or keys of its `chain`, the
    second by the same key as the first or a later one)?"""
    report = ProofReport()
    try:
        doc = read_proof(raw, CONSISTENCY_FORMAT, _CONSISTENCY_FIELDS)
        path = [b64_field(p, "consistency_proof") for p in doc["consistency_proof"]]
    except Malformed as exc:
        report.problems.append(f"the file is not a consistency proof: {exc}")
        return report
    keys = list(chain) or [public_key]
    opened = [
        open_checkpoint_in_chain(doc[f"{which}_checkpoint"], keys, key_name, f"{which} checkpoint", report.problems)
        for which in ("first", "second")
    ]
    first_opened, second_opened = opened
    if first_opened is None or second_opened is None:
        return report
    (first_key, first), (second_key, second) = first_opened, second_opened
    report.checkpoints += [first, second]
    if second_key < first_key:
        report.problems.append(
            "the second checkpoint is signed by an older key than the first: a retired key signed it after the rotation"
        )
    if first.origin != second.origin:
        report.problems.append(f"the checkpoints name different logs: {first.origin}, {second.origin}")
    if (doc["first_size"], doc["second_size"]) != (first.size, second.size):
        report.problems.append(
            f"the proof is from {doc['first_size']} to {doc['second_size']} entries, but the checkpoints sign "
            f"{first.size} and {second.size}"
        )
    elif not verify_consistency(first.size, second.size, first.root_hash, second.root_hash, path):
        report.problems.append(
            f"the signed tree of {second.size} entries does NOT extend the signed tree of {first.size}: "
            "entries were changed, removed, inserted or reordered, or the path was changed"
        )
    return report
