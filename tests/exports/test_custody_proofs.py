"""Custody proofs in a bundle: real proofs from `testimony custody proof` verify inside the bundle, and the
standalone verifier's copy of the proof check behaves exactly as app/audit's, proof for proof."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi import FastAPI
from typer.testing import CliRunner

from app.audit import custody_proof, note
from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.cli import cli
from app.core.db import new_id, unit_of_work
from app.crypto import keyring as kr
from app.exports import verify_bundle as vb
from app.exports.bundle import Entry
from app.exports.manifest import CustodyLink
from app.interviews import custody
from app.interviews.custody import Kind
from tests.support.actors import runtime
from tests.support.bundles import fingerprint, info, sample_entries, standalone, write_bundle
from tests.support.people import add_case, add_person

PHOTO = b"\xff\xd8\xff\xe0 a photograph of a burned house" * 50
STATEMENT = rfc8785.dumps({"answers": [{"q": "where", "state": "declined"}], "text": "Ես տեսա ամեն ինչ"})
ORIGIN = "testimony-vault.example/audit"


def _proof(app: FastAPI, cli_env: dict[str, str], tmp_path: Path, item: bytes, kind: Kind) -> bytes:
    """A real proof: the commitment stored as the service stores it, a signed checkpoint, `custody proof`."""
    with unit_of_work(app.state.sessionmaker) as s:
        case_id = add_case(s, f"KC-{new_id().hex[-8:]}")
        person_id = add_person(s, runtime(app).keys, case_id, "Անի Գրիգորյան")
    trail = audit.Trail(action=AuditAction.ATTACHMENT_UPLOAD, actor="user:documenter", resource_type="attachment")
    with unit_of_work(app.state.sessionmaker) as s:
        record = custody.commit(
            s,
            runtime(app),
            person_id=person_id,
            case_id=case_id,
            kind=kind,
            record_id=new_id(),
            digest=hashlib.sha256(item).digest(),
        )
        audit.append(s, trail, audit.Outcome.ALLOWED)
    runner = CliRunner()
    assert runner.invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0
    out = tmp_path / f"proof-{record.record_id}.json"
    made = runner.invoke(cli, ["custody", "proof", str(record.record_id), "--out", str(out)], env=cli_env)
    assert made.exit_code == 0, made.output
    return out.read_bytes()


@pytest.fixture
def proofs(app: FastAPI, cli_env: dict[str, str], tmp_path: Path) -> dict[str, bytes]:
    return {
        "photo": _proof(app, cli_env, tmp_path, PHOTO, Kind.ATTACHMENT_ORIGINAL),
        "statement": _proof(app, cli_env, tmp_path, STATEMENT, Kind.STATEMENT_VERSION),
    }


def _bundle(tmp_path: Path, key_file: Path, proofs: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    signer = kr.loads(key_file.read_bytes(), None).signer
    extra = [
        Entry("attachments/A-7.jpg", [PHOTO]),
        Entry("statements/S-3.json", [STATEMENT]),
        Entry("custody/A-7.json", [proofs["photo"]]),
        Entry("custody/S-3.json", [proofs["statement"]]),
    ]
    links = links or {"custody/A-7.json": "attachments/A-7.jpg", "custody/S-3.json": "statements/S-3.json"}
    path = tmp_path / "bundle.zip"
    write_bundle(path, signer, sample_entries(extra), info([CustodyLink(p, i) for p, i in links.items()]))
    return path


def _key(key_file: Path) -> str:
    return fingerprint(kr.loads(key_file.read_bytes(), None).signer)


def test_real_custody_proofs_verify_inside_a_bundle(tmp_path: Path, key_file: Path, proofs: dict[str, bytes]) -> None:
    bundle = _bundle(tmp_path, key_file, proofs)
    result = CliRunner().invoke(cli, ["exports", "verify", str(bundle), "--key", _key(key_file)])
    assert result.exit_code == 0, result.output
    assert "custody proofs verified: 2" in result.output
    alone = standalone(tmp_path, str(bundle), "--key", _key(key_file))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "custody proofs verified: 2" in alone.stdout
    # A C2SP verifier key names the checkpoints' key too.
    vkey = note.vkey(ORIGIN, kr.loads(key_file.read_bytes(), None).signer.public_key)
    assert standalone(tmp_path, str(bundle), "--key", vkey).returncode == 0


def test_a_proof_linked_to_another_item_fails(tmp_path: Path, key_file: Path, proofs: dict[str, bytes]) -> None:
    swapped = {"custody/A-7.json": "statements/S-3.json", "custody/S-3.json": "attachments/A-7.jpg"}
    bundle = _bundle(tmp_path, key_file, proofs, swapped)
    report = vb.verify_bundle(bundle, vb.read_key(_key(key_file)))
    assert report.signature_ok
    assert report.custody_ok == 0
    assert len([p for p in report.problems if "this is not the item that was committed" in p]) == 2


def test_a_proof_whose_checkpoint_another_key_signed_fails(
    tmp_path: Path, key_file: Path, proofs: dict[str, bytes]
) -> None:
    """The pinned key signs the manifest; a proof's checkpoint by any other key is refused."""
    doc = json.loads(proofs["photo"])
    body, _ = note.split_note(doc["checkpoint"])
    doc["checkpoint"] = note.sign_note(body, kr.generate().signer, ORIGIN)
    bundle = _bundle(tmp_path, key_file, {**proofs, "photo": json.dumps(doc).encode()})
    report = vb.verify_bundle(bundle, vb.read_key(_key(key_file)))
    assert report.custody_ok == 1
    assert [p for p in report.problems if p.startswith("custody/A-7.json")] == [
        f"custody/A-7.json (for attachments/A-7.jpg): checkpoint rejected: note is not signed by key "
        f"{ORIGIN}+{note.key_hash(ORIGIN, kr.loads(key_file.read_bytes(), None).signer.public_key).hex()} "
        f"(with the pinned key {_key(key_file)})"
    ]


def _mutations(raw: bytes) -> list[bytes]:
    """The proof, and the proof with each field changed in a way a forger or a fault might change it."""
    doc = json.loads(raw)

    def changed(**fields: Any) -> bytes:
        return json.dumps({**doc, **fields}).encode()

    flip: Callable[[str], str] = lambda h: ("0" if h[0] != "0" else "1") + h[1:]  # noqa: E731
    entry = base64.b64decode(doc["entry"])
    return [
        raw,
        changed(digest=flip(doc["digest"])),
        changed(salt=flip(doc["salt"])),
        changed(salt="XYZ"),
        changed(kind="statement_version" if doc["kind"] != "statement_version" else "attachment_original"),
        changed(kind="other"),
        changed(entry=base64.b64encode(entry.replace(b'"v":4', b'"v":3')).decode()),
        changed(entry=base64.b64encode(entry + b" ").decode()),
        changed(entry="***"),
        changed(leaf_index=doc["leaf_index"] + 1),
        changed(tree_size=doc["tree_size"] + 1),
        changed(inclusion_proof=[*reversed(doc["inclusion_proof"]), base64.b64encode(b"x" * 32).decode()]),
        changed(checkpoint=doc["checkpoint"].replace("\n\n", "\n\n\n", 1)),
        changed(checkpoint=doc["checkpoint"][:-5] + "AAAA\n"),
        changed(format="testimony-vault/custody-proof/v0"),
        changed(leaf_index=True),
        b"[]",
        b"\xff not json",
    ]


def test_the_standalone_proof_check_behaves_as_the_audit_verifiers(key_file: Path, proofs: dict[str, bytes]) -> None:
    public_key = kr.loads(key_file.read_bytes(), None).signer.public_key
    other = kr.generate().signer.public_key
    cases = 0
    for name, item in (("photo", PHOTO), ("statement", STATEMENT)):
        for raw in _mutations(proofs[name]):
            for key in (public_key, other):
                for digest in (hashlib.sha256(item).digest(), hashlib.sha256(b"another").digest()):
                    for key_name in (None, ORIGIN, "someone-else"):
                        ours = custody_proof.verify_proof(raw, digest, key, key_name)
                        theirs = vb.verify_proof(raw, digest, key, key_name)
                        assert (theirs.kind, theirs.entry, theirs.problems) == (ours.kind, ours.entry, ours.problems)
                        cp = theirs.checkpoint
                        assert (cp and (cp.origin, cp.size, cp.root_hash, cp.extensions)) == (
                            ours.checkpoint
                            and (
                                ours.checkpoint.origin,
                                ours.checkpoint.size,
                                ours.checkpoint.root_hash,
                                ours.checkpoint.extensions,
                            )
                        )
                        cases += 1
    assert cases == 2 * 18 * 2 * 2 * 3
    # The unchanged proofs pass; at least one of each kind of change is flagged.
    assert vb.verify_proof(proofs["photo"], hashlib.sha256(PHOTO).digest(), public_key).ok
    flagged = [vb.verify_proof(m, hashlib.sha256(PHOTO).digest(), public_key).ok for m in _mutations(proofs["photo"])]
    assert flagged == [True] + [False] * 17
