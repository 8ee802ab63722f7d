"""The access log of a real uvicorn server names the path of each request, never its query string."""

from __future__ import annotations

import logging
import socket
import threading

import httpx2 as httpx
import uvicorn
from fastapi import FastAPI

from app.core.access_log import ACCESS_LOGGER, PathOnly


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_secret_sent_in_a_query_string_never_reaches_the_access_log(app: FastAPI) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Access lines at info, as `testimony serve` and the production command write them.
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", ws="none", lifespan="off"))
    kept = _Kept()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(kept)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/consents/lookup?reference=N4QHJ-ADRBS-81CQ9&code_word=pomegranate",
            json={},
        )
        assert r.status_code in (401, 403, 422)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        logger.removeHandler(kept)
    [line] = [line for line in kept.lines if "/api/v1/consents/lookup" in line]
    assert "pomegranate" not in line
    assert "N4QHJ" not in line
    assert any(isinstance(f, PathOnly) for f in logger.filters)


def test_the_filter_keeps_records_of_other_shapes() -> None:
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "%s", ("odd",), None)
    assert PathOnly().filter(record)
    assert record.getMessage() == "odd"
