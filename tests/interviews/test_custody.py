"""Custody commitments: a minimal entry in the one log, appended with the action it vouches for, and a proof
file from `testimony custody proof` that the standalone verifier accepts and that breaks when anything
in it is changed."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from app.access.roles import Role
from app.audit import merkle, note
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.audit.vocabulary import AuditAction, purpose_of
from app.cli import cli
from app.core.db import db_now, integrity_conflict, make_engine, make_sessionmaker, new_id, unit_of_work
from app.crypto import keyring as kr
from app.interviews import custody
from app.interviews.custody import CustodyRecord, Kind
from app.interviews.models import CustodyCommitment
from tests.support.actors import actor, runtime
from tests.support.database import ProvisionedDatabase
from tests.support.people import add_case, add_person

ORIGIN = "testimony-vault.example/audit"
REPO = Path(__file__).resolve().parents[2]
PHOTO = b"\xff\xd8\xff\xe0 a photograph of a burned house, Armenian caption: \xd5\x8f\xd5\xb8\xd6\x82\xd5\xb6"
STATEMENT = rfc8785.dumps({"answers": [{"q": "where", "state": "declined"}], "text": "Ես տեսա ամեն ինչ"})


@dataclass(frozen=True)
class Someone:
    person_id: uuid.UUID
    case_id: uuid.UUID


@pytest.fixture
def someone(app: FastAPI) -> Someone:
    """A real person with a sealed identity, and so a data key."""
    with unit_of_work(app.state.sessionmaker) as s:
        case_id = add_case(s, "KC-1")
        return Someone(add_person(s, runtime(app).keys, case_id, "Անի Գրիգորյան"), case_id)


def _commit(
    s: Session,
    app: FastAPI,
    who: Someone,
    item: bytes = PHOTO,
    kind: Kind = Kind.ATTACHMENT_ORIGINAL,
    record_id: uuid.UUID | None = None,
) -> CustodyRecord:
    return custody.commit(
        s,
        runtime(app),
        person_id=who.person_id,
        case_id=who.case_id,
        kind=kind,
        record_id=record_id or new_id(),
        digest=hashlib.sha256(item).digest(),
    )


def _store(
    app: FastAPI,
    who: Someone,
    item: bytes = PHOTO,
    kind: Kind = Kind.ATTACHMENT_ORIGINAL,
    record_id: uuid.UUID | None = None,
) -> CustodyRecord:
    """What storing an item does: its commitment, then the request's own event, in one unit of work."""
    trail = audit.Trail(action=AuditAction.ATTACHMENT_UPLOAD, actor="user:documenter", resource_type="attachment")
    with unit_of_work(app.state.sessionmaker) as s:
        record = _commit(s, app, who, item, kind, record_id)
        audit.append(s, trail, audit.Outcome.ALLOWED)
    return record


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def _vkey(key_file: Path) -> str:
    return note.vkey(ORIGIN, kr.loads(key_file.read_bytes(), None).signer.public_key)


def _verify(proof: Path, item: Path, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.audit.verify", "custody", str(proof), str(item), "--key", key],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def _row(app: FastAPI, seq: int) -> AuditEvent:
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.get(AuditEvent, seq)
        assert row is not None
        s.expunge(row)
        return row


def test_a_commitment_is_a_minimal_entry_of_its_own_before_the_event_of_its_action(
    app: FastAPI, someone: Someone
) -> None:
    record = _store(app, someone)
    entry = _row(app, record.seq)
    stored = json.loads(entry.entry)
    assert set(stored) == {"v", "seq", "at", "action", "commitment"}
    assert stored == {
        "v": 4,
        "seq": record.seq,
        "at": stored["at"],
        "action": "custody.commit",
        "commitment": record.commitment.hex(),
    }
    # No column names who, which session, case, record, request or client either.
    assert (entry.actor, entry.actor_roles, entry.resource_type, entry.resource_id, entry.case_id) == (
        "",
        "",
        *[None] * 3,
    )
    assert (entry.request_id, entry.client, entry.credential, entry.status) == (None, None, None, None)
    assert (entry.purpose, entry.outcome) == (purpose_of(AuditAction.CUSTODY_COMMIT).value, "allowed")
    # The action's own event comes next, in the same transaction.
    assert _row(app, record.seq + 1).action == "attachment.upload"
    with unit_of_work(app.state.sessionmaker) as s:
        row = s.scalars(select(CustodyCommitment).where(CustodyCommitment.record_id == record.record_id)).one()
        assert (row.kind, row.audit_seq, row.person_id, row.case_id) == (
            "attachment_original",
            record.seq,
            someone.person_id,
            someone.case_id,
        )
        assert row.created_at == entry.at
        assert audit.column_problems(s) == []


def test_neither_the_digest_nor_the_salt_is_stored_in_clear(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], tmp_path: Path
) -> None:
    record = _store(app, someone)
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    proof = tmp_path / "proof.json"
    assert _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof)).exit_code == 0
    doc = json.loads(proof.read_text())
    digest, salt = bytes.fromhex(doc["digest"]), bytes.fromhex(doc["salt"])
    assert digest == hashlib.sha256(PHOTO).digest()
    with unit_of_work(app.state.sessionmaker) as s:
        rows = [
            repr(tuple(r))
            for table in (CustodyCommitment.__table__, AuditEvent.__table__)
            for r in s.execute(select(table)).all()
        ]
    for secret in (digest, salt):
        assert not any(secret.hex() in r or repr(secret)[2:-1] in r for r in rows)


def test_a_proof_from_the_command_line_verifies_with_the_standalone_verifier(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    record = _store(app, someone)
    _store(app, someone, b"another photo")  # a later entry the checkpoint also covers
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    proof = tmp_path / "proof.json"
    made = _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof))
    assert made.exit_code == 0, made.output
    assert f"wrote the custody proof of log entry {record.seq} (an attachment original), in the signed " in made.output
    doc = json.loads(proof.read_text())
    # The file names no record, person or case: only what the check needs.
    assert set(doc) == {
        "format", "kind", "digest", "salt", "entry", "leaf_index", "tree_size", "inclusion_proof", "checkpoint"
    }  # fmt: skip
    assert str(record.record_id) not in proof.read_text()
    assert str(someone.case_id) not in proof.read_text()
    assert base64.b64decode(doc["entry"]) == _row(app, record.seq).entry

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(PHOTO)
    good = _verify(proof, photo, _vkey(key_file))
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"OK: the item is the attachment original committed in entry {record.seq}" in good.stdout

    photo.write_bytes(PHOTO[:-1] + bytes([PHOTO[-1] ^ 1]))
    bad = _verify(proof, photo, _vkey(key_file))
    assert bad.returncode == 1
    assert "this is not the item that was committed" in bad.stdout

    photo.write_bytes(PHOTO)
    foreign = note.vkey(ORIGIN, kr.generate().signer.public_key)
    refused = _verify(proof, photo, foreign)
    assert refused.returncode == 1
    assert "PROBLEM: checkpoint rejected: note is not signed by key" in refused.stdout


def test_a_statement_version_is_checked_from_a_file_of_its_canonical_bytes(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    record = _store(app, someone, STATEMENT, Kind.STATEMENT_VERSION)
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    proof = tmp_path / "proof.json"
    assert _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof)).exit_code == 0
    statement = tmp_path / "statement.json"
    statement.write_bytes(STATEMENT)
    good = _verify(proof, statement, _vkey(key_file))
    assert good.returncode == 0, good.stdout
    assert "kind: statement version" in good.stdout
    statement.write_bytes(STATEMENT.replace("Ես".encode(), "Նա".encode()))
    assert _verify(proof, statement, _vkey(key_file)).returncode == 1


def test_until_a_checkpoint_includes_the_entry_the_proof_says_so_and_is_recorded_as_failed(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0  # an older checkpoint does not count
    record = _store(app, someone)
    proof = tmp_path / "proof.json"
    early = _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof))
    assert early.exit_code == 1
    assert f"no signed checkpoint includes log entry {record.seq} yet" in early.output
    assert "testimony audit checkpoint" in early.output
    assert not proof.exists()
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    assert _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof)).exit_code == 0
    with unit_of_work(app.state.sessionmaker) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "custody.proof").order_by(AuditEvent.seq))
        shown = [(e.outcome, e.actor, e.resource_type, e.resource_id, e.case_id) for e in events]
    assert shown == [
        ("failed", "system:cli", "custody", str(record.record_id), None),
        ("allowed", "system:cli", "custody", str(record.record_id), someone.case_id),
    ]


def test_the_earliest_checkpoint_that_includes_the_entry_is_used(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], tmp_path: Path
) -> None:
    record = _store(app, someone)
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    _store(app, someone, b"later")
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    proof = tmp_path / "proof.json"
    assert _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof)).exit_code == 0
    with unit_of_work(app.state.sessionmaker) as s:
        first = min(c.size for c in audit.all_checkpoints(s))
    assert json.loads(proof.read_text())["tree_size"] == first


def test_an_unwritable_proof_file_is_a_clear_error(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], tmp_path: Path
) -> None:
    record = _store(app, someone)
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    nowhere = tmp_path / "no-such-folder" / "proof.json"
    r = _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(nowhere))
    assert r.exit_code == 2
    assert "could not write" in r.output
    assert "No such file or directory" in r.output


def test_an_existing_proof_file_is_replaced_only_with_force(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], tmp_path: Path
) -> None:
    record = _store(app, someone)
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    proof = tmp_path / "proof.json"
    proof.write_text("an earlier proof, kept")
    refused = _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof))
    assert refused.exit_code == 2
    assert f"{proof} exists; choose another file, or give --force to replace it" in refused.output
    assert proof.read_text() == "an earlier proof, kept"
    replaced = _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof), "--force")
    assert replaced.exit_code == 0, replaced.output
    assert "inclusion_proof" in json.loads(proof.read_text())
    assert proof.stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.glob(".proof.json.*")) == []  # the temp file was renamed, none left
    fresh = tmp_path / "fresh.json"
    assert _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(fresh)).exit_code == 0
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert fresh.read_bytes() == proof.read_bytes()


def test_an_unknown_record_or_a_malformed_id(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = str(tmp_path / "proof.json")
    missing = _run(cli_env, "custody", "proof", str(new_id()), "--out", out)
    assert missing.exit_code == 2
    assert "no custody commitment for that record" in missing.output
    malformed = _run(cli_env, "custody", "proof", "../etc/passwd", "--out", out)
    assert malformed.exit_code == 2
    assert "RECORD_ID is not an id" in malformed.output
    assert "passwd" not in malformed.output


def test_a_record_is_committed_once(app: FastAPI, someone: Someone) -> None:
    record = _store(app, someone)
    with pytest.raises(IntegrityError) as caught:
        _store(app, someone, b"a replacement", record_id=record.record_id)
    conflict = integrity_conflict(caught.value)
    assert conflict is not None
    assert conflict.fields == ["record_id"]


def test_a_rolled_back_action_leaves_no_commitment(app: FastAPI, someone: Someone) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        before = audit.size(s)

    class Stop(Exception):
        pass

    def store_then_fail() -> None:
        with unit_of_work(app.state.sessionmaker) as s:
            _commit(s, app, someone)
            raise Stop

    with pytest.raises(Stop):
        store_then_fail()
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.size(s) == before
        assert s.scalar(select(func.count()).select_from(CustodyCommitment)) == 0


def test_a_commitment_needs_the_persons_own_case_and_a_sha256(app: FastAPI, someone: Someone) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        other_case = add_case(s, "KC-2")
    arguments: dict[str, Any] = {"kind": Kind.ATTACHMENT_ORIGINAL, "record_id": new_id()}
    with pytest.raises(ValueError, match="not in that case"), unit_of_work(app.state.sessionmaker) as s:
        custody.commit(s, runtime(app), person_id=someone.person_id, case_id=other_case, digest=bytes(32), **arguments)
    with pytest.raises(ValueError, match="SHA-256"), unit_of_work(app.state.sessionmaker) as s:
        custody.commit(
            s, runtime(app), person_id=someone.person_id, case_id=someone.case_id, digest=b"short", **arguments
        )


def test_no_event_can_pass_for_a_commitment(app: FastAPI) -> None:
    trail = audit.Trail(action=AuditAction.CUSTODY_COMMIT, actor="user:someone", case_id=new_id())
    with pytest.raises(ValueError, match="entry of its own"), unit_of_work(app.state.sessionmaker) as s:
        audit.append(s, trail, audit.Outcome.ALLOWED)


def _old_event(seq: int, version: int, at: Any) -> AuditEvent:
    """An event as versions 1 to 3 wrote it."""
    event = AuditEvent(
        seq=seq,
        at=at,
        actor="user:01a21348-576f-788a-837a-efa64ffc9914",
        actor_roles="documenter",
        action="person.read",
        resource_type="person",
        resource_id=str(new_id()),
        case_id=new_id(),
        purpose="documentation",
        outcome="allowed",
        status=200,
        request_id="r",
        client="c" * 64,
        credential="session:x" if version >= 2 else None,
    )
    event.entry = rfc8785.dumps({"v": version, **audit.entry_fields(event, version)})
    return event


def test_every_entry_version_verifies_in_the_app_the_api_and_the_standalone_verifier(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        for version in (1, 2, 3):
            s.add(_old_event(audit.size(s), version, db_now(s)))
            s.flush()
    record = _store(app, someone)
    _store(app, someone, STATEMENT, Kind.STATEMENT_VERSION)
    kept = tmp_path / "checkpoint.txt"
    assert _run(cli_env, "audit", "checkpoint", "--out", str(kept)).exit_code == 0
    with unit_of_work(app.state.sessionmaker) as s:
        versions = [json.loads(e)["v"] for e in audit.iter_entries(s)]
        assert audit.column_problems(s) == []
    assert {1, 2, 3, 4} <= set(versions)

    in_app = _run(cli_env, "audit", "verify", "--key", _vkey(key_file), "--checkpoint", str(kept))
    assert in_app.exit_code == 0, in_app.output

    dump, key = tmp_path / "events.jsonl", _vkey(key_file)
    assert _run(cli_env, "audit", "export", "--out", str(dump)).exit_code == 0
    offline = subprocess.run(
        [sys.executable, "-m", "app.audit.verify", "--events", str(dump), "--checkpoint", str(kept), "--key", key],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stdout

    # The auditor's API shows the entry and proves it into the signed tree.
    auditor = actor(app, "aud", [Role.AUDITOR])
    shown = auditor.get(f"/api/v1/audit/events?action=custody.commit&after={record.seq - 1}&limit=1").json()
    event = shown["events"][0]
    assert (event["seq"], event["actor"], event["actor_roles"], event["case_id"]) == (record.seq, "", [], None)
    checkpoint = note.parse_note(kept.read_text())[0]
    path = auditor.get(f"/api/v1/audit/proofs/inclusion?index={record.seq}&tree_size={checkpoint.size}").json()
    leaf = merkle.leaf_hash(base64.b64decode(event["entry"]))
    proof = [base64.b64decode(p) for p in path["proof"]]
    assert merkle.verify_inclusion(leaf, record.seq, checkpoint.size, proof, checkpoint.root_hash)


def _insert_entry(app: FastAPI, **columns: Any) -> int:
    """A custody entry inserted whole (as the application role may), with the columns given."""
    with unit_of_work(app.state.sessionmaker) as s:
        seq = audit.size(s)
        event = AuditEvent(seq=seq, at=db_now(s), action="custody.commit")
        for name, value in {**audit.CUSTODY_COLUMNS, **columns}.items():
            setattr(event, name, value)
        stored = {"v": 4, "seq": seq, "at": audit.entry_fields(event)["at"], "action": "custody.commit"}
        event.entry = rfc8785.dumps({**stored, "commitment": "ab" * 32})
        s.add(event)
    return seq


@pytest.mark.parametrize(
    ("columns", "named"),
    [
        ({"actor": "user:someone"}, "actor"),
        ({"case_id": uuid.UUID(int=7)}, "case_id"),
        ({"request_id": "r-1"}, "request_id"),
        ({"outcome": "denied"}, "outcome"),
    ],
)
def test_a_commitment_row_whose_columns_name_more_than_its_entry_is_flagged(
    app: FastAPI, columns: dict[str, Any], named: str
) -> None:
    seq = _insert_entry(app, **columns)
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.column_problems(s) == [f"event {seq}: columns differ from the stored bytes ({named})"]


def test_a_commitment_entry_holding_more_than_the_commitment_is_flagged(app: FastAPI) -> None:
    with unit_of_work(app.state.sessionmaker) as s:
        seq = audit.size(s)
        event = AuditEvent(seq=seq, at=db_now(s), action="custody.commit")
        for name, value in audit.CUSTODY_COLUMNS.items():
            setattr(event, name, value)
        at = audit.entry_fields(event)["at"]
        event.entry = rfc8785.dumps(
            {"v": 4, "seq": seq, "at": at, "action": "custody.commit", "commitment": "zz", "actor": "user:x"}
        )
        s.add(event)
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.column_problems(s) == [f"event {seq}: columns differ from the stored bytes (actor, commitment)"]


def test_a_commitment_moved_to_another_entry_fails_to_open(
    app: FastAPI, someone: Someone, cli_env: dict[str, str], database: ProvisionedDatabase, tmp_path: Path
) -> None:
    record = _store(app, someone)
    assert _run(cli_env, "audit", "checkpoint").exit_code == 0
    # Someone with write access points the record at another entry (the rows are append-only for the
    # application's role; the schema owner can still write them).
    moved_to = record.seq + 1
    database.as_owner(
        "UPDATE custody_commitments SET audit_seq = :s WHERE record_id = :r", s=moved_to, r=record.record_id
    )
    proof = tmp_path / "proof.json"
    moved = _run(cli_env, "custody", "proof", str(record.record_id), "--out", str(proof))
    assert moved.exit_code == 2
    assert "failed their integrity check" in moved.output
    assert not proof.exists()


def test_the_commitment_holds_the_logs_lock_until_its_transaction_ends(
    app: FastAPI, someone: Someone, database: ProvisionedDatabase
) -> None:
    """Another writer waits until the transaction that made a commitment ends, so sequence order stays commit order."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so the interleaving cannot happen")
    engine = make_engine(database.url)
    maker = make_sessionmaker(engine)
    holding = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def storing() -> None:
        try:
            with unit_of_work(maker) as s:
                _commit(s, app, someone)
                holding.set()
                release.wait(10)
                audit.append(
                    s, audit.Trail(action=AuditAction.ATTACHMENT_UPLOAD, actor="system:early"), audit.Outcome.ALLOWED
                )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=storing)
    thread.start()
    assert holding.wait(10)

    def other() -> None:
        with unit_of_work(maker) as s:
            audit.append(s, audit.Trail(action=AuditAction.ME_READ, actor="system:late"), audit.Outcome.ALLOWED)

    late = threading.Thread(target=other)
    late.start()
    late.join(1.0)
    assert late.is_alive()  # waiting for the log's lock, which the commitment holds
    release.set()
    thread.join(20)
    late.join(20)
    assert not errors
    with unit_of_work(maker) as s:
        tail = [(e.action, e.actor) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(3))]
        assert tail[::-1] == [("custody.commit", ""), ("attachment.upload", "system:early"), ("me.read", "system:late")]
        assert audit.column_problems(s) == []
    engine.dispose()
