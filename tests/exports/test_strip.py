"""Metadata stripping with the real mat2, checked with the real exiftool; the private directory never stays."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.consent.vocabulary import RecipientClass
from app.exports import strip
from app.exports.strip import REFUSED, StripRefused, keeps_original, strip_bytes, stripped, sweep_leftovers
from tests.support import tagged

ROOT = Path(__file__).resolve().parent.parent.parent

# What a phone, a camera or a recorder leaves that names a person, a place or a device, as exiftool names it.
LEAKY = ("GPS", "Artist", "Author", "Creator", "Make", "Model", "Software", "Encoder", "Location", "UserDefined")
LEAKY_VALUES = (tagged.AUTHOR, tagged.DEVICE, "48.85", "48 deg", "Google")


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A memory-backed root of its own, so a test sees exactly what stripping leaves there."""
    root = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="pytest-strip-"))
    yield root
    for entry in root.iterdir():
        subprocess.run(["/bin/rm", "-rf", str(entry)], check=False)
    root.rmdir()


def _exif(data: bytes, suffix: str, directory: Path) -> dict[str, object]:
    path = directory / f"read.{suffix}"
    path.write_bytes(data)
    out = subprocess.run(
        ["/usr/bin/exiftool", "-j", "-a", "-G1", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    path.unlink()
    found = json.loads(out)[0]
    assert isinstance(found, dict)
    return found


def _leaks(found: dict[str, object]) -> list[str]:
    keys = [k for k in found if any(word.lower() in k.split(":")[-1].lower() for word in LEAKY)]
    values = [f"{k}={v}" for k, v in found.items() if any(s in str(v) for s in LEAKY_VALUES)]
    return keys + values


def _make(kind: str, directory: Path) -> bytes:
    if kind == "mp3":
        return tagged.mp3()
    if kind == "ogg":
        return tagged.ogg()
    return tagged.drawn(kind, directory)


KINDS = [
    ("jpeg", "image/jpeg", "jpg", "JPEG"),
    ("png", "image/png", "png", "PNG"),
    ("pdf", "application/pdf", "pdf", "PDF"),
]


@pytest.mark.parametrize(("kind", "media_type", "suffix", "file_type"), KINDS)
def test_exiftool_finds_no_author_gps_or_device_after_stripping(
    tmp_path: Path, scratch: Path, kind: str, media_type: str, suffix: str, file_type: str
) -> None:
    original = _make(kind, tmp_path)
    before = _exif(original, suffix, tmp_path)
    assert len(_leaks(before)) >= 2, before  # the fixture does carry what must go

    cleaned = strip_bytes(original, media_type, root=scratch)

    after = _exif(cleaned, suffix, tmp_path)
    assert _leaks(after) == [], after
    assert after["File:FileType"] == file_type  # still a file of its kind
    assert list(scratch.iterdir()) == []


def test_gps_is_gone_from_a_stripped_photo(tmp_path: Path, scratch: Path) -> None:
    original = tagged.drawn("jpeg", tmp_path)
    assert any("GPS" in key for key in _exif(original, "jpg", tmp_path))
    cleaned = strip_bytes(original, "image/jpeg", root=scratch)
    assert not any("GPS" in key for key in _exif(cleaned, "jpg", tmp_path))
    assert tagged.AUTHOR.encode() not in cleaned
    assert tagged.DEVICE.encode() not in cleaned


def test_the_cleaned_copy_streams_and_the_directory_goes_when_the_reader_fails(tmp_path: Path, scratch: Path) -> None:
    original = tagged.drawn("png", tmp_path)
    chunks = [original[i : i + 100] for i in range(0, len(original), 100)]
    seen: list[object] = []

    def write_bundle() -> None:
        with stripped(chunks, "image/png", root=scratch) as cleaned:
            seen.append(cleaned.read(8))
            seen.append(len(list(scratch.iterdir())))  # the directory exists only while the copy is read
            raise RuntimeError("the bundle writer failed")

    with pytest.raises(RuntimeError):
        write_bundle()
    assert seen == [b"\x89PNG\r\n\x1a\n", 1]
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "media_type", ["video/mp4", "audio/wav", "image/heic", "text/plain", "application/zip", "audio/mpeg", "audio/ogg"]
)
def test_a_format_not_cleaned_here_is_refused_with_the_generic_reason(scratch: Path, media_type: str) -> None:
    """Audio among them: mat2 leaves tags exiftool cannot see (an MP3's APEv2, a chained Ogg stream's)."""
    with pytest.raises(StripRefused) as refused:
        strip_bytes(b"\x00" * 64, media_type, root=scratch)
    assert str(refused.value) == REFUSED
    assert list(scratch.iterdir()) == []


def test_a_file_mat2_cannot_read_is_refused_and_leaves_nothing(tmp_path: Path, scratch: Path) -> None:
    broken = tagged.drawn("jpeg", tmp_path)[:200]
    with pytest.raises(StripRefused) as refused:
        strip_bytes(broken, "image/jpeg", root=scratch)
    assert str(refused.value) == REFUSED
    assert list(scratch.iterdir()) == []


def test_a_root_on_disk_is_refused_before_anything_is_written() -> None:
    before = sorted(ROOT.iterdir())
    assert not strip.is_memory_backed(ROOT)
    with pytest.raises(StripRefused):
        strip_bytes(b"\xff\xd8\xff", "image/jpeg", root=ROOT)
    assert sorted(ROOT.iterdir()) == before


def _stand_in(tmp_path: Path, body: str) -> str:
    """A program in mat2's place (mat2 itself is too quick to catch mid-way); it reports on itself in tmp_path."""
    path = tmp_path / "slow-mat2"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o700)
    return str(path)


def _wait_for(path: Path, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").endswith("\n"):
            return path.read_text(encoding="utf-8")
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never appeared")


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _killed(pid: int, seconds: float = 5) -> bool:
    """Dead within a few seconds: a SIGKILL sent to a process group is delivered, not waited for, so on a
    busy machine a grandchild can still be running for a moment after the kill returns."""
    deadline = time.monotonic() + seconds
    while not _dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_mat2_past_its_time_is_killed_with_all_it_started_and_the_directory_goes(tmp_path: Path, scratch: Path) -> None:
    report = tmp_path / "report"
    mat2 = _stand_in(tmp_path, f'sleep 60 &\necho "$! $(stat -c %a .) $(stat -c %a item.jpg) $TMPDIR" > {report}\nwait')
    started = time.monotonic()
    with pytest.raises(StripRefused), stripped([b"\xff\xd8\xff"], "image/jpeg", root=scratch, timeout=1, mat2=mat2):
        pass
    assert time.monotonic() - started < 15
    child, dir_mode, file_mode, tmpdir = _wait_for(report).split()
    assert (dir_mode, file_mode) == ("700", "600")
    assert Path(tmpdir).parent == scratch  # mat2's own temporary files go into the private directory
    assert _killed(int(child))
    assert list(scratch.iterdir()) == []


def test_mat2_killed_mid_way_refuses_the_file_and_the_directory_goes(tmp_path: Path, scratch: Path) -> None:
    report = tmp_path / "report"
    mat2 = _stand_in(tmp_path, f"echo $$ > {report}\nexec sleep 60")
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            strip_bytes_with(mat2, scratch)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    os.kill(int(_wait_for(report)), signal.SIGKILL)
    worker.join(30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], StripRefused)
    assert list(scratch.iterdir()) == []


def strip_bytes_with(mat2: str, root: Path) -> bytes:
    with stripped([b"\xff\xd8\xff"], "image/jpeg", root=root, timeout=60, mat2=mat2) as cleaned:
        return cleaned.read()


_KILLED_WORKER = """
import sys
from pathlib import Path
from app.exports.strip import stripped
with stripped([b"plaintext"], "image/jpeg", root=Path(sys.argv[1]), timeout=60, mat2=sys.argv[2]) as f:
    f.read()
"""


def test_a_build_killed_while_stripping_leaves_a_directory_the_sweep_removes(tmp_path: Path, scratch: Path) -> None:
    report = tmp_path / "report"
    mat2 = _stand_in(tmp_path, f"echo $$ > {report}\nexec sleep 60")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-c", _KILLED_WORKER, str(scratch), mat2], env=env)
    stand_in = int(_wait_for(report))
    try:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        left = list(scratch.iterdir())
        assert len(left) == 1
        assert (left[0] / "item.jpg").read_bytes() == b"plaintext"

        ours = scratch / f"{strip.PREFIX}{os.getpid()}-0000000000000000"
        ours.mkdir(0o700)  # a live process's directory: not the sweep's to take
        assert sweep_leftovers(scratch) == 1
        assert list(scratch.iterdir()) == [ours]
    finally:
        os.kill(stand_in, signal.SIGKILL)  # it ran in a session of its own and outlived the worker


@pytest.mark.parametrize("recipient_class", list(RecipientClass))
def test_only_international_criminal_investigators_keep_originals(recipient_class: RecipientClass) -> None:
    expected = recipient_class is RecipientClass.INTL_CRIMINAL_INVESTIGATORS
    assert keeps_original(recipient_class) is expected
    assert keeps_original(recipient_class.value) is expected


def test_a_file_that_still_names_its_author_after_mat2_is_refused(tmp_path: Path, scratch: Path) -> None:
    # A cleaner that reports success and changes nothing: exiftool's look afterwards refuses the file.
    mat2 = _stand_in(tmp_path, "exit 0")
    original = tagged.drawn("jpeg", tmp_path)
    with pytest.raises(StripRefused), stripped([original], "image/jpeg", root=scratch, mat2=mat2):
        pass
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(("kind", "media_type"), [("mp3", "audio/mpeg"), ("ogg", "audio/ogg")])
def test_tagged_audio_is_refused_not_sent_with_its_tags(
    tmp_path: Path, scratch: Path, kind: str, media_type: str
) -> None:
    with pytest.raises(StripRefused):
        strip_bytes(_make(kind, tmp_path), media_type, root=scratch)
    assert list(scratch.iterdir()) == []


def test_the_tools_run_with_bounded_memory_file_size_and_cpu_and_no_core_dump(tmp_path: Path, scratch: Path) -> None:
    report = tmp_path / "limits"
    mat2 = _stand_in(tmp_path, f"cat /proc/self/limits > {report}.tmp && mv {report}.tmp {report}")
    data = b"\xff\xd8\xff" + b"\0" * 1000
    with contextlib.suppress(StripRefused), stripped([data], "image/jpeg", root=scratch, timeout=30, mat2=mat2):
        pass
    limits = {line[:26].strip(): line[26:].split() for line in report.read_text(encoding="utf-8").splitlines()[1:]}
    assert limits["Max core file size"][:2] == ["0", "0"]
    assert limits["Max address space"][:2] == [str(strip.MEMORY_LIMIT)] * 2
    assert limits["Max file size"][:2] == [str(strip.GROWTH * len(data) + strip.GROWTH_FLOOR)] * 2
    assert limits["Max cpu time"][:2] == ["30", "30"]
    assert list(scratch.iterdir()) == []


def test_a_tool_writing_past_its_file_size_bound_is_refused_and_leaves_nothing(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(strip, "GROWTH_FLOOR", 4096)
    mat2 = _stand_in(tmp_path, "head -c 1000000 /dev/zero > item.jpg")  # a file that balloons
    with pytest.raises(StripRefused), stripped([b"\xff\xd8\xff"], "image/jpeg", root=scratch, mat2=mat2):
        pass
    assert list(scratch.iterdir()) == []
