"""`testimony worker`: the process that builds approved exports from the job table (`make run` starts one
beside the server; production runs one or more beside the API workers)."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Annotated

import typer

from app.cli_support import fail, open_factory, out
from app.core.config import get_settings
from app.core.errors import ConfigError
from app.crypto.errors import KeyringError
from app.exports.worker import Worker, session_settings
from app.keys.store import open_keys, prompt_passphrase
from app.runtime import Runtime


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run every queued job, then stop (instead of waiting for more).")
    ] = False,
    idle: Annotated[
        float, typer.Option(metavar="SECONDS", min=0.1, help="How long to wait when nothing is queued.")
    ] = 2.0,
) -> None:
    """Run queued jobs: export builds and key rotations.

    The key rotations and re-wraps are those an admin queued on the Keys page. Each job is claimed with a
    lease that a heartbeat renews, and written under its fencing token.
    """
    settings = get_settings()
    try:
        keys = open_keys(settings, prompt_passphrase)
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    engine, factory = open_factory(settings, session_settings(settings))
    runner = Worker(factory, Runtime(settings, keys))
    stop = threading.Event()
    try:
        if once:
            ran = 0
            while runner.run_once():
                ran += 1
            out.print(f"ran {ran} job(s) (export builds, key rotations and re-wraps)")
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        out.print(f"worker {runner.name} started")
        runner.run(stop, timedelta(seconds=idle))
    finally:
        engine.dispose()
