"""Typing a passphrase into ``age`` the way a person would: on a terminal of its own.

age reads a passphrase only from a terminal (``/dev/tty``), never from a pipe or a file, so a passphrase cannot
leak through its command line, its environment or its standard input (which carries the backup). A
pseudo-terminal stands in for the person: age is started in a session of its own with the pseudo-terminal as its
controlling terminal, and each of its prompts is answered with the passphrase. The terminal stays open until
age has ended (closing it would hang age up), and is closed however that ends.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PROMPT = b"passphrase"
"""A word of each of age's prompts: "Enter passphrase" (then "Confirm passphrase" when encrypting)."""
ANSWER_WITHIN = 30.0


@contextmanager
def spawned(args: list[str], passphrase: bytes, prompts: int, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """age started with a terminal of its own, its ``prompts`` prompts answered; the terminal closes after it."""
    controller, terminal = os.openpty()
    name = os.ttyname(terminal)

    def take_terminal() -> None:  # in the child, after setsid: the first terminal opened becomes its own
        os.close(os.open(name, os.O_RDWR))

    try:
        process = subprocess.Popen(  # noqa: S603 - a fixed binary and fixed flags, no shell
            args, start_new_session=True, preexec_fn=take_terminal, **popen
        )
        try:
            _answer(process, controller, passphrase, prompts)
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    finally:
        os.close(controller)
        os.close(terminal)


def _answer(process: subprocess.Popen[bytes], controller: int, passphrase: bytes, prompts: int) -> None:
    """Type the passphrase at each prompt; stop early if age ends (it refused before asking: the caller sees its
    exit status)."""
    said = b""
    answered = 0
    deadline = time.monotonic() + ANSWER_WITHIN
    while answered < prompts and process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.1)
        if not ready:
            continue
        said += os.read(controller, 4096)
        if said.count(PROMPT) > answered:
            os.write(controller, passphrase + b"\n")
            answered += 1
