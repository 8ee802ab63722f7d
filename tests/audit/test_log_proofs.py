"""Inclusion and consistency proof files: each holds with the pinned key, and each way of changing one, or of
checking it with another key, is named."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785

from app.audit import merkle
from app.audit.log_proofs import (
    consistency_document,
    inclusion_document,
    verify_consistency_file,
    verify_inclusion_file,
)
from app.audit.note import Checkpoint, sign_checkpoint
from app.crypto.signing import Signer

ORIGIN = "vault.example.org/audit"
KEY = Signer.from_seed(bytes([0x21]) * 32)
OTHER = Signer.from_seed(bytes([0x22]) * 32)
ENTRIES = [bytes(rfc8785.dumps({"seq": i, "action": "case.read", "outcome": "allowed", "v": 3})) for i in range(13)]
LEAVES = [merkle.leaf_hash(e) for e in ENTRIES]


def _note(size: int, signer: Signer = KEY, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, merkle.root(LEAVES[:size])), signer, origin)


def _inclusion(seq: int = 5, size: int = 13, **changes: Any) -> bytes:
    doc = inclusion_document(
        entry=ENTRIES[seq],
        seq=seq,
        path=merkle.inclusion_proof(LEAVES, seq, size),
        checkpoint=_note(size),
        tree_size=size,
    )
    return json.dumps(doc | changes).encode()


def _consistency(first: int = 7, second: int = 13, **changes: Any) -> bytes:
    doc = consistency_document(
        first_size=first,
        second_size=second,
        path=merkle.consistency_proof(LEAVES[:second], first, second),
        first_checkpoint=_note(first),
        second_checkpoint=_note(second),
    )
    return json.dumps(doc | changes).encode()


@pytest.mark.parametrize("seq", [0, 5, 12])
def test_an_inclusion_proof_holds_with_the_pinned_key(seq: int) -> None:
    report = verify_inclusion_file(_inclusion(seq), KEY.public_key)
    assert report.problems == []
    assert report.entry["seq"] == seq
    assert [c.size for c in report.checkpoints] == [13]


def test_a_changed_inclusion_proof_is_named() -> None:
    other_entry = json.loads(_inclusion(6))["entry"]
    shorter = json.loads(_inclusion())["inclusion_proof"][1:]
    cases = {
        "another entry": (_inclusion(entry=other_entry), "is not the entry's seq"),
        "another index": (_inclusion(leaf_index=4), "is not the entry's seq"),
        "another size": (_inclusion(tree_size=12), "is not the checkpoint's size"),
        "a dropped hash": (_inclusion(inclusion_proof=shorter), "does not lead"),
        "another checkpoint": (_inclusion(checkpoint=_note(13, OTHER)), "checkpoint rejected"),
        "not a proof": (b"[]", "not an inclusion proof"),
        "a consistency proof": (_consistency(), "its format is not"),
    }
    for name, (raw, problem) in cases.items():
        report = verify_inclusion_file(raw, KEY.public_key)
        assert any(problem in p for p in report.problems), (name, report.problems)
    assert verify_inclusion_file(_inclusion(), OTHER.public_key).problems


@pytest.mark.parametrize(("first", "second"), [(1, 13), (7, 13), (8, 8), (12, 13)])
def test_a_consistency_proof_holds_with_the_pinned_key(first: int, second: int) -> None:
    report = verify_consistency_file(_consistency(first, second), KEY.public_key)
    assert report.problems == []
    assert [c.size for c in report.checkpoints] == [first, second]


def test_a_changed_consistency_proof_is_named() -> None:
    path = json.loads(_consistency())["consistency_proof"]
    cases = {
        "another first size": (_consistency(first_size=6), "but the checkpoints sign"),
        "a dropped hash": (_consistency(consistency_proof=path[:-1]), "does NOT extend"),
        "a rewritten earlier tree": (
            _consistency(first_checkpoint=sign_checkpoint(Checkpoint(ORIGIN, 7, LEAVES[0]), KEY, ORIGIN)),
            "does NOT extend",
        ),
        "another key": (_consistency(second_checkpoint=_note(13, OTHER)), "second checkpoint rejected"),
        "another log": (_consistency(first_checkpoint=_note(7, KEY, "other.example/audit")), "name different logs"),
        "not base64": (_consistency(consistency_proof=["***"]), "not base64"),
    }
    for name, (raw, problem) in cases.items():
        report = verify_consistency_file(raw, KEY.public_key)
        assert any(problem in p for p in report.problems), (name, report.problems)
    assert verify_consistency_file(_consistency(), KEY.public_key, "other.example/audit").problems
