"""The blob directory: temp names, one writer at a time, final names never replaced, what the sweeper lists."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from app.core.blobstore import BlobBusy, BlobMissing, DirectoryBlobStore


@pytest.fixture
def store(tmp_path: Path) -> DirectoryBlobStore:
    return DirectoryBlobStore(tmp_path / "attachments")


def _key() -> str:
    return uuid.uuid4().hex


def test_folders_and_files_are_private(store: DirectoryBlobStore) -> None:
    key = _key()
    temp = store.create_temp(key)
    temp.append(b"sealed bytes")
    temp.finalise()
    for folder in (store.root, store.temp_dir, store.blob_dir, store.final_path(key).parent):
        assert folder.stat().st_mode & 0o777 == 0o700
    assert store.final_path(key).stat().st_mode & 0o777 == 0o600


def test_a_blob_is_final_only_when_finalised(store: DirectoryBlobStore) -> None:
    key = _key()
    temp = store.create_temp(key)
    temp.append(b"abc")
    temp.append(b"def")
    assert not store.exists(key)
    with pytest.raises(BlobMissing):
        store.open(key)
    assert store.temp_size(key) == 6
    temp.finalise()
    assert store.temp_size(key) is None
    blob = store.open(key)
    assert (blob.size(), blob.read_at(2, 3), blob.read_at(4, 100)) == (6, b"cde", b"ef")
    blob.close()


def test_a_final_blob_is_never_replaced(store: DirectoryBlobStore) -> None:
    key = _key()
    first = store.create_temp(key)
    first.append(b"original")
    first.finalise()
    second = store.create_temp(key)
    second.append(b"replacement")
    with pytest.raises(FileExistsError):
        second.finalise()
    second.discard()
    blob = store.open(key)
    assert blob.read_at(0, 100) == b"original"
    blob.close()


def test_a_failed_finalise_releases_the_temp_blob(store: DirectoryBlobStore) -> None:
    key = _key()
    store.create_temp(key).finalise()
    second = store.create_temp(key)
    second.append(b"leftover")
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(FileExistsError):
        second.finalise()
    assert len(os.listdir("/proc/self/fd")) == fds - 1  # its descriptor is closed, not leaked
    again = store.open_temp(key)  # not BlobBusy: the failed holder let go
    assert again is not None
    assert again.read_at(0, 100) == b"leftover"
    again.discard()


def test_finalising_again_after_a_crash_between_link_and_unlink(store: DirectoryBlobStore) -> None:
    key = _key()
    temp = store.create_temp(key)
    temp.append(b"x")
    temp.sync()
    store.final_path(key).parent.mkdir(mode=0o700, exist_ok=True)
    os.link(store.temp_path(key), store.final_path(key))  # the first attempt got this far
    temp.finalise()
    assert store.exists(key)
    assert store.temp_size(key) is None


def test_one_holder_at_a_time(store: DirectoryBlobStore) -> None:
    key = _key()
    temp = store.create_temp(key)
    with pytest.raises(FileExistsError):
        store.create_temp(key)
    with pytest.raises(BlobBusy):
        store.open_temp(key)
    temp.close()
    again = store.open_temp(key)
    assert again is not None
    again.discard()
    assert store.open_temp(key) is None


def test_a_temp_removed_while_opening_is_not_handed_out(store: DirectoryBlobStore) -> None:
    key = _key()
    store.create_temp(key).close()
    fd = os.open(store.temp_path(key), os.O_RDONLY)
    os.unlink(store.temp_path(key))
    store.temp_path(key).write_bytes(b"")  # another file under the same name
    os.close(fd)
    temp = store.open_temp(key)
    assert temp is not None  # the new file, checked by its inode
    temp.discard()


def test_stale_temps_are_listed_by_age(store: DirectoryBlobStore) -> None:
    old, new = _key(), _key()
    store.create_temp(old).close()
    store.create_temp(new).close()
    hour_ago = time.time() - 3600
    os.utime(store.temp_path(old), (hour_ago, hour_ago))
    (store.temp_dir / "not-a-blob.part").write_bytes(b"")
    assert store.stale_temps(1800) == [old]
    assert sorted(store.stale_temps(0)) == sorted([old, new])


@pytest.mark.parametrize("key", ["../x", "ABCDEF0123456789ABCDEF0123456789", "0" * 31, "0" * 32 + "/", ""])
def test_keys_never_name_a_path(store: DirectoryBlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="hex"):
        store.create_temp(key)
    with pytest.raises(ValueError, match="hex"):
        store.open(key)


def test_remove(store: DirectoryBlobStore) -> None:
    key = _key()
    temp = store.create_temp(key)
    temp.finalise()
    store.remove(key)
    store.remove(key)
    assert not store.exists(key)
