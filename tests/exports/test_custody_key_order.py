"""Custody proofs across a signing-key rotation: each proof's checkpoint must be signed by a key of the bundle's
key chain that was still in use when the log entry it covers was written. A checkpoint by the retired key for an
entry written after its retirement, or by a key outside the chain, fails the bundle, in `testimony exports verify`
and in the standalone verify_bundle.py alike."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import rfc8785
from typer.testing import CliRunner

from app.audit import custody_proof, merkle, note
from app.audit.entries import custody_entry
from app.cli import cli
from app.crypto import signing
from app.exports import verify_bundle as vb
from app.exports.bundle import Entry
from app.exports.manifest import CustodyLink
from tests.support.bundles import fingerprint, info, sample_entries, standalone, write_bundle

ORIGIN = "testimony-vault.example/audit"
PHOTO = b"\xff\xd8\xff\xe0 a photograph of a burned house" * 50
ROTATED_AT = "2026-11-20T10:00:00+00:00"
FIRST = signing.Signer.from_seed(b"\x01" * 32)
SECOND = signing.Signer.from_seed(b"\x02" * 32)
CHAIN = [signing.sign_transition(FIRST, SECOND.public_key, ROTATED_AT)]


def _proof(entry_at: str, signer: signing.Signer) -> bytes:
    """A custody proof for PHOTO whose log entry was written at ``entry_at``, in a checkpoint ``signer`` signed."""
    salt, digest = os.urandom(32), hashlib.sha256(PHOTO).digest()
    commitment = custody_proof.commitment("attachment_original", salt, digest)
    others = [bytes(rfc8785.dumps({"seq": i, "action": "user.login", "at": entry_at})) for i in range(2)]
    entries = [*others, bytes(rfc8785.dumps(custody_entry(2, entry_at, commitment)))]
    leaves = [merkle.leaf_hash(e) for e in entries]
    checkpoint = note.sign_checkpoint(note.Checkpoint(ORIGIN, 3, merkle.root(leaves)), signer, ORIGIN)
    doc = custody_proof.document(
        kind="attachment_original",
        digest=digest,
        salt=salt,
        entry=entries[2],
        seq=2,
        tree_size=3,
        path=merkle.inclusion_proof(leaves, 2, 3),
        checkpoint=checkpoint,
    )
    return json.dumps(doc).encode()


def _bundle(tmp_path: Path, proof: bytes, chain: list[dict[str, str]] = CHAIN) -> Path:
    """A bundle signed by the second key, carrying the chain from the first, with one custody proof."""
    extra = [Entry("attachments/A-7.jpg", [PHOTO]), Entry("custody/A-7.json", [proof])]
    path = tmp_path / "bundle.zip"
    path.unlink(missing_ok=True)
    links = [CustodyLink("custody/A-7.json", "attachments/A-7.jpg")]
    write_bundle(path, SECOND, sample_entries(extra), info(links, extra={"key_chain": chain}))
    return path


def _both(tmp_path: Path, bundle: Path) -> tuple[int, str, int, str]:
    """`testimony exports verify` and the standalone file, each against the first key, pinned before the rotation."""
    pin = fingerprint(FIRST)
    checked = CliRunner().invoke(cli, ["exports", "verify", str(bundle), "--key", pin])
    alone = standalone(tmp_path, str(bundle), "--key", pin)
    return checked.exit_code, checked.output, alone.returncode, alone.stdout + alone.stderr


def test_checkpoints_by_the_key_in_use_at_the_entrys_time_verify(tmp_path: Path) -> None:
    for entry_at, signer in (
        ("2026-11-19T08:00:00.000000Z", FIRST),  # before the rotation, by the key then in use
        ("2026-11-20T10:00:00.999999Z", FIRST),  # in the rotation's second: the transition's time is to the second
        ("2026-11-19T08:00:00.000000Z", SECOND),  # signed later by the new key: a checkpoint may come late
        ("2026-11-25T08:00:00.000000Z", SECOND),
    ):
        code, out, alone_code, alone_out = _both(tmp_path, _bundle(tmp_path, _proof(entry_at, signer)))
        assert code == 0, (entry_at, out)
        assert "custody proofs verified: 1" in out
        assert alone_code == 0, (entry_at, alone_out)


def test_a_checkpoint_by_the_retired_key_for_a_later_entry_fails(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _proof("2026-11-20T10:00:01.000000Z", FIRST))
    report = vb.verify_bundle(bundle, vb.read_key(fingerprint(FIRST)))
    assert report.signature_ok
    assert report.custody_ok == 0
    assert report.problems == [
        f"custody/A-7.json (for attachments/A-7.jpg): its checkpoint is signed by key {FIRST.key_id}, which the "
        "bundle's key chain retired at 2026-11-20T10:00:00+00:00, before the log entry it covers "
        "(2026-11-20T10:00:01.000000Z): a retired key signed it"
    ]
    code, out, alone_code, alone_out = _both(tmp_path, bundle)
    assert code == 1
    assert "a retired key signed it" in out
    assert alone_code == 1
    assert "a retired key signed it" in alone_out


def test_a_checkpoint_by_a_key_outside_the_chain_fails(tmp_path: Path) -> None:
    stranger = signing.Signer.from_seed(b"\x03" * 32)
    # The stranger is in the manifest's statements, but vouched for by no trusted key: it stays outside the chain.
    unrelated = signing.sign_transition(stranger, signing.Signer.from_seed(b"\x04" * 32).public_key, ROTATED_AT)
    bundle = _bundle(tmp_path, _proof("2026-11-19T08:00:00.000000Z", stranger), [*CHAIN, unrelated])
    report = vb.verify_bundle(bundle, vb.read_key(fingerprint(FIRST)))
    assert report.signature_ok
    assert report.chain == [FIRST.public_key, SECOND.public_key]
    assert report.custody_ok == 0
    assert len(report.problems) == 1
    assert "checkpoint rejected: note is not signed by key" in report.problems[0]
    code, _, alone_code, _ = _both(tmp_path, bundle)
    assert (code, alone_code) == (1, 1)


def test_an_unreadable_time_fails_rather_than_passes(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _proof("last tuesday", FIRST))
    report = vb.verify_bundle(bundle, vb.read_key(fingerprint(FIRST)))
    assert report.custody_ok == 0
    assert [p.split(": ", 1)[1] for p in report.problems] == [
        f"the time of the log entry or of key {FIRST.key_id}'s retirement in the key chain cannot be read"
    ]
