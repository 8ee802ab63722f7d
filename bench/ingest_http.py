"""What the service's protections cost a write, and what a login costs, through the whole HTTP stack.

**Ingest.** A documenter saves a 3 KB draft of a statement (`PUT /api/v1/interviews/{id}/draft`): the
session cookie and CSRF header are checked, the policy loads the interview, the text is sealed under the
person's data key, and the audit event is appended, all in one transaction. The baseline is
`bench.plain_app`: the same route and body stored with none of that, measured in the same run, in
alternating rounds, on the same kind of SQLite file. Each app runs behind its own uvicorn server on a
loopback port (its socket made as uvicorn makes its own, so asyncio sets TCP_NODELAY on each connection and
no response waits out the client's delayed ACK), reached by an httpx client with TCP_NODELAY.
Reported: milliseconds per request of each, the throughput ratio (service / plain), and the SQL
statements each request issues.

**Login.** The median latency of `POST /api/v1/auth/login` (password only, a documenter in development
mode) at the production argon2id parameters, beside the median of the password check alone.

The service's side is set up through its own API with the test suite's actors (tests/support), which make
users the way `testimony users create` does.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.access.passwords import PRODUCTION, Passwords
from app.access.roles import Role
from app.core.config import DatabaseSettings, KeySettings, PasswordHashSettings, Settings
from app.core.db import make_engine
from app.core.migrate import upgrade
from app.crypto import keyring as kr
from app.keys.store import FileKeyStore, Keys, write_private_file
from app.main import create_app
from bench import plain_app
from tests.support.actors import PASSWORD, Actor, make_user
from tests.support.consent import documenter_team
from tests.support.interviews import checklist, consenting_person, new_interview, patch
from tests.support.server import serve

TARGET_RATIO = 0.7
STATEMENT_BYTES = 3 * 1024
_WORDS = "we left the village at night and walked along the river until the morning ".split()


def statement_text(size: int = STATEMENT_BYTES) -> str:
    """About `size` bytes of plain prose."""
    words: list[str] = []
    length = 0
    while length < size:
        word = _WORDS[len(words) % len(_WORDS)]
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


class StatementCounter:
    """Counts the SQL statements an engine executes while it is switched on."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.on = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        if self.on:
            self.count += 1


@contextmanager
def _service(passwords: PasswordHashSettings) -> Iterator[FastAPI]:
    with tempfile.TemporaryDirectory(prefix="tv-bench-http-") as tmp:
        root = Path(tmp)
        key_file = root / "var" / "keyring.json"
        write_private_file(key_file, kr.dumps(kr.generate(), None))
        url = f"sqlite:///{root / 'service.db'}"
        upgrade(url)
        settings = Settings(
            development=True,
            data_dir=root / "var",
            database=DatabaseSettings(url=url),
            keys=KeySettings(file=key_file),
            passwords=passwords,
        )
        store = FileKeyStore(key_file, None)
        app = create_app(settings, Keys(store, store.load()))
        try:
            yield app
        finally:
            app.state.engine.dispose()


def _ready_interview(app: FastAPI) -> tuple[Actor, str]:
    doc, case = documenter_team(app)
    person = consenting_person(doc, case, app)
    interview = new_interview(doc, person, checklist=checklist())
    started = patch(doc, interview, state="in_progress")
    if started.status_code != 200:
        raise RuntimeError(f"the interview did not start: {started.status_code}")
    return doc, interview["id"]


def _timed(call: Callable[[], None], count: int) -> tuple[float, float]:
    """Wall and CPU seconds (of this process: client and server alike) of `count` calls."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(count):
        call()
    return time.perf_counter() - started, time.process_time() - cpu_started


def _add(total: tuple[float, float], more: tuple[float, float]) -> tuple[float, float]:
    return total[0] + more[0], total[1] + more[1]


def _saver(put: Callable[..., Any], url: str, body: dict[str, Any]) -> Callable[[], None]:
    def save() -> None:
        response = put(url, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"a draft save answered {response.status_code}")

    return save


def _no_delay() -> httpx.HTTPTransport:
    """The client's side of the same: a request's headers and body never wait for the server's ACK."""
    return httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])


def ingest(requests: int, rounds: int = 10, warmup: int = 20) -> dict[str, Any]:
    """Time `requests` draft saves on the service and on the plain app, alternating in rounds."""
    text = statement_text()
    body: dict[str, Any] = {"text": text, "answers": []}
    with _service(PasswordHashSettings(time_cost=1, memory_kib=256, parallelism=1)) as app:
        doc, interview_id = _ready_interview(app)
        counter = StatementCounter(app.state.engine)
        cookie = doc.client.cookies.get("testimony_session")
        with tempfile.TemporaryDirectory(prefix="tv-bench-plain-") as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'plain.db'}")
            plain_counter = StatementCounter(engine)
            try:
                with (
                    serve(app) as service_url,
                    serve(plain_app.make_app(engine)) as plain_url,
                    httpx.Client(
                        base_url=service_url,
                        cookies={"testimony_session": cookie or ""},
                        headers=doc.headers(),
                        transport=_no_delay(),
                    ) as service_client,
                    httpx.Client(base_url=plain_url, transport=_no_delay()) as plain_client,
                ):
                    url = f"/api/v1/interviews/{interview_id}/draft"
                    service = _saver(service_client.put, url, body)
                    plain = _saver(plain_client.put, f"/api/v1/interviews/{uuid.uuid4()}/draft", body)
                    for _ in range(warmup):
                        service()
                        plain()
                    counter.on = plain_counter.on = True
                    service()
                    plain()
                    counter.on = plain_counter.on = False
                    rounds = max(1, min(rounds, requests))
                    sizes = [requests // rounds + (1 if r < requests % rounds else 0) for r in range(rounds)]
                    service_t = plain_t = (0.0, 0.0)
                    for r, size in enumerate(sizes):
                        if r % 2 == 0:
                            service_t = _add(service_t, _timed(service, size))
                            plain_t = _add(plain_t, _timed(plain, size))
                        else:
                            plain_t = _add(plain_t, _timed(plain, size))
                            service_t = _add(service_t, _timed(service, size))
            finally:
                engine.dispose()
    (service_s, service_cpu), (plain_s, plain_cpu) = service_t, plain_t
    ratio = plain_s / service_s
    return {
        "requests": requests,
        "rounds": rounds,
        "statement_bytes": len(text.encode()),
        "service_ms": service_s * 1000 / requests,
        "plain_ms": plain_s * 1000 / requests,
        "ratio": ratio,
        # On a shared machine the wall time also waits for the cores, longer for more thread hand-offs; the
        # CPU time per request (client included, the same for both) is the ratio a core of its own would give.
        "service_cpu_ms": service_cpu * 1000 / requests,
        "plain_cpu_ms": plain_cpu * 1000 / requests,
        "cpu_ratio": plain_cpu / service_cpu,
        "sql_per_request": {"service": counter.count, "plain": plain_counter.count},
        "target": {"ratio": TARGET_RATIO, "met": ratio >= TARGET_RATIO},
    }


def login(attempts: int) -> dict[str, Any]:
    """Median login latency at the production argon2id parameters, and the password check alone."""
    production = PasswordHashSettings(
        time_cost=PRODUCTION.time_cost, memory_kib=PRODUCTION.memory_kib, parallelism=PRODUCTION.parallelism
    )
    passwords = Passwords(PRODUCTION)
    stored = passwords.hash(PASSWORD)
    checks: list[float] = []
    for _ in range(attempts):
        started = time.perf_counter()
        if not passwords.verify(stored, PASSWORD):
            raise RuntimeError("the password check failed")
        checks.append(time.perf_counter() - started)
    with _service(production) as app:
        make_user(app, "bench-doc", [Role.DOCUMENTER], with_totp=False)
        logins: list[float] = []
        with TestClient(app, base_url="https://testserver") as client:
            for _ in range(attempts):
                client.cookies.clear()
                started = time.perf_counter()
                response = client.post("/api/v1/auth/login", json={"username": "bench-doc", "password": PASSWORD})
                logins.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"a login answered {response.status_code}")
    login_ms = statistics.median(logins) * 1000
    check_ms = statistics.median(checks) * 1000
    return {
        "attempts": attempts,
        "argon2id": {
            "time_cost": PRODUCTION.time_cost,
            "memory_kib": PRODUCTION.memory_kib,
            "parallelism": PRODUCTION.parallelism,
        },
        "login_median_ms": login_ms,
        "password_check_median_ms": check_ms,
        "ratio_to_check": login_ms / check_ms,
    }
