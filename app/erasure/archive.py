"""A backup file: a tar stream encrypted as it is written, through Debian's ``age`` binary, to an X25519 recipient.

Nothing of a backup is ever written in the clear: the tar stream is piped into ``age --encrypt`` and only its
ciphertext reaches the disk, under a hidden name that becomes the backup's name once it is whole (and never
replaces a file). Reading pipes ``age --decrypt`` into a tar reader the same way; age authenticates every 64 KiB
chunk and the end of the stream, so a changed or cut backup fails (``BackupError``): the caller undoes what it
unpacked when the stream does not end cleanly. age does not authenticate who made a backup (anyone with the
public recipient can write one): the backup's own signature does (``app.erasure.signature``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.crypto.age import x25519_recipient
from app.erasure import age_tty

AGE = "/usr/bin/age"
NOT_A_BACKUP = "this file is not a Testimony Vault backup"
T = TypeVar("T")


class BackupError(Exception):
    """A backup that cannot be taken or restored, with the reason for the operator."""


def age_binary() -> str:
    """Debian's age (``.ci/run`` installs it), else one on the PATH."""
    found = AGE if shutil.which(AGE) else shutil.which("age")
    if found is None:
        raise BackupError("the age binary is not installed (Debian package age): backups are encrypted with it")
    return found


def recipient_of(text: str | None) -> str:
    if not text:
        raise BackupError(
            "give the age recipient (age1...) the backup is encrypted to: --recipient or TESTIMONY_BACKUP__RECIPIENT"
        )
    try:
        return x25519_recipient(text)
    except ValueError as exc:
        raise BackupError(str(exc)) from None


MIN_PASSPHRASE = 16
"""Characters a backup passphrase needs at least: it is all that stands between a stolen backup and its reader
(age derives the key with scrypt, which slows guessing but cannot make a short passphrase long)."""


@dataclass(frozen=True)
class Passphrase:
    """A backup passphrase, the first line of a file: the alternative to an age recipient."""

    value: bytes = field(repr=False)


def passphrase_from(path: Path) -> Passphrase:
    """The passphrase in the file's first line (its line ending not included), refused if short."""
    try:
        with path.open("rb") as f:
            line = f.readline(4097)
    except OSError:
        raise BackupError(f"cannot read the passphrase file {path}") from None
    value = line.rstrip(b"\r\n")
    if len(value.decode(errors="replace")) < MIN_PASSPHRASE or b"\0" in value or len(value) > 4096:
        raise BackupError(f"the passphrase in {path} must be one line of at least {MIN_PASSPHRASE} characters")
    return Passphrase(value)


Lock = str | Passphrase
"""What a backup is encrypted to: an age recipient (age1...) or a passphrase."""


def _age(args: list[str], passphrase: Passphrase | None, prompts: int, **popen: Any) -> AbstractContextManager[Any]:
    """age with these arguments; given a passphrase, with a terminal of its own to be asked it on."""
    if passphrase is None:
        return nullcontext(subprocess.Popen(args, **popen))  # noqa: S603 - a fixed binary, checked arguments, no shell
    return age_tty.spawned(args, passphrase.value, prompts, **popen)


def write(out: Path, lock: Lock, fill: Callable[[tarfile.TarFile], T]) -> T:
    """Write the tar stream ``fill`` makes, encrypted to the recipient or the passphrase, to ``out`` (0600), whole
    or not at all."""
    if isinstance(lock, Passphrase):
        args, passphrase = [age_binary(), "--encrypt", "--passphrase"], lock
    else:
        args, passphrase = [age_binary(), "--encrypt", "--recipient", recipient_of(lock)], None
    partial = out.with_name(f".{out.name}.{secrets.token_hex(8)}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with ExitStack() as stack:
            try:
                process = stack.enter_context(
                    _age(args, passphrase, 2, stdin=subprocess.PIPE, stdout=fd, stderr=subprocess.PIPE)
                )
            finally:
                os.close(fd)
            made = _encrypt(process, fill)
        with partial.open("rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(partial, out)  # unlike rename(), refuses a name taken meanwhile
        except FileExistsError:
            raise BackupError(f"{out} exists; choose another file") from None
        return made
    finally:
        partial.unlink(missing_ok=True)


def _encrypt(process: subprocess.Popen[bytes], fill: Callable[[tarfile.TarFile], T]) -> T:
    assert process.stdin is not None
    assert process.stderr is not None
    try:
        with tarfile.open(fileobj=process.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            made = fill(tar)
        process.stdin.close()
        process.stderr.read()  # age's diagnostics name a key or a flag; they are not shown
        if process.wait() != 0:
            raise BackupError("age could not encrypt the backup")
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        process.stderr.close()
    return made


@contextmanager
def read(backup: Path, key: Path | Passphrase | None) -> Iterator[tarfile.TarFile]:
    """The backup's tar stream, decrypted with the age identity file (or the passphrase) as it is read.

    BackupError when it cannot be opened, or when it does not end as age wrote it (changed, cut short): the
    caller must then undo what it took from the stream."""
    if key is None:
        raise BackupError(
            "give the age identity file the backup was encrypted to (--identity or TESTIMONY_BACKUP__IDENTITY), "
            "or the file holding its passphrase (--passphrase-file)"
        )
    if not backup.is_file():
        raise BackupError(f"{backup} is not a file")
    if isinstance(key, Passphrase):
        args, passphrase = [age_binary(), "--decrypt", str(backup)], key
    elif not key.is_file():
        raise BackupError(f"no age identity file at {key}")
    else:
        args, passphrase = [age_binary(), "--decrypt", "--identity", str(key), str(backup)], None
    with _age(args, passphrase, 1, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process, _tar(process) as tar:
        yield tar


@contextmanager
def _tar(process: subprocess.Popen[bytes]) -> Iterator[tarfile.TarFile]:
    assert process.stdout is not None
    assert process.stderr is not None
    refused = BackupError(
        "age could not decrypt the backup: not a Testimony Vault backup, another identity's or passphrase's, "
        "changed or cut short"
    )
    try:
        try:
            tar = tarfile.open(fileobj=process.stdout, mode="r|")  # closed below, once age has ended
        except tarfile.TarError:
            raise (
                refused if _finish(process) != 0 else BackupError("this file is not a Testimony Vault backup")
            ) from None
        try:
            yield tar
        except tarfile.TarError:
            raise (
                refused if _finish(process) != 0 else BackupError("this file is not a Testimony Vault backup")
            ) from None
        finally:
            tar.close()
        if _finish(process) != 0:  # the end of the stream is what age authenticates last
            raise refused
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def _finish(process: subprocess.Popen[bytes]) -> int:
    """Read what age still has to say, then its exit status."""
    assert process.stdout is not None
    assert process.stderr is not None
    while process.stdout.read(1 << 16):
        pass
    process.stderr.read()  # age's diagnostics name a file or a key, never a secret; they are not shown
    return process.wait()
