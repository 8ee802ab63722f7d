"""The log in the database: append-only, verifiable, and tamper-evident."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from app.access.roles import Role
from app.audit import merkle, note
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.cli import cli
from app.core.db import make_engine, make_sessionmaker, unit_of_work
from app.crypto import keyring as kr
from app.crypto.signing import fingerprint
from app.keys.store import write_private_file
from tests.support.actors import actor
from tests.support.database import ProvisionedDatabase

ORIGIN = "testimony-vault.example/audit"


def cli_run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def _activity(app: FastAPI) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    for i in range(4):
        assert admin.post("/api/v1/cases", json={"code": f"KB-{i}", "title": f"Case {i}"}).status_code == 201
    assert admin.get("/api/v1/cases").status_code == 200


def _pin(key_file: Path) -> str:
    keyring = kr.loads(key_file.read_bytes(), None)
    return fingerprint(keyring.signer.public_key)


@pytest.fixture
def owner(database: ProvisionedDatabase) -> Iterator[Engine]:
    """The schema owner's connection, as an insider with database access would have."""
    engine = create_engine(database.owner_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def _drop_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for t in ("audit_events", "audit_checkpoints"):
                conn.execute(text(f"DROP TRIGGER {t}_no_update"))
                conn.execute(text(f"DROP TRIGGER {t}_no_delete"))
        else:
            for t in ("audit_events", "audit_checkpoints"):
                conn.execute(text(f"DROP TRIGGER {t}_no_change ON {t}"))


@pytest.fixture
def logged(app: FastAPI, cli_env: dict[str, str], tmp_path: Path, key_file: Path) -> Path:
    """Some activity, a checkpoint kept off the server, then more activity and a stored checkpoint."""
    _activity(app)
    external = tmp_path / "offsite-checkpoint.txt"
    r = cli_run(cli_env, "audit", "checkpoint", "--out", str(external))
    assert r.exit_code == 0, r.output
    assert cli_run(cli_env, "audit", "checkpoint").exit_code == 0
    ok = cli_run(cli_env, "audit", "verify", "--key", _pin(key_file), "--checkpoint", str(external))
    assert ok.exit_code == 0, ok.output
    assert "OK:" in ok.output
    return external


def _verify(env: dict[str, str], key: str, external: Path | None = None) -> Result:
    args = ["audit", "verify", "--key", key]
    if external is not None:
        args += ["--checkpoint", str(external)]
    return cli_run(env, *args)


def _rows(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def _set_entry(engine: Engine, seq: int, entry: bytes) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET entry = :e WHERE seq = :s"), {"e": entry, "s": seq})


def test_edit_one_byte_of_an_entry(logged: Path, cli_env: dict[str, str], owner: Engine, key_file: Path) -> None:
    engine = owner
    _drop_triggers(engine)
    row = _rows(engine)[3]
    _set_entry(engine, row.seq, row.entry.replace(b'"status":201', b'"status":200'))
    r = _verify(cli_env, _pin(key_file))
    assert r.exit_code == 1
    assert "do not hash to the signed root" in r.output


def test_edit_only_a_queryable_column(logged: Path, cli_env: dict[str, str], owner: Engine, key_file: Path) -> None:
    engine = owner
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'user:someone-else' WHERE seq = 2"))
    r = _verify(cli_env, _pin(key_file))
    assert r.exit_code == 1
    assert "event 2: columns differ from the stored bytes (actor)" in r.output


def test_delete_an_entry(logged: Path, cli_env: dict[str, str], owner: Engine, key_file: Path) -> None:
    engine = owner
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    r = _verify(cli_env, _pin(key_file))
    assert r.exit_code == 1
    assert "entries are missing, repeated or out of order" in r.output


def test_swap_two_entries(logged: Path, cli_env: dict[str, str], owner: Engine, key_file: Path) -> None:
    engine = owner
    _drop_triggers(engine)
    rows = _rows(engine)
    _set_entry(engine, 5, rows[6].entry)
    _set_entry(engine, 6, rows[5].entry)
    r = _verify(cli_env, _pin(key_file))
    assert r.exit_code == 1
    assert "do not hash to the signed root" in r.output


def test_truncate_the_tail(logged: Path, cli_env: dict[str, str], owner: Engine, key_file: Path) -> None:
    engine = owner
    _drop_triggers(engine)
    n = len(_rows(engine))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= :k"), {"k": n - 3})
    r = _verify(cli_env, _pin(key_file))
    assert r.exit_code == 1
    assert "entries were removed" in r.output


def _rewrite(engine: Engine, signer_seed: bytes | None, key_file: Path) -> None:
    """An insider with database access rewrites history: drops event 1, renumbers, re-signs."""
    keyring = kr.loads(key_file.read_bytes(), None)
    signer = (
        keyring.signer
        if signer_seed is None
        else kr.Keyring(
            keks=keyring.keks,
            kek_primary=keyring.kek_primary,
            roots=keyring.roots,
            root_primary=keyring.root_primary,
            signing_keys=(kr._signing_entry(signer_seed),),
        ).signer
    )
    rows = _rows(engine)
    kept = [r for r in rows if r.seq != 1]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints"))
        conn.execute(text("DELETE FROM audit_events"))
    maker = make_sessionmaker(engine)
    with unit_of_work(maker) as s:
        for i, old in enumerate(kept):
            fields = json.loads(old.entry)
            fields["seq"] = i
            ev = AuditEvent(
                seq=i,
                at=old.at,
                actor=old.actor,
                actor_roles=old.actor_roles,
                action=old.action,
                resource_type=old.resource_type,
                resource_id=old.resource_id,
                case_id=old.case_id,
                purpose=old.purpose,
                outcome=old.outcome,
                status=old.status,
                request_id=old.request_id,
                client=old.client,
                credential=old.credential,
                claimed_credential=old.claimed_credential,
                new_credential=old.new_credential,
            )
            ev.entry = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
            s.add(ev)
        s.flush()
        assert audit.make_checkpoint(s, signer, ORIGIN) is not None


def test_rewrite_resigned_with_the_same_key_is_caught_by_the_offsite_checkpoint(
    logged: Path, cli_env: dict[str, str], owner: Engine, key_file: Path
) -> None:
    engine = owner
    _drop_triggers(engine)
    _rewrite(engine, None, key_file)
    assert _verify(cli_env, _pin(key_file)).exit_code == 0  # consistent with itself...
    r = _verify(cli_env, _pin(key_file), logged)
    assert r.exit_code == 1  # ...but not with what was kept off the server
    assert "external offsite-checkpoint.txt" in r.output


def test_rewrite_with_a_new_key_is_caught_by_the_pinned_key(
    logged: Path, cli_env: dict[str, str], owner: Engine, key_file: Path
) -> None:
    engine = owner
    _drop_triggers(engine)
    pinned = note.vkey(ORIGIN, kr.loads(key_file.read_bytes(), None).signer.public_key)
    _rewrite(engine, bytes(range(1, 33)), key_file)
    r = _verify(cli_env, pinned)
    assert r.exit_code == 1
    assert "rejected" in r.output
    # And when the key file is swapped too, the pinned fingerprint is simply not there.
    old_pin = _pin(key_file)
    forged = kr.generate()
    write_private_file(key_file, kr.dumps(forged, None))
    swapped = _verify(cli_env, old_pin)
    assert swapped.exit_code != 0
    assert "not signed by the pinned key" in swapped.output


def test_triggers_refuse_update_and_delete(app: FastAPI, database: ProvisionedDatabase) -> None:
    _activity(app)
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.make_checkpoint(s, app.state.keys.current.signer, ORIGIN) is not None
    for url in {database.url, database.owner_url}:
        engine = create_engine(url, poolclass=NullPool)
        for sql in (
            "UPDATE audit_events SET actor = 'x' WHERE seq = 0",
            "DELETE FROM audit_events WHERE seq = 0",
            "DELETE FROM audit_checkpoints",
        ):
            with pytest.raises(DBAPIError), engine.begin() as conn:
                conn.execute(text(sql))
        engine.dispose()


def test_app_role_cannot_truncate_or_change_the_log_even_without_triggers(
    app: FastAPI, database: ProvisionedDatabase, owner: Engine
) -> None:
    if not database.is_postgres or not database.app_role:
        pytest.skip("grants exist on PostgreSQL with a separate application role")
    _activity(app)
    _drop_triggers(owner)
    engine = create_engine(database.url, poolclass=NullPool)
    for sql in (
        "UPDATE audit_events SET actor = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "TRUNCATE audit_checkpoints",
        "DROP TABLE audit_events",
    ):
        with pytest.raises(DBAPIError, match=r"permission denied|must be owner"), engine.begin() as conn:
            conn.execute(text(sql))
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() > 0
    engine.dispose()


def test_truncate_is_refused_by_trigger_on_postgres(app: FastAPI, database: ProvisionedDatabase, owner: Engine) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite has no TRUNCATE")
    _activity(app)
    with pytest.raises(DBAPIError, match="append-only"), owner.begin() as conn:
        conn.execute(text("TRUNCATE audit_events"))


def test_commit_order_equals_sequence_order(app: FastAPI, database: ProvisionedDatabase) -> None:
    """A transaction that began first but commits last still lands in the log, after the other."""
    if not database.is_postgres:
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so the interleaving cannot happen")
    engine = make_engine(database.url)
    maker = make_sessionmaker(engine)
    early_started = threading.Event()
    late_committed = threading.Event()
    errors: list[BaseException] = []

    def early() -> None:
        try:
            with unit_of_work(maker) as s:
                s.execute(text("SELECT 1"))
                early_started.set()
                late_committed.wait(10)
                audit.append(
                    s, audit.Trail(action=audit.AuditAction.ME_READ, actor="system:early"), audit.Outcome.ALLOWED
                )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=early)
    thread.start()
    early_started.wait(10)
    with unit_of_work(maker) as s:
        audit.append(s, audit.Trail(action=audit.AuditAction.ME_READ, actor="system:late"), audit.Outcome.ALLOWED)
    late_committed.set()
    thread.join(20)
    assert not errors
    with unit_of_work(maker) as s:
        actors = list(s.scalars(select(AuditEvent.actor).order_by(AuditEvent.seq)))
        assert actors[-2:] == ["system:late", "system:early"]
        assert audit.make_checkpoint(s, kr.generate().signer, ORIGIN) is not None
    engine.dispose()


def test_export_and_the_standalone_verifier(
    logged: Path, cli_env: dict[str, str], tmp_path: Path, key_file: Path
) -> None:
    dump = tmp_path / "events.jsonl"
    assert cli_run(cli_env, "audit", "export", "--out", str(dump)).exit_code == 0
    public = kr.loads(key_file.read_bytes(), None).signer.public_key
    vkey = note.vkey(ORIGIN, public)
    proc = subprocess.run(
        [sys.executable, "-m", "app.audit.verify", "--events", str(dump), "--checkpoint", str(logged), "--key", vkey],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dump.read_bytes().splitlines()
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"\n".join([lines[0], *lines[2:]]) + b"\n")
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.audit.verify",
            "--events",
            str(tampered),
            "--checkpoint",
            str(logged),
            "--key",
            vkey,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1


def test_auditor_api_pages_filters_and_proves(app: FastAPI) -> None:
    _activity(app)
    auditor = actor(app, "aud", [Role.AUDITOR])
    page = auditor.get("/api/v1/audit/events?action=case.create&limit=3").json()
    assert [e["action"] for e in page["events"]] == ["case.create"] * 3
    rest = auditor.get(f"/api/v1/audit/events?action=case.create&after={page['next_cursor']}").json()
    assert len(rest["events"]) == 1
    assert rest["next_cursor"] is None
    assert all(e["outcome"] == "allowed" for e in page["events"] + rest["events"])
    reads = auditor.get("/api/v1/audit/events?action=audit.read").json()["events"]
    assert len(reads) == 2  # reading the log is itself recorded

    with unit_of_work(app.state.sessionmaker) as s:
        cp = audit.make_checkpoint(s, app.state.keys.current.signer, ORIGIN)
        assert cp is not None
        size = cp.size
    latest = auditor.get("/api/v1/audit/checkpoints/latest").json()
    assert latest["size"] == size
    public = app.state.keys.current.signer.public_key
    assert note.verify_checkpoint(latest["note"], ORIGIN, public).size == size
    keys = auditor.get("/api/v1/audit/public-key").json()["items"]
    assert keys[0]["fingerprint"] == fingerprint(public)
    assert note.parse_vkey(keys[0]["vkey"]) == (ORIGIN, public)

    events = auditor.get("/api/v1/audit/events?limit=500").json()["events"]
    proof = auditor.get(f"/api/v1/audit/proofs/inclusion?index=3&tree_size={size}").json()
    leaf = merkle.leaf_hash(base64.b64decode(events[3]["entry"]))
    assert base64.b64decode(proof["leaf_hash"]) == leaf
    root = base64.b64decode(latest["root_hash"])
    assert merkle.verify_inclusion(leaf, 3, size, [base64.b64decode(p) for p in proof["proof"]], root)
    cons = auditor.get(f"/api/v1/audit/proofs/consistency?first=2&second={size}").json()
    first_root = merkle.root([merkle.leaf_hash(base64.b64decode(e["entry"])) for e in events[:2]])
    assert merkle.verify_consistency(2, size, first_root, root, [base64.b64decode(p) for p in cons["proof"]])
    assert auditor.get(f"/api/v1/audit/proofs/inclusion?index=0&tree_size={10**9}").status_code == 422
    assert auditor.get("/api/v1/audit/checkpoints?size=1").status_code == 404


def test_events_hold_no_content(app: FastAPI, owner: Engine) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    canary = "Գրիգորյան-canary-5kq"
    assert admin.post("/api/v1/cases", json={"code": "KB-77", "title": canary}).status_code == 201
    admin.post("/api/v1/users", json={"username": "canary-user", "display_name": canary, "roles": []})
    with Session(owner) as s:
        blobs = list(s.scalars(select(AuditEvent.entry)))
        columns = [repr(tuple(r)) for r in s.execute(select(AuditEvent.__table__)).all()]
    assert blobs
    assert not any(b"5kq" in b for b in blobs)
    assert not any("5kq" in c for c in columns)
    with Session(owner) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == len(blobs)


def test_an_action_fails_when_its_audit_row_cannot_be_written(
    app: FastAPI, owner: Engine, database: ProvisionedDatabase
) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    with owner.begin() as conn:
        if owner.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events "
                    "WHEN NEW.action = 'case.create' BEGIN SELECT RAISE(ABORT, 'audit store down'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.action = 'case.create' THEN RAISE EXCEPTION 'audit store down'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_down()"
                )
            )
    r = admin.post("/api/v1/cases", json={"code": "KB-LOST", "title": "never stored"})
    assert r.status_code == 500
    assert "audit store down" not in r.text
    assert admin.get("/api/v1/cases").json()["items"] == []  # the action was rolled back with its audit row


def test_the_checkpointer_signs_as_events_accumulate(app: FastAPI, cli_env: dict[str, str]) -> None:
    _activity(app)
    r = cli_run(cli_env, "audit", "checkpointer", "--every-events", "1", "--every-seconds", "0.1", "--max-runs", "1")
    assert r.exit_code == 0, r.output
    with unit_of_work(app.state.sessionmaker) as s:
        latest = audit.latest_checkpoint(s)
        assert latest is not None
        assert latest.size == audit.size(s)


def test_concurrent_requests_leave_a_gapless_verifiable_log(
    app: FastAPI, cli_env: dict[str, str], key_file: Path
) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    errors: list[str] = []

    def work(worker: int) -> None:
        for i in range(8):
            r = admin.post("/api/v1/cases", json={"code": f"KC-{worker}-{i}", "title": "concurrent"})
            if r.status_code != 201:
                errors.append(r.text)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with unit_of_work(app.state.sessionmaker) as s:
        seqs = list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        created = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.create"))
    assert seqs == list(range(len(seqs)))
    assert created == 32
    assert cli_run(cli_env, "audit", "checkpoint").exit_code == 0
    assert _verify(cli_env, _pin(key_file)).exit_code == 0
