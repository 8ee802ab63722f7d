"""The build's consent-file spool: what it holds is sealed on disk under a key of its own, in a file with no name,
and the file is gone once the spool closes, however the block ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.crypto.errors import DecryptionFailed
from app.exports.spool import Spool

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
