"""Signing-key rotation: `testimony keys rotate-signing` makes a new key, the old one signs the transition to it,
running services sign with the new key, and every verifier follows the chain from the key pinned first, refusing
forged or forking chains and checkpoints a retired or unknown key signed."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.audit import merkle, note, read
from app.audit import service as audit
from app.audit.models import AuditCheckpoint, AuditEvent
from app.audit.verify import verify_dump
from app.audit.vocabulary import AuditAction
from app.cli import cli
from app.cli_support import SYSTEM
from app.core.db import unit_of_work
from app.crypto import keyring as kr
from app.crypto import signing
from app.crypto.errors import KeyringError
from app.exports import verify_bundle as vb
from app.keys import service as keys_service
from app.keys.store import FileKeyStore, Keys, write_private_file
from tests.support.bundles import info, standalone, write_bundle
from tests.support.consent import grant
from tests.support.exports import desk


def _ring(key_file: Path) -> kr.Keyring:
    return kr.loads(key_file.read_bytes(), None)


def _testimony(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _events(factory: sessionmaker[Session], action: str) -> list[tuple[str, str | None]]:
    with unit_of_work(factory) as s:
        rows = s.execute(
            select(AuditEvent.outcome, AuditEvent.resource_id)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        )
        return [(o, r) for o, r in rows]


def _bundle_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _manifest(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as z:
        doc: dict[str, Any] = json.loads(z.read("manifest.json"))
    return doc


def test_rotation_round_trip_old_and_new_bundles_and_checkpoints_verify_against_the_first_pinned_key(
    app: FastAPI, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    first = _ring(key_file).signer
    pin = signing.fingerprint(first.public_key)
    d = desk(app)
    d.person(grant())
    _, before = d.ready()
    old_bundle = _bundle_file(tmp_path, "before.zip", before)
    assert runner.invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0

    rotated = _testimony(cli_env, "keys", "rotate-signing")
    assert rotated.returncode == 0, rotated.stderr
    ring = _ring(key_file)
    second = ring.signer
    assert second.public_key != first.public_key
    assert [e.retired for e in ring.signing_keys] == [True, False]
    assert f"new fingerprint: {signing.fingerprint(second.public_key)}" in rotated.stdout
    assert signing.follow_chain(first.public_key, ring.transitions()) == [first.public_key, second.public_key]
    assert _events(app.state.sessionmaker, "keys.rotate_signing") == [("started", None), ("allowed", second.key_id)]

    # The running service (the same app object, not restarted) signs the next bundle and publishes the new key.
    d.person(grant())
    _, after = d.ready()
    new_bundle = _bundle_file(tmp_path, "after.zip", after)
    manifest = _manifest(new_bundle)
    assert manifest["signing_key"]["fingerprint"] == signing.fingerprint(second.public_key)
    assert manifest["key_chain"] == ring.transitions()
    assert "key_chain" not in _manifest(old_bundle)
    published = d.admin.get("/api/v1/keys/signing").json()
    assert [(k["key_id"], k["retired"], k["current"]) for k in published["keys"]] == [
        (first.key_id, True, False),
        (second.key_id, False, True),
    ]
    assert published["transitions"] == ring.transitions()
    assert runner.invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0
    with unit_of_work(app.state.sessionmaker) as s:
        signers = list(s.scalars(select(AuditCheckpoint.key_id).order_by(AuditCheckpoint.size)))
    assert signers == [first.key_id, second.key_id]

    # Everything verifies against the key pinned before the rotation: the CLI, and the standalone file alone.
    for bundle in (old_bundle, new_bundle):
        checked = runner.invoke(cli, ["exports", "verify", str(bundle), "--key", pin])
        assert checked.exit_code == 0, checked.output
        alone = standalone(tmp_path, str(bundle), "--key", base64.b64encode(first.public_key).decode())
        assert alone.returncode == 0, alone.stdout + alone.stderr
    assert f"key transition ok: key {first.key_id} vouches for key {second.key_id}" in alone.stdout
    verified = runner.invoke(cli, ["audit", "verify", "--key", pin, "--json"], env=cli_env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["checkpoints_verified"] == 2
    # A recipient who pinned only the new key cannot take an old bundle for one signed by it: the chain runs forward.
    refused = runner.invoke(
        cli, ["exports", "verify", str(old_bundle), "--key", signing.fingerprint(second.public_key)]
    )
    assert refused.exit_code == 1
    # The auditor's page follows the chain too.
    with unit_of_work(app.state.sessionmaker) as s:
        shown = read.verification(
            s, SYSTEM, app.state.runtime.keys.for_signing(), app.state.runtime.settings.audit.origin
        )
    assert shown.ok, shown.problems

    # Offline, away from the server: the log dump, its checkpoints and a consistency proof across the rotation,
    # with the published keys saved as a file, against the verifier key pinned before the rotation.
    origin = app.state.runtime.settings.audit.origin
    vkey = note.vkey(origin, first.public_key)
    dump = tmp_path / "events.jsonl"
    assert runner.invoke(cli, ["audit", "export", "--out", str(dump)], env=cli_env).exit_code == 0
    notes = []
    with unit_of_work(app.state.sessionmaker) as s:
        for i, text in enumerate(s.scalars(select(AuditCheckpoint.note).order_by(AuditCheckpoint.size))):
            notes += ["--checkpoint", str(tmp_path / f"cp{i}.txt")]
            (tmp_path / f"cp{i}.txt").write_text(text)
        proof = read.consistency_file(s, SYSTEM, None, None)
    (tmp_path / "consistency.json").write_text(json.dumps(proof))
    chain_file = tmp_path / "signing-keys.json"
    chain_file.write_text(json.dumps(published))
    offline = [sys.executable, "-m", "app.audit.verify"]
    dumped = subprocess.run(
        [*offline, "--events", str(dump), *notes, "--key", vkey, "--chain", str(chain_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert dumped.returncode == 0, dumped.stdout + dumped.stderr
    across = subprocess.run(
        [*offline, "consistency", str(tmp_path / "consistency.json"), "--key", vkey, "--chain", str(chain_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert across.returncode == 0, across.stdout + across.stderr
    unchained = subprocess.run(
        [*offline, "consistency", str(tmp_path / "consistency.json"), "--key", vkey],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unchained.returncode == 1
    forged = {**published, "transitions": [{**published["transitions"][0], "at": "2031-01-01T00:00:00+00:00"}]}
    chain_file.write_text(json.dumps(forged))
    refused_chain = subprocess.run(
        [*offline, "--events", str(dump), *notes, "--key", vkey, "--chain", str(chain_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused_chain.returncode == 1
    assert "the key chain is refused" in refused_chain.stdout
    server_side = runner.invoke(cli, ["audit", "verify", "--key", pin, "--chain", str(chain_file)], env=cli_env)
    assert server_side.exit_code == 1
    assert "the key chain is refused" in server_side.output

    # A retired key that signs after the rotation (as a leaked one could) is caught by the order of the log.
    with unit_of_work(app.state.sessionmaker) as s:
        audit.append(
            s,
            audit.Trail(action=AuditAction.KEYS_STATUS, actor="system:cli", resource_type="keyring"),
            audit.Outcome.ALLOWED,
        )
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.make_checkpoint(s, first, app.state.runtime.settings.audit.origin) is not None
    late = runner.invoke(cli, ["audit", "verify", "--key", pin, "--json"], env=cli_env)
    assert late.exit_code == 1
    problems = json.loads(late.stdout)["problems"]
    assert any(f"signed with key {first.key_id}" in p and "already retired" in p for p in problems), problems


def test_a_checkpoint_signed_outside_the_chain_and_a_forged_transition_are_refused(tmp_path: Path) -> None:
    ring = kr.generate()
    first = ring.signer
    ring = ring.with_new_signing_key()
    second = ring.signer
    stranger = signing.Signer.from_seed(os.urandom(32))
    entries = [
        bytes(rfc8785.dumps({"seq": i, "action": "read", "actor": "system:cli", "outcome": "allowed"}))
        for i in range(3)
    ]

    def checkpoint(size: int, signer: signing.Signer) -> str:
        root = merkle.root([merkle.leaf_hash(e) for e in entries[:size]])
        return note.sign_checkpoint(note.Checkpoint("vault.example/audit", size, root), signer, "vault.example/audit")

    chain = signing.follow_chain(first.public_key, ring.transitions())
    good = verify_dump(entries, [checkpoint(1, first), checkpoint(3, second)], first.public_key, chain=chain)
    assert good.problems == []
    assert [c.checkpoint.size for c in good.checkpoints] == [1, 3]
    # Without the chain, only the pinned key's checkpoint verifies.
    alone = verify_dump(entries, [checkpoint(1, first), checkpoint(3, second)], first.public_key)
    assert len(alone.problems) == 1
    assert "checkpoint 2: rejected" in alone.problems[0]
    strange = verify_dump(entries, [checkpoint(3, stranger)], first.public_key, chain=chain)
    assert strange.problems
    assert "rejected" in strange.problems[0]

    # A transition from the pinned key whose signature is not the pinned key's is refused, not skipped.
    forged = signing.sign_transition(stranger, stranger.public_key[::-1], "2026-12-01T00:00:00+00:00")
    forged |= {"from_key_id": first.key_id, "from_public_key": base64.b64encode(first.public_key).decode()}
    with pytest.raises(signing.ChainError, match="forged"):
        signing.follow_chain(first.public_key, [forged])
    changed = {**ring.transitions()[0], "at": "2030-01-01T00:00:00+00:00"}
    with pytest.raises(signing.ChainError, match="forged"):
        signing.follow_chain(first.public_key, [changed])
    # A key that vouches for two keys (a leaked retired key signing a second transition) forks the chain.
    fork = signing.sign_transition(first, stranger.public_key, "2026-12-02T00:00:00+00:00")
    with pytest.raises(signing.ChainError, match="forks"):
        signing.follow_chain(first.public_key, [*ring.transitions(), fork])
    # A keyring whose stored transition was altered does not load.
    doc = kr.to_document(ring)
    doc["signing"][1]["transition"]["at"] = "2030-01-01T00:00:00+00:00"
    with pytest.raises(KeyringError, match="transition"):
        kr.from_document(doc)


def test_a_bundle_with_a_tampered_or_foreign_key_chain_fails(tmp_path: Path) -> None:
    ring = kr.generate()
    first = ring.signer
    ring = ring.with_new_signing_key()
    second = ring.signer
    pin = signing.fingerprint(first.public_key)
    good = tmp_path / "good.zip"
    write_bundle(good, second, bundle_info=info(extra={"key_chain": ring.transitions()}))
    assert vb.verify_bundle(good, vb.read_key(pin)).ok

    # The new key signs the manifest, but the transition in it was changed: the chain is refused.
    changed = [{**ring.transitions()[0], "at": "2031-05-05T00:00:00+00:00"}]
    tampered = tmp_path / "tampered.zip"
    write_bundle(tampered, second, bundle_info=info(extra={"key_chain": changed}))
    report = vb.verify_bundle(tampered, vb.read_key(pin))
    assert not report.ok
    assert any("key_chain is refused" in p and "forged" in p for p in report.problems), report.problems
    alone = standalone(tmp_path, str(tampered), "--key", pin)
    assert alone.returncode == 1
    assert "key_chain is refused" in alone.stdout

    # An attacker's own key, with a chain that does not start from the pinned key, brings no trust of its own.
    attacker = kr.generate().with_new_signing_key()
    foreign = tmp_path / "foreign.zip"
    write_bundle(foreign, attacker.signer, bundle_info=info(extra={"key_chain": attacker.transitions()}))
    report = vb.verify_bundle(foreign, vb.read_key(pin))
    assert not report.ok
    assert not report.signature_ok
    # Nor does a bundle without a chain signed by the new key, for someone who pinned the old one.
    bare = tmp_path / "bare.zip"
    write_bundle(bare, second)
    assert not vb.verify_bundle(bare, vb.read_key(pin)).ok


def test_keys_in_the_environment_are_refused_before_anything_changes(
    cli_env: dict[str, str], key_file: Path, session_factory: sessionmaker[Session]
) -> None:
    env = {k: v for k, v in cli_env.items() if k != "TESTIMONY_KEYS__FILE"}
    env["TESTIMONY_KEYS__MATERIAL"] = key_file.read_text()
    result = CliRunner().invoke(cli, ["keys", "rotate-signing"], env=env)
    assert result.exit_code == 2
    assert "TESTIMONY_KEYS__MATERIAL cannot be changed in place" in result.output
    assert _events(session_factory, "keys.rotate_signing") == []


def test_a_protected_key_file_stays_protected(cli_env: dict[str, str], key_file: Path) -> None:
    passphrase = "correct horse battery staple, rotated"
    write_private_file(key_file, kr.dumps(_ring(key_file), passphrase, kr.ScryptParams(n=2**10)))
    assert kr.is_protected(key_file.read_bytes())
    before = kr.loads(key_file.read_bytes(), passphrase)
    env = {**cli_env, "TESTIMONY_KEYS__PASSPHRASE": passphrase}
    result = CliRunner().invoke(cli, ["keys", "rotate-signing"], env=env)
    assert result.exit_code == 0, result.output
    assert kr.is_protected(key_file.read_bytes())
    after = kr.loads(key_file.read_bytes(), passphrase)
    assert after.signer.public_key != before.signer.public_key
    assert after.keks == before.keks
    assert after.roots == before.roots


def test_a_running_process_signs_with_the_new_key_once_the_file_changed(
    keys: Keys, key_file: Path, key_store: FileKeyStore
) -> None:
    old = keys.for_signing().signer.key_id
    result = keys_service.rotate_signing(SYSTEM, FileKeyStore(key_file, None, key_store.scrypt))
    assert result.old_key_id == old
    assert keys.for_signing().signer.key_id == result.new_key_id != old


def _lock(key_file: Path) -> int:
    fd = os.open(key_file.with_name(f".{key_file.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


ROTATIONS = 3


def test_rotations_at_once_leave_one_active_key_and_an_unbroken_chain(
    cli_env: dict[str, str], key_file: Path, session_factory: sessionmaker[Session]
) -> None:
    first = _ring(key_file).signer
    # A protected file at the production scrypt cost: each read and each write takes a noticeable time, so
    # rotations that did not wait for each other would read the same file and one would overwrite the other.
    passphrase = "three keepers, one key file"
    write_private_file(key_file, kr.dumps(_ring(key_file), passphrase))
    # Hold the key file's lock until every process is under way, then let them race.
    fd = _lock(key_file)
    env = {**os.environ, **cli_env, "TESTIMONY_KEYS__PASSPHRASE": passphrase}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "keys", "rotate-signing"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(ROTATIONS)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(_events(session_factory, "keys.rotate_signing")) < ROTATIONS and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        time.sleep(0.5)  # all are past their started event: at the lock, or (without one) rotating
    finally:
        os.close(fd)
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * ROTATIONS, outputs
    ring = kr.loads(key_file.read_bytes(), passphrase)
    assert len(ring.signing_keys) == ROTATIONS + 1
    assert [e.retired for e in ring.signing_keys] == [True] * ROTATIONS + [False]
    keys = [signing.Signer.from_seed(e.seed).public_key for e in ring.signing_keys]
    assert signing.follow_chain(first.public_key, ring.transitions()) == keys
    # Each process announced a key that is in the file: neither rotation was lost.
    announced = {
        line.split()[-1] for out, _ in outputs for line in out.splitlines() if line.startswith("new fingerprint:")
    }
    assert announced == {signing.fingerprint(k) for k in keys[1:]}
