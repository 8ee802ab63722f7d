"""`testimony init` makes the key file under the key file's lock, the one every keyring change takes: two inits
racing (real processes) leave one key file, and the later one uses it, saying so, instead of writing its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from app.core.migrate import upgrade
from app.crypto import keyring as kr
from app.keys.store import FileKeyStore, create_key_file, create_private_file

CREATED = "created key file"
MEANWHILE = "was made meanwhile by another `testimony init`; it is used as it is"


def _waiting_on(lock: Path) -> int:
    """How many processes wait for the flock on ``lock`` (/proc/locks lists each waiter with "->")."""
    inode = lock.stat().st_ino
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in lines if "->" in line and re.search(rf":{inode} ", line))


def _init(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "init"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_inits_at_once_make_one_key_file_and_the_later_uses_it(tmp_path: Path, cli_env: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    upgrade(url)  # migrated beforehand: the race under test is the key file's, not the schema's
    key_file = tmp_path / "keys" / "keyring.json"
    env = {**cli_env, "TESTIMONY_DATABASE__URL": url, "TESTIMONY_KEYS__FILE": str(key_file)}
    holder = FileKeyStore(key_file, None)
    with holder.locked():  # as a rotation in progress would: both inits must wait for it before deciding
        inits = [_init(env), _init(env)]
        lock = key_file.with_name(f".{key_file.name}.lock")
        deadline = time.monotonic() + 120
        while _waiting_on(lock) < 2 and time.monotonic() < deadline and all(p.poll() is None for p in inits):
            time.sleep(0.1)
        assert _waiting_on(lock) == 2, [p.communicate()[0] for p in inits if p.poll() is not None]
        assert not key_file.exists()
    outputs = []
    for p in inits:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
        outputs.append(out)
    assert sorted(CREATED in out for out in outputs) == [False, True]
    assert sorted(MEANWHILE in out.replace("\n", "") for out in outputs) == [False, True]
    assert sum("first admin account" in out for out in outputs) == 1

    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    made = key_file.read_bytes()
    assert kr.loads(made, None).signer.key_id
    assert [p.name for p in key_file.parent.iterdir() if p.name.endswith(".new")] == []
    # Run again, the same: the key file is used as it is.
    again = subprocess.run(
        [sys.executable, "-m", "app.cli", "init"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert key_file.read_bytes() == made


def test_a_key_file_made_by_someone_else_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    assert create_private_file(path, b"first")
    assert not create_private_file(path, b"second")
    assert path.read_bytes() == b"first"
    assert not create_key_file(path, None)
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keys.json.lock", "keys.json"]
