"""A custody proof holds only when the item, the salt, the entry, the path and the checkpoint's key all do;
each way of breaking it says which one failed."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from app.audit import merkle
from app.audit.custody_proof import CONTEXTS, commitment, document, verify_proof
from app.audit.entries import CUSTODY_ENTRY_KEYS, check_entry, custody_entry
from app.audit.note import Checkpoint, sign_checkpoint, vkey
from app.audit.verify import main
from app.crypto.signing import Signer, fingerprint

ORIGIN = "vault.example.org/audit"
REPO = Path(__file__).resolve().parents[2]
LOG_KEY = Signer.from_seed(bytes([0x21]) * 32)
ITEM = "ՀՀ — a photo's bytes stand in here.\n".encode()
SALT = bytes(range(32))
SEQ = 5
SIZE = 9


def _event(seq: int) -> bytes:
    return bytes(rfc8785.dumps({"v": 3, "seq": seq, "action": "case.read", "actor": "user:u", "outcome": "allowed"}))


def _log(kind: str = "attachment_original", salt: bytes = SALT, item: bytes = ITEM) -> list[bytes]:
    """A small log whose entry SEQ commits to the item, between ordinary events."""
    value = commitment(kind, salt, hashlib.sha256(item).digest())
    custody = bytes(rfc8785.dumps(custody_entry(SEQ, "2026-11-30T10:00:00.000000Z", value)))
    return [custody if i == SEQ else _event(i) for i in range(SIZE)]


def _proof(entries: list[bytes], signer: Signer = LOG_KEY, **changes: Any) -> dict[str, Any]:
    leaves = [merkle.leaf_hash(e) for e in entries]
    note = sign_checkpoint(Checkpoint(ORIGIN, SIZE, merkle.root(leaves)), signer, ORIGIN)
    doc = document(
        kind="attachment_original",
        digest=hashlib.sha256(ITEM).digest(),
        salt=SALT,
        entry=entries[SEQ],
        seq=SEQ,
        tree_size=SIZE,
        path=merkle.inclusion_proof(leaves, SEQ, SIZE),
        checkpoint=note,
    )
    return {**doc, **changes}


def _problems(doc: dict[str, Any], item: bytes = ITEM) -> list[str]:
    raw = json.dumps(doc).encode()
    return verify_proof(raw, hashlib.sha256(item).digest(), LOG_KEY.public_key).problems


def test_an_untouched_proof_holds() -> None:
    report = verify_proof(json.dumps(_proof(_log())).encode(), hashlib.sha256(ITEM).digest(), LOG_KEY.public_key)
    assert report.problems == []
    assert report.ok
    assert report.kind == "attachment_original"
    assert report.entry["seq"] == SEQ
    assert report.checkpoint is not None
    assert report.checkpoint.size == SIZE


def test_the_entry_holds_nothing_but_version_seq_time_action_and_commitment() -> None:
    entry = _log()[SEQ]
    assert check_entry(entry) == (SEQ, None)  # canonical, like every entry of the log
    assert set(json.loads(entry)) == {"v", "seq", "at", "action", "commitment"} == CUSTODY_ENTRY_KEYS
    assert json.loads(entry)["v"] == 4
    assert json.loads(entry)["action"] == "custody.commit"


def test_the_commitment_is_sha256_of_context_salt_and_digest() -> None:
    digest = hashlib.sha256(ITEM).digest()
    expected = hashlib.sha256(b"testimony-vault/custody/v1/attachment-original" + SALT + digest).hexdigest()
    assert json.loads(_log()[SEQ])["commitment"] == expected
    # A statement's commitment to the same bytes differs: one kind can never pass for the other.
    assert commitment("statement_version", SALT, digest) != commitment("attachment_original", SALT, digest)
    assert len(set(CONTEXTS.values())) == len(CONTEXTS)


def test_a_changed_byte_of_the_item_fails() -> None:
    changed = bytearray(ITEM)
    changed[3] ^= 0x01
    assert _problems(_proof(_log()), bytes(changed)) == [
        f"the item's SHA-256 is {hashlib.sha256(bytes(changed)).hexdigest()}, but the proof is for "
        f"{hashlib.sha256(ITEM).hexdigest()}: this is not the item that was committed"
    ]


def test_another_salt_fails() -> None:
    problems = _problems(_proof(_log(), salt=bytes(32).hex()))
    assert len(problems) == 1
    assert problems[0].startswith("SHA-256(context || salt || digest) is ")
    assert "the salt, the digest or the kind was changed" in problems[0]


def test_another_kind_fails() -> None:
    problems = _problems(_proof(_log(), kind="statement_version"))
    assert len(problems) == 1
    assert "the salt, the digest or the kind was changed" in problems[0]


def test_a_proof_for_another_item_with_its_own_digest_fails() -> None:
    other = b"another photo"
    problems = _problems(_proof(_log(), digest=hashlib.sha256(other).hexdigest()), other)
    assert len(problems) == 1
    assert "the log entry commits to" in problems[0]


def _reencode(entry: bytes, **changes: Any) -> bytes:
    return bytes(rfc8785.dumps({**json.loads(entry), **changes}))


def test_a_changed_entry_fails() -> None:
    entries = _log()
    moved = _reencode(entries[SEQ], at="2026-11-01T10:00:00.000000Z")  # backdated: still canonical
    problems = _problems(_proof(entries, entry=base64.b64encode(moved).decode()))
    assert problems == [
        f"the inclusion proof does not lead from the entry at index {SEQ} to the signed root of {SIZE} entries: "
        "the entry or the path was changed, or the entry is not in that tree"
    ]


def test_an_entry_that_names_more_than_the_commitment_is_refused() -> None:
    entries = _log()
    entries[SEQ] = _reencode(entries[SEQ], actor="user:u", case_id="c")
    problems = _problems(_proof(entries))
    assert problems == [
        "the log entry is not a custody commitment (custody.commit, version 4) as the log writes them: actor, case_id"
    ]


def test_an_ordinary_event_is_not_a_commitment() -> None:
    entries = _log()
    path = merkle.inclusion_proof([merkle.leaf_hash(e) for e in entries], SEQ - 1, SIZE)
    event: dict[str, Any] = {"entry": base64.b64encode(entries[SEQ - 1]).decode(), "leaf_index": SEQ - 1}
    problems = _problems(_proof(entries, **event, inclusion_proof=[base64.b64encode(p).decode() for p in path]))
    assert len(problems) == 1  # in the tree, but no commitment
    assert problems[0].startswith("the log entry is not a custody commitment (custody.commit, version 4)")


@pytest.mark.parametrize(
    "broken",
    [
        lambda path: path[:-1],
        lambda path: [*path, path[0]],
        lambda path: [path[1], path[0], *path[2:]],
        lambda path: [base64.b64encode(bytes(32)).decode(), *path[1:]],
    ],
    ids=["one-short", "one-too-many", "swapped", "replaced"],
)
def test_a_wrong_inclusion_path_fails(broken: Callable[[list[str]], list[str]]) -> None:
    doc = _proof(_log())
    problems = _problems({**doc, "inclusion_proof": broken(doc["inclusion_proof"])})
    assert len(problems) == 1
    assert problems[0].startswith(f"the inclusion proof does not lead from the entry at index {SEQ}")


def test_a_leaf_index_other_than_the_seq_fails() -> None:
    problems = _problems(_proof(_log(), leaf_index=SEQ + 1))
    assert f"the proof's leaf index {SEQ + 1} is not the entry's seq {SEQ}" in problems


def test_a_checkpoint_signed_by_another_key_fails() -> None:
    forger = Signer.from_seed(bytes([0x66]) * 32)
    problems = _problems(_proof(_log(), signer=forger))
    assert len(problems) == 1
    assert problems[0].startswith(f"checkpoint rejected: note is not signed by key {ORIGIN}+")
    assert fingerprint(LOG_KEY.public_key) in problems[0]


def test_a_tree_size_other_than_the_checkpoint_fails() -> None:
    assert _problems(_proof(_log(), tree_size=SIZE + 1)) == [
        f"the proof's tree size {SIZE + 1} is not the checkpoint's size {SIZE}"
    ]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xff", "it is not UTF-8 JSON"),
        (b"[]", "it is not a JSON object"),
        (b'{"format": "other"}', "its format is not testimony-vault/custody-proof/v1"),
        (None, "salt is not 64 lowercase hex digits"),
    ],
)
def test_a_damaged_proof_file_says_so(raw: bytes | None, why: str) -> None:
    data = raw if raw is not None else json.dumps(_proof(_log(), salt=SALT.hex().upper())).encode()
    report = verify_proof(data, hashlib.sha256(ITEM).digest(), LOG_KEY.public_key)
    assert report.problems == [f"the proof file is not a custody proof: {why}"]


# The command line ---------------------------------------------------------------------------------------


def _files(tmp_path: Path, doc: dict[str, Any], item: bytes = ITEM) -> tuple[Path, Path]:
    proof, item_file = tmp_path / "proof.json", tmp_path / "photo.jpg"
    proof.write_text(json.dumps(doc, indent=2))
    item_file.write_bytes(item)
    return proof, item_file


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app.audit.verify", "custody", *args],
        cwd=REPO,
        capture_output=True,
        input=stdin,
        check=False,
    )


def test_the_standalone_verifier_checks_a_proof(tmp_path: Path) -> None:
    proof, item = _files(tmp_path, _proof(_log()))
    key = ["--key", vkey(ORIGIN, LOG_KEY.public_key)]
    good = _run(str(proof), str(item), *key)
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.decode().splitlines()
    assert lines[0] == f"item sha256: {hashlib.sha256(ITEM).hexdigest()}"
    assert "kind: attachment original" in lines
    assert f"entry: seq {SEQ}, committed at 2026-11-30T10:00:00.000000Z (the log's clock)" in lines
    assert lines[-1] == (
        f"OK: the item is the attachment original committed in entry {SEQ}, which the checkpoint of {SIZE} "
        "entries signed by the pinned key includes"
    )
    from_stdin = _run(str(proof), "-", *key, stdin=ITEM)
    assert from_stdin.returncode == 0, from_stdin.stdout

    item.write_bytes(ITEM + b" ")
    bad = _run(str(proof), str(item), *key)
    assert bad.returncode == 1
    assert b"PROBLEM: the item's SHA-256 is " in bad.stdout
    assert bad.stdout.decode().splitlines()[-1] == "FAILED: 1 problem(s)"


def test_text_is_hashed_as_its_utf8_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "Ես տեսա ամեն ինչ"
    proof, _item = _files(tmp_path, _proof(_log(item=text.encode()), digest=hashlib.sha256(text.encode()).hexdigest()))
    assert main(["custody", str(proof), text, "--text", "--key", vkey(ORIGIN, LOG_KEY.public_key)]) == 0
    assert main(["custody", str(proof), text + "\n", "--text", "--key", vkey(ORIGIN, LOG_KEY.public_key)]) == 1
    assert "this is not the item that was committed" in capsys.readouterr().out


def test_a_fingerprint_needs_its_public_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof, item = _files(tmp_path, _proof(_log()))
    pinned = fingerprint(LOG_KEY.public_key)
    assert main(["custody", str(proof), str(item), "--key", pinned]) == 2
    assert "never trusts a key shipped with data" in capsys.readouterr().err
    public = base64.b64encode(LOG_KEY.public_key).decode()
    assert main(["custody", str(proof), str(item), "--key", pinned, "--public-key", public]) == 0


def test_missing_files_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof, item = _files(tmp_path, _proof(_log()))
    key = ["--key", vkey(ORIGIN, LOG_KEY.public_key)]
    assert main(["custody", str(tmp_path / "absent.json"), str(item), *key]) == 2
    assert main(["custody", str(proof), str(tmp_path / "absent.jpg"), *key]) == 2
    assert capsys.readouterr().err.count("error: ") == 2
