"""The real app behind a real uvicorn server on a free loopback port, and requests sent at once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx2 as httpx
import uvicorn
from fastapi import FastAPI

from tests.support.actors import Actor

T = TypeVar("T")


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve app in this process (its own event loop thread); yields the base URL."""
    # proto named: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and the accepted
    # connections inherit it. With proto 0 each response (headers, then body, in two writes) waits out the
    # client's delayed ACK, about 40 ms, as uvicorn binding its own socket never does.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def at_once(calls: list[Callable[[], T]], timeout: float = 60) -> list[T]:
    """Run the calls in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout)
            results[i] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not errors, errors
    return [r for r in results if r is not None]


def browser(url: str, who: Actor) -> httpx.Client:
    """A client of the served app carrying the actor's session cookie (and CSRF token)."""
    cookie = who.client.cookies.get("testimony_session")
    assert cookie is not None
    headers = {"x-csrf-token": who.csrf} if who.csrf else {}
    # A connection idle for 2 s is not reused: uvicorn closes an idle one after 5 s, httpx's default expiry is
    # 5 s too, and a request sent on a connection the server is closing at that moment gets no answer.
    return httpx.Client(
        base_url=url,
        cookies={"testimony_session": cookie},
        headers=headers,
        timeout=60,
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
    )


KEEPALIVE_SECONDS = 2.0
"""How long a test client keeps an idle connection: under uvicorn's 5 s keep-alive timeout."""
