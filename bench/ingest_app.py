"""The HTTP ingest's draft save with no server and no client: each app's ASGI callable driven in one thread.

What a save costs the app itself, apart from uvicorn and httpx (which ``bench.ingest_http`` measures with it):
the CPU time per save of the service and of ``bench.plain_app``, fastest of ``repeats`` runs, run alternately.
With ``--profile FILE`` the service's saves run under cProfile instead, the work of the thread pool done
inline on the loop so that the profile sees it (the thread hand-offs are then not measured), and the stats
are written to FILE (read them with ``python -m pstats FILE``); ``--sql`` prints the statements of one save.

    .venv/bin/python -m bench.ingest_app --saves 200 --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy import event

from app.core.config import PasswordHashSettings
from app.core.db import make_engine
from bench import plain_app
from bench.ingest_http import _ready_interview, _service, statement_text

Asgi = Callable[..., Coroutine[Any, Any, None]]


def _saver(
    app: Asgi, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> Callable[[], Coroutine[Any, Any, None]]:
    """One draft save through the app's ASGI callable, as uvicorn would call it; anything but 200 raises."""
    headers = [*headers, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def save() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect while the app answers
            raise AssertionError

        statuses: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(dict(scope), receive, send)
        if statuses != [200]:
            raise RuntimeError(f"a draft save answered {statuses}")

    return save


def _cpu_ms(loop: asyncio.AbstractEventLoop, save: Callable[[], Coroutine[Any, Any, None]], saves: int) -> float:
    async def run() -> None:
        for _ in range(saves):
            await save()

    started = time.process_time()
    loop.run_until_complete(run())
    return (time.process_time() - started) * 1000 / saves


def measure(saves: int, repeats: int, profile: Path | None = None, sql: bool = False) -> dict[str, Any]:
    """CPU ms per save of each app alone, fastest of ``repeats`` alternating runs (or the service's profile)."""
    body = json.dumps({"text": statement_text(), "answers": []}).encode()
    loop = asyncio.new_event_loop()
    with _service(PasswordHashSettings(time_cost=1, memory_kib=256, parallelism=1)) as app:
        doc, interview_id = _ready_interview(app)
        cookie = doc.client.cookies.get("testimony_session") or ""
        headers = [(b"cookie", f"testimony_session={cookie}".encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in doc.headers().items()]
        service = _saver(app, f"/api/v1/interviews/{interview_id}/draft", headers, body)
        with tempfile.TemporaryDirectory(prefix="tv-bench-plain-") as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'plain.db'}")
            try:
                plain = _saver(plain_app.make_app(engine), f"/api/v1/interviews/{uuid.uuid4()}/draft", [], body)
                _cpu_ms(loop, service, 30)
                _cpu_ms(loop, plain, 30)
                if sql:
                    seen: list[str] = []
                    event.listen(app.state.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
                    _cpu_ms(loop, service, 1)
                    return {"statements": [" ".join(s.split()) for s in seen]}
                if profile is not None:
                    return _profiled(loop, service, saves, profile)
                service_ms: list[float] = []
                plain_ms: list[float] = []
                for _ in range(repeats):
                    service_ms.append(_cpu_ms(loop, service, saves))
                    plain_ms.append(_cpu_ms(loop, plain, saves))
            finally:
                engine.dispose()
                loop.close()
    return {
        "saves": saves,
        "service_cpu_ms": min(service_ms),
        "plain_cpu_ms": min(plain_ms),
        "cpu_ratio": min(plain_ms) / min(service_ms),
        "runs": {"service": service_ms, "plain": plain_ms},
    }


def _profiled(
    loop: asyncio.AbstractEventLoop, save: Callable[[], Coroutine[Any, Any, None]], saves: int, out: Path
) -> dict[str, Any]:
    async def inline(func: Callable[..., Any], *args: Any, **_options: Any) -> Any:
        return func(*args)

    handing_off = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    try:
        profiler = cProfile.Profile()
        profiler.enable()
        _cpu_ms(loop, save, saves)
        profiler.disable()
    finally:
        anyio.to_thread.run_sync = handing_off
    profiler.dump_stats(out)
    return {"saves": saves, "profile": str(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--sql", action="store_true")
    args = parser.parse_args()
    print(json.dumps(measure(args.saves, args.repeats, args.profile, args.sql), indent=2))


if __name__ == "__main__":
    main()
