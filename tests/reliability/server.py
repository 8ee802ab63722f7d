"""The real service as a separate uvicorn process on a free loopback port, for tests that kill it or load it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx2 as httpx

from tests.support.actors import Actor

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(cli_env: Mapping[str, str], **extra: str) -> dict[str, str]:
    """This test's settings (and nothing of uvicorn's or the caller's own) for a process of the service."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("UVICORN_", "FORWARDED_", "TESTIMONY_"))}
    return {**inherited, **cli_env, **extra}


class Server:
    """``uvicorn --factory app.main:app_factory`` on 127.0.0.1, as the production command starts it; its output
    goes to a log file (a pipe nobody reads would block it)."""

    def __init__(self, env: Mapping[str, str], log: Path, *, workers: int = 1) -> None:
        self.env = dict(env)
        self.log = log
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        args = [str(BIN / "uvicorn"), "--factory", "app.main:app_factory", "--no-proxy-headers"]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        with self.log.open("ab") as out:
            # Its own process group: a kill reaches a supervisor's workers too.
            self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-4000:]
            try:
                # The lifespan (and its start-up sweep) has run once the health check answers.
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server did not answer /api/v1/health in time")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown, no cleanup, as a power cut would leave it."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM and wait: a clean stop at the end of a test."""
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None


def browser(url: str, who: Actor, timeout: float = 60) -> httpx.Client:
    """A client on the server with ``who``'s session: the cookie is Secure, so it is sent by hand over plain HTTP."""
    cookie = who.client.cookies.get("testimony_session")
    assert cookie is not None
    headers = {"x-csrf-token": who.csrf} if who.csrf else {}
    return httpx.Client(base_url=url, cookies={"testimony_session": cookie}, headers=headers, timeout=timeout)
