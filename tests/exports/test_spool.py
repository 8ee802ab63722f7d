"""The build's consent-file spool: what it holds is sealed on disk under a key of its own, in a file with no name,
and the file is gone once the spool closes, however the block ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.crypto.errors import DecryptionFailed
from app.exports.spool import Spool, Tape

SECRET = "Գրիգորյան Ashot, Gyumri, 1987-03-14"


def _open_files() -> dict[int, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return out


def test_the_spool_holds_its_files_sealed_in_a_file_without_a_name(tmp_path: Path) -> None:
    before = _open_files()
    files = {f"record-{i}": f'{{"name": "{SECRET}", "i": {i}}}'.encode() * 20 for i in range(50)}
    with Spool(str(tmp_path)) as spool:
        for name, data in files.items():
            spool.add(name, data)
        assert list(tmp_path.iterdir()) == []  # no name in the directory
        (fd,) = [fd for fd, target in _open_files().items() if fd not in before and target.startswith(str(tmp_path))]
        with open(f"/proc/self/fd/{fd}", "rb") as raw:
            on_disk = raw.read()
        assert len(on_disk) > 50 * 28  # every file is there, each with its nonce and tag
        for needle in (SECRET.encode(), b"Ashot", b"record-", b'"name"'):
            assert needle not in on_disk
        for name in reversed(list(files)):  # read back by name, in any order
            assert spool.read(name) == files[name]
    assert not [fd for fd, target in _open_files().items() if target.startswith(str(tmp_path))]


def test_a_spooled_file_changed_on_disk_fails_to_read(tmp_path: Path) -> None:
    with Spool(str(tmp_path)) as spool:
        spool.add("a", b"first file")
        spool.add("b", b"second file")
        (fd,) = [fd for fd, target in _open_files().items() if target.startswith(str(tmp_path))]
        with open(f"/proc/self/fd/{fd}", "r+b") as raw:
            raw.seek(20)
            byte = raw.read(1)
            raw.seek(20)
            raw.write(bytes([byte[0] ^ 1]))
        with pytest.raises(DecryptionFailed):
            spool.read("a")
        assert spool.read("b") == b"second file"


def _fail_inside(directory: Path) -> None:
    with Spool(str(directory)) as spool:
        spool.add("a", SECRET.encode())
        raise RuntimeError("the build failed")


def test_the_spool_is_gone_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        _fail_inside(tmp_path)
    assert not [fd for fd, target in _open_files().items() if target.startswith(str(tmp_path))]
    assert list(tmp_path.iterdir()) == []


def test_a_tape_gives_back_its_items_in_order_as_often_as_asked_sealed_in_a_file_without_a_name(
    tmp_path: Path,
) -> None:
    before = _open_files()
    items = [f'{{"name": "{SECRET}", "i": {i}}}'.encode() * (i % 7) for i in range(3000)]  # empty ones too
    with Tape(str(tmp_path), block=4096) as tape:
        for item in items[:1000]:
            tape.append(item)
        assert list(tape) == items[:1000]  # read while the last block still gathers
        for item in items[1000:]:
            tape.append(item)
        assert len(tape) == len(items)
        assert list(tape) == items
        assert list(zip(tape, tape, strict=True)) == [(i, i) for i in items]  # two readers at once
        assert list(tmp_path.iterdir()) == []
        (fd,) = [fd for fd, target in _open_files().items() if fd not in before and target.startswith(str(tmp_path))]
        with open(f"/proc/self/fd/{fd}", "rb") as raw:
            on_disk = raw.read()
        assert len(on_disk) > 4096  # many blocks went out
        for needle in (SECRET.encode(), b"Ashot", b'"name"'):
            assert needle not in on_disk
    assert not [fd for fd, target in _open_files().items() if target.startswith(str(tmp_path))]


def test_a_tape_block_changed_or_moved_on_disk_fails_to_read(tmp_path: Path) -> None:
    with Tape(str(tmp_path), block=64) as tape:
        for i in range(40):
            tape.append(b"%d %s" % (i, SECRET.encode()))
        assert len(list(tape)) == 40
        (fd,) = [fd for fd, target in _open_files().items() if target.startswith(str(tmp_path))]
        with open(f"/proc/self/fd/{fd}", "r+b") as raw:
            whole = raw.read()
            first = 4 + int.from_bytes(whole[:4], "big")
            second = 4 + int.from_bytes(whole[first : first + 4], "big")
            raw.seek(0)  # the second block where the first was: each block is bound to its place
            raw.write(whole[first : first + second] + whole[:first] + whole[first + second :])
        with pytest.raises(DecryptionFailed):
            list(tape)
        with open(f"/proc/self/fd/{fd}", "r+b") as raw:
            raw.write(whole)
            raw.seek(30)
            raw.write(bytes([whole[30] ^ 1]))
        with pytest.raises(DecryptionFailed):
            list(tape)


def test_a_tape_dropped_without_closing_takes_its_file_along(tmp_path: Path) -> None:
    tape = Tape(str(tmp_path))
    tape.append(SECRET.encode())
    assert [fd for fd, target in _open_files().items() if target.startswith(str(tmp_path))]
    del tape
    assert not [fd for fd, target in _open_files().items() if target.startswith(str(tmp_path))]
