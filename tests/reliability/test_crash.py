"""Crash safety: the real service, in its own process, is killed with SIGKILL at a moment a seeded RNG picks while
eight clients create people, participation consent, interviews, drafts, statements and attachments; five rounds,
each restarting it on the same database, data directory and keys. After every restart, every request that was
answered 2xx reads back through the API as it was sent (so it decrypts), there is no blob without its row and no
row without its blob, no sealed row without its data key, no temp file, and `testimony audit verify` passes.

A request the kill cut off has no answer: it may or may not have happened, but it must not leave half of itself.
On SQLite by default; on PostgreSQL when TESTIMONY_TEST_DATABASE_URL is set (tests/support/database.py)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Table, create_engine, select
from sqlalchemy.pool import NullPool

from app.access.roles import Role
from app.core.config import Settings
from app.core.db import Base
from app.crypto import keyring as kr
from app.crypto.signing import fingerprint
from app.keys.models import DataKey
from app.people.models import ErasedPerson
from tests.reliability.server import BIN, Server, browser, environment
from tests.support.actors import actor
from tests.support.attachments import CATEGORY, RECORDING_CONSENT, sample
from tests.support.consent import participation
from tests.support.database import ProvisionedDatabase
from tests.support.interviews import checklist, planned

pytestmark = pytest.mark.slow

CLIENTS = 8
ROUNDS = 5
SEED = 17
KILL_AFTER = (16, 160)
"""The kill comes after this many acknowledged requests in the round (drawn from the seeded RNG, so the rounds do
not depend on the machine's speed), plus up to KILL_JITTER seconds, so that it lands in the middle of requests."""
KILL_JITTER = 0.3
BUSY_RETRIES = 5
ANSWERS = [
    {"question": "background", "state": "answered", "text": "A teacher from Hadrut."},
    {"question": "harm", "state": "declined"},
]


PHOTO = {
    "attachment-kind": "photo",
    "attachment-category": CATEGORY["photo"],
    "content-type": "application/octet-stream",
}


@dataclass
class Ledger:
    """What the server acknowledged with a 2xx, to be found again after every restart, and what else it said."""

    people: dict[str, str | None] = field(default_factory=dict)  # person id -> full name once its PATCH got 200
    consents: dict[str, tuple[str, str]] = field(default_factory=dict)  # consent id -> (person id, place)
    # interview id -> (place, states it may be in): the acknowledged state, and the one a change the kill cut off
    # asked for (that change may have been committed before the answer was lost)
    interviews: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    drafts: dict[str, tuple[int, str]] = field(default_factory=dict)  # interview id -> (revision, text)
    statements: dict[str, str] = field(default_factory=dict)  # statement id -> text
    attachments: dict[str, str] = field(default_factory=dict)  # attachment id -> sha256 of what was sent
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # (step, status, code): answers not 2xx
    cut_off: int = 0  # requests the kill left without an answer
    acknowledged: int = 0
    busy: int = 0  # 503 answers with Retry-After (nothing saved), each sent again
    lock: threading.Lock = field(default_factory=threading.Lock)


class Stop(Exception):
    """The server went away (or said no): this client's chain of work ends here."""

    def __init__(self, *, cut_off: bool) -> None:
        super().__init__()
        self.cut_off = cut_off


def _send(ledger: Ledger, step: str, call: Callable[[], httpx.Response], expect: int) -> dict[str, Any]:
    for _ in range(BUSY_RETRIES):
        try:
            r = call()
        except httpx.TransportError:
            with ledger.lock:
                ledger.cut_off += 1
            raise Stop(cut_off=True) from None
        if r.status_code != 503 or "retry-after" not in r.headers:
            break
        # Busy (SQLite's write lock waited on past its timeout): nothing was saved, and a client sends it again.
        with ledger.lock:
            ledger.busy += 1
        time.sleep(float(r.headers["retry-after"]))
    if r.status_code != expect:
        code = r.json().get("code", "") if r.headers.get("content-type", "").endswith("json") else ""
        with ledger.lock:
            ledger.refused.append((step, r.status_code, str(code)))
        raise Stop(cut_off=False)
    with ledger.lock:
        ledger.acknowledged += 1
    body: dict[str, Any] = r.json()
    return body


@dataclass(frozen=True)
class Work:
    case_id: str
    consent: dict[str, Any]
    """A complete participation record on the shipped form (tests/support/consent.participation)."""


def _chain(c: httpx.Client, work: Work, ledger: Ledger, tag: str, rng: random.Random) -> None:
    """One person's journey, each step recorded as soon as it is acknowledged."""
    person = _send(ledger, "person", lambda: c.post(f"/api/v1/cases/{work.case_id}/people"), 201)["id"]
    with ledger.lock:
        ledger.people[person] = None
    place = f"Goris, room {tag}"
    consent = {**work.consent, "place": place, "decisions": dict(RECORDING_CONSENT)}
    made = _send(ledger, "consent", lambda: c.post(f"/api/v1/people/{person}/participation", json=consent), 201)
    with ledger.lock:
        ledger.consents[made["id"]] = (person, place)
    name = f"Crash Survivor {tag}"
    identity = {"identity": {"full_name": name, "date_of_birth": "1970-05-01", "languages": ["hy"]}}
    _send(ledger, "identity", lambda: c.patch(f"/api/v1/people/{person}", json=identity), 200)
    with ledger.lock:
        ledger.people[person] = name
    where = f"Goris, community centre, {tag}"
    body = planned(checklist=checklist(), place=where)
    interview = _send(ledger, "interview", lambda: c.post(f"/api/v1/people/{person}/interviews", json=body), 201)
    iid = interview["id"]
    with ledger.lock:
        ledger.interviews[iid] = (where, frozenset({interview["state"]}))
    change = {"revision": interview["revision"], "state": "in_progress"}
    try:
        started = _send(ledger, "start", lambda: c.patch(f"/api/v1/interviews/{iid}", json=change), 200)
    except Stop as stop:
        if stop.cut_off:
            # No answer: the change may or may not have been committed before the kill; both are sound.
            with ledger.lock:
                ledger.interviews[iid] = (where, frozenset({interview["state"], change["state"]}))
        raise
    with ledger.lock:
        ledger.interviews[iid] = (where, frozenset({started["state"]}))
    text = f"We left at night, on foot, {tag}. " * 40
    draft = {"text": text, "answers": ANSWERS}
    saved = _send(ledger, "draft", lambda: c.put(f"/api/v1/interviews/{iid}/draft", json=draft), 200)
    with ledger.lock:
        ledger.drafts[iid] = (saved["revision"], text)
    confirm = {
        "version": 1,
        "draft_revision": saved["revision"],
        "confirmed_by_interviewee": True,
        "read_back_in": "hy",
    }
    statement = _send(ledger, "statement", lambda: c.post(f"/api/v1/interviews/{iid}/statements", json=confirm), 201)
    with ledger.lock:
        ledger.statements[statement["id"]] = text
    for _ in range(2):
        data = sample("jpeg", rng.choice([20_000, 200_000, 900_000]))

        def upload(data: bytes = data) -> httpx.Response:
            return c.post(f"/api/v1/interviews/{iid}/attachments", content=data, headers=PHOTO)

        stored = _send(ledger, "attachment", upload, 201)
        assert stored["sha256"] == hashlib.sha256(data).hexdigest()
        with ledger.lock:
            ledger.attachments[stored["id"]] = stored["sha256"]


def _client_loop(c: httpx.Client, work: Work, ledger: Ledger, n: int, rnd: int, stop: threading.Event) -> None:
    rng = random.Random(f"{SEED}-{rnd}-{n}")
    k = 0
    while not stop.is_set():
        try:
            _chain(c, work, ledger, f"r{rnd}c{n}n{k}", rng)
        except Stop:
            if stop.is_set():
                return
        k += 1


# What must hold after every restart --------------------------------------------------------------------------------


def _acknowledged_reads_back(c: httpx.Client, ledger: Ledger) -> None:
    for person, name in ledger.people.items():
        r = c.get(f"/api/v1/people/{person}")
        assert r.status_code == 200, (person, r.text)
        if name is not None:
            assert r.json()["identity"]["full_name"] == name
    by_person: dict[str, dict[str, Any]] = {}
    for consent, (person, place) in ledger.consents.items():
        if person not in by_person:
            r = c.get(f"/api/v1/people/{person}/participation")
            assert r.status_code == 200, r.text
            by_person[person] = {item["id"]: item for item in r.json()["items"]}
        assert consent in by_person[person], consent
        assert by_person[person][consent]["details"]["place"] == place
    for interview, (where, states) in ledger.interviews.items():
        r = c.get(f"/api/v1/interviews/{interview}")
        assert r.status_code == 200, r.text
        assert r.json()["place"] == where
        assert r.json()["state"] in states, (interview, r.json()["state"], states)
    for interview, (revision, text) in ledger.drafts.items():
        r = c.get(f"/api/v1/interviews/{interview}/draft")
        assert r.status_code == 200, r.text
        assert (r.json()["revision"], r.json()["text"]) == (revision, text)
    for statement, text in ledger.statements.items():
        r = c.get(f"/api/v1/statements/{statement}")
        assert r.status_code == 200, r.text
        assert r.json()["text"] == text
    for attachment, digest in ledger.attachments.items():
        r = c.get(f"/api/v1/attachments/{attachment}/content")
        assert r.status_code == 200, (attachment, r.text[:200])
        assert hashlib.sha256(r.content).hexdigest() == digest


def _blobs_match_rows(settings: Settings, database: ProvisionedDatabase) -> None:
    root = settings.attachments_dir
    final = {p.name for p in (root / "blobs").rglob("*") if p.is_file()}
    temps = [p.name for p in (root / "tmp").iterdir()]
    rows = {r[0] for r in database.as_owner("SELECT id FROM attachments")}
    ids = {uuid.UUID(str(r)).hex if not isinstance(r, uuid.UUID) else r.hex for r in rows}
    assert temps == [], "temp blobs left after the start-up sweep"
    assert final - ids == set(), "blobs without their attachment row"
    assert ids - final == set(), "attachment rows without their blob"
    leftovers = [p for p in settings.data_dir.rglob("*") if p.is_file() and p.name.endswith((".part", ".tmp"))]
    assert leftovers == []


def _sealed_rows_have_their_keys(database: ProvisionedDatabase) -> None:
    """Every row that names a person (and so may hold values sealed under their data key) finds that key, unless
    the person was erased (their key destroyed on purpose, a tombstone left)."""
    import app.models  # noqa: F401 - every table on Base.metadata

    keyed = select(DataKey.subject_id)
    erased = select(ErasedPerson.person_id)
    engine = create_engine(database.owner_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                column = table.c.get("id") if table.name == "people" else table.c.get("person_id")
                if column is None or not _seals(table):
                    continue
                stmt = select(column).where(column.is_not(None), column.not_in(keyed), column.not_in(erased))
                if table.name == "people":
                    stmt = stmt.where(table.c.identity.is_not(None))
                missing = conn.execute(stmt).all()
                assert missing == [], f"{table.name}: {len(missing)} rows without their person's data key"
    finally:
        engine.dispose()


def _seals(table: Table) -> bool:
    return any(type(c.type).__name__ == "LargeBinary" for c in table.c)


def _testimony(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "testimony"), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _audit_verifies(env: dict[str, str], key_file: Path) -> None:
    """A checkpoint signed now, then the whole log verified against it with the pinned signing key, as an
    auditor would (README: the audit log), both as separate `testimony` processes."""
    pin = fingerprint(kr.loads(key_file.read_bytes(), None).signer.public_key)
    _testimony(env, "audit", "checkpoint")
    report = json.loads(_testimony(env, "audit", "verify", "--key", pin, "--json").stdout)
    assert report["ok"] is True, report
    assert report["uncovered"] <= 1  # at most the checkpointing's own entry, after the checkpoint


# The test ----------------------------------------------------------------------------------------------------------


def test_killed_at_random_moments_the_service_loses_and_leaks_nothing(
    app: FastAPI,
    settings: Settings,
    database: ProvisionedDatabase,
    cli_env: dict[str, str],
    key_file: Path,
    tmp_path: Path,
) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KC-1", "title": "Crash rounds"}).json()
    docs = [actor(app, f"doc{n}", [Role.DOCUMENTER], cases=(uuid.UUID(case["id"]),)) for n in range(CLIENTS)]
    work = Work(case["id"], participation(app))
    app.state.engine.dispose()  # the server process owns the database from here on
    env = environment(cli_env)
    server = Server(env, tmp_path / "server.log")
    rng = random.Random(SEED)
    ledger = Ledger()
    timings: list[float] = []
    settled = 0
    try:
        server.start()
        for rnd in range(ROUNDS):
            began = time.monotonic()
            stop = threading.Event()
            clients = [browser(server.url, d) for d in docs]
            threads = [
                threading.Thread(target=_client_loop, args=(c, work, ledger, n, rnd, stop))
                for n, c in enumerate(clients)
            ]
            for t in threads:
                t.start()
            _wait_for(ledger, ledger.acknowledged + rng.randint(*KILL_AFTER))
            time.sleep(rng.uniform(0, KILL_JITTER))
            stop.set()
            server.kill()
            for t in threads:
                t.join(timeout=120)
            for c in clients:
                c.close()
            settled += _age_temp_blobs(settings)
            server.start()
            with browser(server.url, docs[0]) as c:
                _acknowledged_reads_back(c, ledger)
            _blobs_match_rows(settings, database)
            _sealed_rows_have_their_keys(database)
            _audit_verifies(env, key_file)
            timings.append(time.monotonic() - began)
    finally:
        server.stop()
    five_hundreds = [r for r in ledger.refused if r[1] >= 500]
    print(
        f"\ncrash rounds ({'PostgreSQL' if database.is_postgres else 'SQLite'}): {ROUNDS} kills, "
        f"{sum(timings):.1f} s; acknowledged: {len(ledger.people)} people, {len(ledger.consents)} consents, "
        f"{len(ledger.interviews)} interviews, {len(ledger.statements)} statements, "
        f"{len(ledger.attachments)} attachments; cut off by the kills: {ledger.cut_off}; "
        f"temp blobs the kills left and the start-up sweeps settled: {settled}; "
        f"busy answers sent again: {ledger.busy}; "
        f"refused: {sorted({(s, st, c) for s, st, c in ledger.refused})}"
    )
    assert five_hundreds == []
    # The load did reach every kind of write.
    assert len(ledger.statements) > 0
    assert len(ledger.attachments) > 0


def _wait_for(ledger: Ledger, acknowledged: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while ledger.acknowledged < acknowledged:
        assert time.monotonic() < deadline, f"only {ledger.acknowledged} requests acknowledged in {timeout} s"
        time.sleep(0.01)


def _age_temp_blobs(settings: Settings) -> int:
    """The kill leaves temp blobs; the start-up sweep settles only those unchanged for temp_grace_minutes (a live
    transfer on another worker may be writing a younger one). Date them back past the grace, as if the server had
    stayed down that long, so that this restart's sweep must settle every one of them."""
    past = time.time() - (settings.attachments.temp_grace_minutes + 1) * 60
    temps = list((settings.attachments_dir / "tmp").glob("*"))
    for temp in temps:
        os.utime(temp, (past, past))
    return len(temps)
