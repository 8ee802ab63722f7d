"""Metadata stripping of exported attachments with mat2, in a private directory in memory.

mat2 cleans files, not streams: the plaintext goes into a fresh directory (mode 0700) on a memory-backed
filesystem, under a neutral name that says only its format, mat2 cleans it in place, the caller reads the
cleaned copy back, and the directory goes at once, also when mat2 fails, hangs or is killed. mat2's own
temporary files go there too (its TMPDIR and HOME point into it). Only if this process itself is killed can
the directory outlive it: ``sweep_leftovers`` removes those of dead processes, and the worker calls it when it
starts. Swap must be encrypted (SECURITY.md): memory-backed files can be swapped out.

Only the formats below are cleaned, the ones whose cleaning is tested here. After mat2, exiftool reads the
cleaned copy, and a tag naming a person, a place or a device that is still there refuses the file. Anything
else, and any file mat2 or exiftool fails on, is refused with one generic reason, and the caller leaves it
out: nothing goes out unstripped.
Recipients of class ``intl_criminal_investigators`` get originals (``keeps_original``): stripping would break
the chain of custody their courts rely on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from app.consent.vocabulary import RecipientClass
from app.interviews import filetypes as ft

MAT2 = "/usr/bin/mat2"
EXIFTOOL = "/usr/bin/exiftool"
PRLIMIT = "/usr/bin/prlimit"
MEMORY_LIMIT = 3 * 1024**3
"""Bytes of address space a tool may map: a decompression bomb fails instead of taking the worker's memory."""
GROWTH = 4
"""How many times its input a file a tool writes may be (plus ``GROWTH_FLOOR``): a file that balloons fails."""
GROWTH_FLOOR = 64 * 1024**2
SCRATCH_ROOT = Path("/dev/shm")  # noqa: S108 - a private 0700 directory under it, checked memory-backed
PREFIX = "testimony-strip-"
TIMEOUT = 120.0
"""Seconds mat2 may take for one file before it is killed and the file refused."""

CLEANABLE: dict[str, str] = {
    ft.JPEG: "jpg",
    ft.PNG: "png",
    ft.PDF: "pdf",
}
"""Media type -> the extension mat2 reads the format from. WAV, MP4, MOV and M4A need ffmpeg, which is not
installed; HEIC, AAC and WebM are not covered by tests here. MP3 and Ogg are refused too: mat2 leaves an
MP3's APEv2 tags and the comments of a second chained Ogg stream, and exiftool does not see them either,
so a name or a place written there would leave (until audio is rebuilt from its frames alone). All of
those are refused: excluded from a bundle with the generic reason, never sent unstripped."""

REFUSED = "the file could not be cleaned of its metadata"
"""The one reason given for a refused file: it names neither the format nor what failed."""

_MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})

LEFT_BEHIND = re.compile(
    r"gps|artist|author|creator|make|model|software|encoder|location|owner|serial|lens|copyright(?!flag)|byline|credit",
    re.IGNORECASE,
)
"""Tags that name a person, a place or a device: if exiftool still finds one after mat2, the file is refused."""


class StripRefused(Exception):
    """The file cannot be sent stripped, so it is not sent; the message is always ``REFUSED``."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


def keeps_original(recipient_class: RecipientClass | str) -> bool:
    """Whether a recipient of this class gets originals rather than stripped copies."""
    return RecipientClass(recipient_class) is RecipientClass.INTL_CRIMINAL_INVESTIGATORS


def can_strip(media_type: str) -> bool:
    return media_type in CLEANABLE


def is_memory_backed(path: Path) -> bool:
    """Whether ``path`` lies on a tmpfs or ramfs, by the longest mount point above it."""
    resolved = str(path.resolve())
    best, fstype = "", ""
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) < 3:
                continue
            point = parts[1].replace("\\040", " ")
            inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, fstype = point, parts[2]
    return fstype in _MEMORY_FILESYSTEMS


@contextlib.contextmanager
def stripped(
    chunks: Iterable[bytes],
    media_type: str,
    *,
    root: Path = SCRATCH_ROOT,
    timeout: float = TIMEOUT,
    mat2: str = MAT2,
) -> Iterator[BinaryIO]:
    """The cleaned copy of a file, open for reading while the ``with`` block lasts; its directory is gone after.

    Raises ``StripRefused`` for a format not in ``CLEANABLE``, when ``root`` is not memory-backed, and when
    mat2 fails, exits non-zero or runs past ``timeout``.
    """
    extension = CLEANABLE.get(media_type)
    if extension is None or not is_memory_backed(root):
        raise StripRefused
    workdir = root / f"{PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
    os.mkdir(workdir, 0o700)
    try:
        item = workdir / f"item.{extension}"
        _write(item, chunks)
        limits = _limits(item.stat().st_size, timeout)
        _run([*limits, *_mat2_command(mat2, item)], workdir, timeout)
        if _left_behind(item, workdir, timeout, limits):
            raise StripRefused
        try:
            cleaned = open(item, "rb")  # closed below, before the directory goes
        except OSError:
            raise StripRefused from None
        with cleaned:
            yield cleaned
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def strip_bytes(data: bytes, media_type: str, *, root: Path = SCRATCH_ROOT, timeout: float = TIMEOUT) -> bytes:
    """The cleaned copy of a small file, whole (``stripped`` streams larger ones)."""
    with stripped([data], media_type, root=root, timeout=timeout) as cleaned:
        return cleaned.read()


def _write(item: Path, chunks: Iterable[bytes]) -> None:
    fd = os.open(item, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            out.write(chunk)


def _mat2_command(mat2: str, item: Path) -> list[str]:
    return [mat2, "--inplace", item.name]


def _limits(size: int, timeout: float) -> list[str]:
    """``prlimit`` before a tool: bounded memory, file size and CPU time, and no core dump (a core file of a
    tool that crashed would hold the plaintext it was cleaning, on disk). ``prlimit`` sets the limits on
    itself and then executes the tool, so the tool keeps its process and process group."""
    return [
        PRLIMIT,
        f"--as={MEMORY_LIMIT}",
        f"--fsize={GROWTH * size + GROWTH_FLOOR}",
        f"--cpu={max(1, math.ceil(timeout))}",
        "--core=0",
        "--",
    ]


def _left_behind(item: Path, workdir: Path, timeout: float, limits: list[str]) -> bool:
    """Whether exiftool still finds a tag naming a person, a place or a device in the cleaned file."""
    out = _run([*limits, EXIFTOOL, "-j", "-a", "-G1", item.name], workdir, timeout, capture=True)
    try:
        found = json.loads(out)
    except ValueError:
        return True
    if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], dict):
        return True
    return any(LEFT_BEHIND.search(key.split(":")[-1]) for key in found[0])


def _run(command: list[str], workdir: Path, timeout: float, *, capture: bool = False) -> bytes:
    """Run a tool on a file of the directory in its own process group; refuse on any failure. On a timeout
    the whole group is killed, so nothing it started goes on writing into the directory."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": str(workdir),
        "HOME": str(workdir),
        "XDG_CACHE_HOME": str(workdir),
    }
    try:
        process = subprocess.Popen(  # noqa: S603 - a fixed program on a file name we made
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # it names the file and what is wrong with it: not for the logs
            start_new_session=True,
        )
    except OSError:
        raise StripRefused from None
    try:
        out, _ = process.communicate(timeout=timeout)
        code = process.returncode
    except BaseException as exc:  # past its time, or this thread interrupted: the group goes first
        # The leader is not reaped yet, so its process group id is still its own.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise StripRefused from None
        raise
    if code != 0:
        raise StripRefused
    return out or b""


def sweep_leftovers(root: Path = SCRATCH_ROOT) -> int:
    """Remove the stripping directories of processes that no longer run (killed mid-way); how many went."""
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in root.iterdir():
            if not entry.name.startswith(PREFIX) or not entry.is_dir() or entry.is_symlink():
                continue
            pid_text = entry.name[len(PREFIX) :].split("-", 1)[0]
            if not pid_text.isdigit() or _alive(int(pid_text)):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
