"""Load: 32 clients for TESTIMONY_LOAD_SECONDS (60 by default) against two uvicorn workers on PostgreSQL, on the
loopback only, with a mix of reads, writes, consent changes and export requests. No answer may be a 5xx, the audit
log's sequence must run 0..N-1 without a gap, and `testimony audit verify` must pass. Throughput and p50/p99
latency are printed and written as JSON beside the test's files (TESTIMONY_LOAD_RESULTS names another file).

Skipped on SQLite: one writer at a time is not the deployment this measures. A short smoke run:
TESTIMONY_LOAD_SECONDS=5."""

from __future__ import annotations

import json
import os
import random
import statistics
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

from app.access.roles import Role
from tests.reliability.server import Server, browser, environment
from tests.reliability.test_crash import _audit_verifies
from tests.support.actors import Actor, actor
from tests.support.consent import participation, register_recipient, use_consent
from tests.support.database import ProvisionedDatabase
from tests.support.interviews import checklist, planned

pytestmark = pytest.mark.slow

CLIENTS = 32
WORKERS = 2
SEED = 32
MIX = (("read", 50), ("write", 25), ("consent", 15), ("export", 10))
"""Kinds of work and their weights."""


def _seconds() -> float:
    return float(os.environ.get("TESTIMONY_LOAD_SECONDS", "60"))


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, send: Callable[..., httpx.Response], *args: Any, **kwargs: Any) -> httpx.Response:
        """``send(*args, **kwargs)``, its latency counted under ``kind``."""
        began = time.perf_counter()
        r = send(*args, **kwargs)
        took = time.perf_counter() - began
        with self.lock:
            self.latencies.setdefault(kind, []).append(took)
            self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
            if r.status_code >= 500:
                self.server_errors.append((kind, r.status_code, r.text[:300]))
        return r


@dataclass
class Desk:
    case_id: str
    recipient_id: str
    documenters: list[Actor]
    legal: list[Actor]
    consent: dict[str, Any]
    use: dict[str, Any]


def _own_person(c: httpx.Client, desk: Desk, tally: Tally, tag: str) -> tuple[str, str]:
    """A person with participation consent and an interview in progress, the client's own: (person, interview)."""
    person = tally.timed("write", c.post, f"/api/v1/cases/{desk.case_id}/people").json()["id"]
    consent = {**desk.consent, "place": f"Goris, {tag}"}
    r = tally.timed("consent", c.post, f"/api/v1/people/{person}/participation", json=consent)
    assert r.status_code == 201, r.text
    made = tally.timed("write", c.post, f"/api/v1/people/{person}/interviews", json=planned(checklist=checklist()))
    assert made.status_code == 201, made.text
    iid = made.json()["id"]
    change = {"revision": made.json()["revision"], "state": "in_progress"}
    started = tally.timed("write", c.patch, f"/api/v1/interviews/{iid}", json=change)
    assert started.status_code == 200, started.text
    return person, iid


@dataclass
class Clock:
    """Every client prepares its own person, then the measured window opens for all of them at once."""

    ready: threading.Barrier
    until: list[float] = field(default_factory=list)


def _client(url: str, desk: Desk, n: int, setup: Tally, tally: Tally, clock: Clock) -> None:
    rng = random.Random(f"{SEED}-{n}")
    me = desk.documenters[n % len(desk.documenters)]
    lawyer = desk.legal[n % len(desk.legal)]
    kinds = [kind for kind, _ in MIX]
    weights = [w for _, w in MIX]
    with browser(url, me) as c, browser(url, lawyer) as legal:
        person, interview = _own_person(c, desk, setup, f"client {n}")
        clock.ready.wait(timeout=600)
        k = 0
        while time.monotonic() < clock.until[0]:
            kind = rng.choices(kinds, weights)[0]
            k += 1
            if kind == "read":
                path = rng.choice(
                    [
                        f"/api/v1/cases/{desk.case_id}/people?limit=20",
                        f"/api/v1/people/{person}",
                        f"/api/v1/interviews/{interview}",
                        f"/api/v1/people/{person}/consents",
                    ]
                )
                tally.timed(kind, c.get, path)
            elif kind == "write":
                if rng.random() < 0.5:
                    body = {"text": f"Draft {n}-{k}: we left at night. " * 20, "answers": []}
                    tally.timed(kind, c.put, f"/api/v1/interviews/{interview}/draft", json=body)
                else:
                    who = {"identity": {"full_name": f"Load Survivor {n}-{k}", "languages": ["hy"]}}
                    tally.timed(kind, c.patch, f"/api/v1/people/{person}", json=who)
            elif kind == "consent":
                tally.timed(kind, c.post, f"/api/v1/people/{person}/consents", json=desk.use)
            else:
                body = {
                    "case_ids": [desk.case_id],
                    "purpose": "un_fact_finding",
                    "recipient_id": desk.recipient_id,
                    "justification": "The Commission asked for accounts of the October crossing.",
                    "categories": ["narrative_general"],
                    "max_disclosure_level": "pseudonymous",
                }
                tally.timed(kind, legal.post, "/api/v1/exports", json=body)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(tally: Tally, seconds: float) -> dict[str, Any]:
    every = [x for xs in tally.latencies.values() for x in xs]
    per_kind = {
        kind: {
            "requests": len(xs),
            "p50_ms": round(statistics.median(xs) * 1000, 1),
            "p99_ms": round(_percentile(xs, 0.99) * 1000, 1),
        }
        for kind, xs in sorted(tally.latencies.items())
    }
    return {
        "clients": CLIENTS,
        "workers": WORKERS,
        "seconds": round(seconds, 1),
        "requests": len(every),
        "throughput_rps": round(len(every) / seconds, 1),
        "p50_ms": round(statistics.median(every) * 1000, 1),
        "p99_ms": round(_percentile(every, 0.99) * 1000, 1),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "by_kind": per_kind,
    }


def test_two_workers_under_32_clients_answer_without_5xx_and_keep_a_gapless_log(
    app: FastAPI, database: ProvisionedDatabase, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    if not database.is_postgres:
        pytest.skip("load runs on PostgreSQL, the several-worker deployment (set TESTIMONY_TEST_DATABASE_URL)")
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KL-1", "title": "Load"}).json()
    team = (uuid.UUID(case["id"]),)
    desk = Desk(
        case_id=case["id"],
        recipient_id=register_recipient(app),
        documenters=[actor(app, f"doc{i}", [Role.DOCUMENTER], cases=team) for i in range(8)],
        legal=[actor(app, f"lawyer{i}", [Role.LEGAL], cases=team) for i in range(2)],
        consent=participation(app),
        use=use_consent(app),
    )
    app.state.engine.dispose()
    env = environment(cli_env)
    server = Server(env, tmp_path / "server.log", workers=WORKERS)
    setup, tally = Tally(), Tally()
    seconds = _seconds()
    failures: list[BaseException] = []

    def opened() -> None:  # the barrier's action: run once, by the last client to arrive
        clock.until.append(time.monotonic() + seconds)

    clock = Clock(threading.Barrier(CLIENTS, action=opened))

    def run(n: int) -> None:
        try:
            _client(server.url, desk, n, setup, tally, clock)
        except BaseException as exc:
            failures.append(exc)
            clock.ready.abort()

    try:
        server.start()
        threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 900)
        elapsed = seconds + max(0.0, time.monotonic() - clock.until[0]) if clock.until else 0.0
    finally:
        server.stop()
    summary = _summary(tally, elapsed)
    out = Path(os.environ.get("TESTIMONY_LOAD_RESULTS") or tmp_path / "load.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nload on PostgreSQL ({out}):\n{json.dumps(summary, indent=2)}")
    assert failures == [], failures[:3]
    assert setup.server_errors == [], setup.server_errors[:5]
    assert tally.server_errors == [], tally.server_errors[:5]
    assert summary["requests"] > CLIENTS
    seqs = [int(r[0]) for r in database.as_owner("SELECT seq FROM audit_events ORDER BY seq")]
    assert seqs == list(range(len(seqs))), "the audit sequence does not run 0..N-1 without a gap"
    _audit_verifies(env, key_file)
