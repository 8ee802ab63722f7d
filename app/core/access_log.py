"""The server's access log names paths, never query strings.

No route takes secrets in a query string, but a client can still send them there (a reference code and a
code word, say, refused with a 422): uvicorn's access log would write them to disk as they came. The filter
cuts the query from the path of every access-log record before any handler sees it.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class PathOnly(logging.Filter):
    """Rewrites uvicorn's access record (client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger, once however many apps a process creates."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PathOnly) for f in logger.filters):
        logger.addFilter(PathOnly())
