"""The uvicorn entry point refuses to start when uvicorn would believe X-Forwarded-For from an
address TESTIMONY_TRUSTED_PROXIES does not list; the documented command starts, and a client
that is not a trusted proxy cannot choose its address with the header."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi import FastAPI

from app.access.roles import Role
from app.core.forwarding import not_covered
from tests.support.actors import make_user

ROOT = Path(__file__).resolve().parent.parent
UVICORN = str(Path(sys.executable).parent / "uvicorn")
LOGIN = "/api/v1/auth/login"


def documented_command(doc: Path) -> list[str]:
    [line] = [line.strip() for line in doc.read_text().splitlines() if line.strip().startswith("uvicorn --factory")]
    return shlex.split(line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_option(args: list[str], option: str, value: str) -> list[str]:
    i = args.index(option)
    return [*args[: i + 1], value, *args[i + 2 :]]


def _env(cli_env: dict[str, str], **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("UVICORN_", "FORWARDED_", "TESTIMONY_"))}
    return {**inherited, **cli_env, **extra}


@pytest.fixture
def port() -> int:
    return _free_port()


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [UVICORN, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def running(cli_env: dict[str, str], port: int) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.terminate()
        proc.communicate(timeout=30)


def _serve(running: list[subprocess.Popen[str]], args: list[str], env: dict[str, str], port: int) -> str:
    proc = _start(args, env)
    running.append(proc)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("uvicorn did not serve /api/v1/health in time")


def test_the_documents_give_one_production_command() -> None:
    readme = documented_command(ROOT / "README.md")
    assert readme == documented_command(ROOT / "docs" / "operations.md")
    assert "--no-proxy-headers" in readme


@pytest.mark.parametrize(
    ("forwarders", "trusted", "missing"),
    [
        ([], [], []),
        (["127.0.0.1", "::1"], [], ["127.0.0.1", "::1"]),
        (["10.0.0.5"], ["10.0.0.0/24"], []),
        (["10.0.0.0/16"], ["10.0.0.0/24"], ["10.0.0.0/16"]),
        (["::1"], ["127.0.0.1/32"], ["::1"]),
        (["*"], ["10.0.0.0/8"], ["*"]),
        (["*"], ["0.0.0.0/0", "::/0"], []),
        (["unix:/run/proxy.sock"], ["10.0.0.0/8"], ["unix:/run/proxy.sock"]),
    ],
)
def test_forwarders_must_be_trusted_proxies(forwarders: list[str], trusted: list[str], missing: list[str]) -> None:
    assert not_covered(forwarders, trusted) == missing


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "extra_env", "named"),
    [
        ([], {}, "127.0.0.1, ::1"),  # uvicorn's defaults: proxy headers on, trusting the loopback
        (["--forwarded-allow-ips", "*"], {"TESTIMONY_TRUSTED_PROXIES": '["127.0.0.1/32"]'}, "*"),
        (
            ["--proxy-headers"],
            {"FORWARDED_ALLOW_IPS": "10.0.0.0/8", "TESTIMONY_TRUSTED_PROXIES": '["10.0.0.5"]'},
            "10.0.0.0/8",
        ),
        (
            [],
            {"UVICORN_FORWARDED_ALLOW_IPS": "192.0.2.1,10.0.0.5", "TESTIMONY_TRUSTED_PROXIES": '["10.0.0.5"]'},
            "192.0.2.1",
        ),
        (["--workers", "2"], {}, "127.0.0.1, ::1"),  # each worker refuses, and the supervisor stops
    ],
)
def test_uvicorn_trusting_other_forwarders_refuses_to_start(
    cli_env: dict[str, str], port: int, options: list[str], extra_env: dict[str, str], named: str
) -> None:
    args = ["--factory", "app.main:app_factory", "--host", "127.0.0.1", "--port", str(port), *options]
    proc = _start(args, _env(cli_env, **extra_env))
    try:
        _, stderr = proc.communicate(timeout=90)
    finally:
        proc.kill()
    # It stopped by itself (communicate did not time out), having said why.
    if "--workers" in options:
        assert "failed to start, stopping the parent process" in stderr  # uvicorn's supervisor gives up
    else:
        assert proc.returncode == 3  # uvicorn's status for a start that fails the same way every time
    assert f"uvicorn believes X-Forwarded-For from {named}, which TESTIMONY_TRUSTED_PROXIES does not list" in stderr
    assert "Start uvicorn with --no-proxy-headers" in stderr


@pytest.mark.slow
def test_uvicorn_trusting_only_trusted_proxies_starts(
    cli_env: dict[str, str], port: int, running: list[subprocess.Popen[str]]
) -> None:
    args = ["--factory", "app.main:app_factory", "--host", "127.0.0.1", "--port", str(port)]
    env = _env(cli_env, TESTIMONY_TRUSTED_PROXIES=json.dumps(["10.0.0.0/24"]), FORWARDED_ALLOW_IPS="10.0.0.5")
    _serve(running, args, env, port)


@pytest.mark.slow
def test_documented_command_serves_and_a_spoofed_forwarded_for_changes_nothing(
    app: FastAPI, cli_env: dict[str, str], port: int, running: list[subprocess.Popen[str]]
) -> None:
    make_user(app, "prox", [Role.DOCUMENTER], with_totp=False)
    args = _with_option(_with_option(documented_command(ROOT / "README.md")[1:], "--port", str(port)), "--workers", "2")
    base = _serve(running, args, _env(cli_env), port)
    bad = {"username": "prox", "password": "definitely not it"}
    answers = [
        httpx.post(f"{base}{LOGIN}", json=bad, headers={"x-forwarded-for": f"203.0.113.{i}"}, timeout=30).status_code
        for i in range(6)
    ]
    # The peer (127.0.0.1) is no trusted proxy: every attempt counts against it, whatever the header says.
    assert answers == [401] * 5 + [429]
