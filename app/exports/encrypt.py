"""Encrypting a bundle to its recipient's age key as it streams, through Debian's ``age`` binary.

pyrage encrypts whole byte strings or plaintext files; a bundle may be gigabytes and must never lie in
plaintext on disk, so the ZIP's chunks are piped through ``age -r RECIPIENT``: a writer thread feeds its
standard input while the caller reads the ciphertext from its standard output, so each side holds one
chunk and the pipes' buffers. The recipient comes from the registry entry, never from the requester.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Generator, Iterable
from typing import IO

from app.crypto.age import x25519_recipient

AGE = "/usr/bin/age"
CHUNK = 64 * 1024
_log = logging.getLogger("testimony.exports")


class EncryptionFailed(RuntimeError):
    """age could not encrypt the bundle (not installed, refused the key, or ended early)."""


def age_binary() -> str:
    """Debian's age (``.ci/run`` installs it), else one on the PATH."""
    found = AGE if shutil.which(AGE) else shutil.which("age")
    if found is None:
        raise EncryptionFailed("the age binary is not installed (Debian package age)")
    return found


class _Feeder(threading.Thread):
    """Writes the plaintext chunks into age's standard input, then closes it; keeps what went wrong."""

    def __init__(self, chunks: Iterable[bytes], sink: IO[bytes]) -> None:
        super().__init__(name="age-feeder", daemon=True)
        self._chunks = chunks
        self._sink = sink
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for chunk in self._chunks:
                if self.stop.is_set():
                    return
                self._sink.write(chunk)
        except BaseException as exc:  # handed to the reading side, which raises it
            self.error = exc
        finally:
            try:
                self._sink.close()
            except OSError:  # age ended first (killed, or refused): the reading side reports it
                pass


def encrypt_to_age(chunks: Iterable[bytes], recipient: str) -> Generator[bytes, None, None]:
    """The age (binary format) encryption of the chunks to one X25519 recipient, as it is produced.

    The chunks are drawn in the feeder thread while the caller's thread waits on age's output, so a
    source that reads a session lazily is used by one thread at a time. A failure of the source is
    raised as itself once age has ended (the ciphertext yielded until then is of a truncated bundle:
    only a stream that ends without an exception is a bundle); age's own failure is EncryptionFailed.
    Closing the iterator early kills age, so no process outlives the build.
    """
    canonical = x25519_recipient(recipient)  # ValueError for anything that is not an age1... key
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and a validated key, no shell
        [age_binary(), "--encrypt", "--recipient", canonical],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    feeder = _Feeder(chunks, process.stdin)
    feeder.start()
    finished = False
    try:
        while block := process.stdout.read(CHUNK):
            yield block
        feeder.join()
        if feeder.error is not None:
            raise feeder.error
        if process.wait() != 0:
            # age's message names its own trouble (a key, a flag), never the plaintext; only its length is logged.
            _log.error(
                "age failed with status %s (%d bytes of diagnostics)", process.returncode, len(process.stderr.read())
            )
            raise EncryptionFailed("age could not encrypt the bundle")
        finished = True
    finally:
        if not finished:
            feeder.stop.set()
            process.kill()
            process.wait()
            feeder.join()
        for stream in (process.stdout, process.stderr):
            stream.close()
