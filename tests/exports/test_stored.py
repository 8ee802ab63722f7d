"""The stored bundle: sealed into the data dir as it streams, under a key of its own that goes with it; verified
segment by segment as it streams back out; never a partial file under its final name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from app.core.blobstore import DirectoryBlobStore
from app.core.db import new_id, unit_of_work
from app.crypto import keyring as kr
from app.crypto.errors import DecryptionFailed
from app.exports.bundle import Bundle
from app.exports.stored import bundle_key, erase_bundle, open_bundle, plain_size, seal_bundle, stored_size
from app.keys import datakeys
from tests.support.actors import runtime
from tests.support.bundles import README, info, sample_entries

SEGMENT = 4096  # small segments, so a bundle spans many
DEK = bytes(range(32))


@pytest.fixture
def store(tmp_path: Path) -> DirectoryBlobStore:
    return DirectoryBlobStore(tmp_path / "exports")


def _bundle_bytes() -> Iterator[bytes]:
    return Bundle(sample_entries(), info(), kr.generate().signer, README).chunks()


def _read(store: DirectoryBlobStore, export_id: uuid.UUID, dek: bytes = DEK) -> bytes:
    return b"".join(open_bundle(store, export_id, dek, segment=SEGMENT).chunks())


def test_a_bundle_is_sealed_as_it_streams_and_read_back_whole(store: DirectoryBlobStore) -> None:
    export_id = new_id()
    plain = b"".join(_bundle_bytes())
    stored = seal_bundle(store, export_id, DEK, iter([plain[:5000], plain[5000:]]), segment=SEGMENT)
    assert stored.size == len(plain)
    assert stored.stored_size == store.final_path(export_id.hex).stat().st_size == stored_size(len(plain), SEGMENT)
    assert open_bundle(store, export_id, DEK, segment=SEGMENT).size == len(plain)
    assert _read(store, export_id) == plain
    on_disk = store.final_path(export_id.hex).read_bytes()
    assert b"manifest.json" not in on_disk
    assert b"PK\x03\x04" not in on_disk
    assert list(store.temp_dir.iterdir()) == []


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT])
def test_every_length_round_trips_and_its_stored_size_says_it(store: DirectoryBlobStore, size: int) -> None:
    export_id = new_id()
    data = os.urandom(size)
    seal_bundle(store, export_id, DEK, iter([data]), segment=SEGMENT)
    assert plain_size(store.final_path(export_id.hex).stat().st_size, SEGMENT) == size
    assert _read(store, export_id) == data


def _sealed(store: DirectoryBlobStore) -> tuple[uuid.UUID, Path, bytes]:
    export_id = new_id()
    data = os.urandom(5 * SEGMENT + 100)
    seal_bundle(store, export_id, DEK, iter([data]), segment=SEGMENT)
    return export_id, store.final_path(export_id.hex), data


def test_a_changed_byte_fails_at_its_segment(store: DirectoryBlobStore) -> None:
    export_id, path, data = _sealed(store)
    raw = bytearray(path.read_bytes())
    raw[32 + 3 * (SEGMENT + 16) + 10] ^= 1
    path.write_bytes(bytes(raw))
    got = bytearray()

    def download() -> None:
        for chunk in open_bundle(store, export_id, DEK, segment=SEGMENT).chunks():
            got.extend(chunk)

    with pytest.raises(DecryptionFailed):
        download()
    assert bytes(got) == data[: 3 * SEGMENT]  # only authenticated segments, in place, were released


def test_a_cut_or_grown_file_or_another_key_or_export_fails(store: DirectoryBlobStore) -> None:
    export_id, path, _ = _sealed(store)
    whole = path.read_bytes()
    for changed in (whole[: -(SEGMENT + 16 + 50)], whole[: 32 + 2 * (SEGMENT + 16)], whole + b"\0" * 16):
        path.write_bytes(changed)
        with pytest.raises(DecryptionFailed):
            _read(store, export_id)
    path.write_bytes(whole)
    with pytest.raises(DecryptionFailed):
        _read(store, export_id, bytes(32))
    other = new_id()
    store.final_path(other.hex).parent.mkdir(exist_ok=True)
    store.final_path(other.hex).write_bytes(whole)  # the same file under another export's name
    with pytest.raises(DecryptionFailed):
        _read(store, other)
    with pytest.raises(DecryptionFailed):
        open_bundle(store, new_id(), DEK)


class Broken(Exception):
    pass


def test_a_failure_on_the_way_leaves_no_file(store: DirectoryBlobStore) -> None:
    export_id = new_id()

    def failing() -> Iterator[bytes]:
        yield os.urandom(3 * SEGMENT)
        raise Broken

    with pytest.raises(Broken):
        seal_bundle(store, export_id, DEK, failing(), segment=SEGMENT)
    assert not store.exists(export_id.hex)
    assert list(store.temp_dir.iterdir()) == []
    # Nor does a second build of the same export overwrite a finished one.
    seal_bundle(store, export_id, DEK, iter([b"first"]), segment=SEGMENT)
    with pytest.raises(FileExistsError):
        seal_bundle(store, export_id, DEK, iter([b"second"]), segment=SEGMENT)
    assert _read(store, export_id) == b"first"


def test_the_bundle_key_is_the_exports_own_and_is_erased_with_the_file(app: FastAPI, store: DirectoryBlobStore) -> None:
    keys = runtime(app).keys
    export_id = new_id()
    with unit_of_work(app.state.sessionmaker) as s:
        dek = bundle_key(s, keys, export_id)
    with unit_of_work(app.state.sessionmaker) as s:
        assert bundle_key(s, keys, export_id) == dek  # the same key when the download comes
    plain = b"".join(_bundle_bytes())
    seal_bundle(store, export_id, dek, iter([plain]))
    with unit_of_work(app.state.sessionmaker) as s:
        assert b"".join(open_bundle(store, export_id, bundle_key(s, keys, export_id)).chunks()) == plain
        erase_bundle(s, store, export_id)
    assert not store.exists(export_id.hex)
    with unit_of_work(app.state.sessionmaker) as s:
        assert not datakeys.has_data_key(s, export_id)
        with pytest.raises(DecryptionFailed):  # a copy of the file kept elsewhere can no longer be opened
            datakeys.data_key(s, keys, export_id)
