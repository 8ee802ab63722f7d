"""A 200 MB upload and its download through a real server, in a process of its own.

    python -m tests.interviews.large_upload rss|audit WORKDIR

Run by tests/interviews/test_large_upload.py: an audit hook cannot be removed, and a process's peak
memory only rises, so each check gets a fresh interpreter. It prints one JSON line of findings.

- ``rss``: the process's resident memory, sampled every few milliseconds from before the upload to
  the end of the download, and its kernel high-water mark reset just before (``clear_refs``).
- ``audit``: a ``sys.addaudithook`` hook records every ``open`` and every ``tempfile`` call outside
  the blob directory while the upload and the download run; afterwards it shows that it does catch
  one (so the check can fail).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx

from app.core.config import AttachmentSettings, DatabaseSettings, KeySettings, Settings
from app.core.migrate import upgrade
from app.crypto import keyring as kr
from app.keys.store import FileKeyStore, Keys, write_private_file
from app.main import create_app
from tests.support.attachments import HEADS, interview_for
from tests.support.cheap import CHEAP_ARGON2, CHEAP_SCRYPT
from tests.support.consent import documenter_team
from tests.support.server import serve

SIZE = 200 * 1000 * 1000
CHUNK = 256 * 1024


def _body(size: int, digest: Any) -> Iterator[bytes]:
    """Pseudo-random bytes made as they are sent (never held whole), hashed on the way."""
    rng = random.Random(11)
    first = HEADS["m4a"]
    digest.update(first)
    yield first
    sent = len(first)
    while sent < size:
        chunk = rng.randbytes(min(CHUNK, size - sent))
        digest.update(chunk)
        sent += len(chunk)
        yield chunk


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


class Sampler:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status("VmRSS"))
            time.sleep(0.005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class Watch:
    """Records opens and temp files outside the allowed folder while armed."""

    def __init__(self, allowed: Path) -> None:
        self.allowed = str(allowed.resolve())
        self.armed = False
        self.outside: list[str] = []
        self.inside = 0

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.armed:
            return
        if event.startswith("tempfile."):
            self.outside.append(f"{event} {args!r}")
        elif event == "open" and args and isinstance(args[0], str | bytes | Path):
            path = str(Path(args[0] if not isinstance(args[0], bytes) else args[0].decode()).resolve())
            if path.startswith(self.allowed + "/") or path == self.allowed:
                self.inside += 1
            else:
                self.outside.append(f"open {path}")


def main(mode: str, workdir: Path) -> dict[str, Any]:
    data_dir = workdir / "var"
    data_dir.mkdir(parents=True)
    url = f"sqlite:///{data_dir / 'testimony.db'}"
    upgrade(url)
    key_file = data_dir / "keyring.json"
    write_private_file(key_file, kr.dumps(kr.generate(), None))
    settings = Settings(
        development=True,
        data_dir=data_dir,
        database=DatabaseSettings(url=url),
        keys=KeySettings(file=key_file),
        passwords=CHEAP_ARGON2,
        attachments=AttachmentSettings(max_bytes=SIZE + 1),
    )
    store = FileKeyStore(key_file, None, CHEAP_SCRYPT)
    app = create_app(settings, Keys(store, store.load()))
    doc, case_id = documenter_team(app)
    interview_id, _ = interview_for(app, doc, case_id)
    found: dict[str, Any] = {"mode": mode}
    with serve(app) as base:
        client = httpx.Client(base_url=base, cookies=dict(doc.client.cookies), timeout=300)
        client.headers.update({"x-csrf-token": doc.csrf or "", "attachment-kind": "audio"})
        target = f"/api/v1/interviews/{interview_id}/attachments"

        def round_trip(size: int) -> tuple[str, str, str]:
            sent = hashlib.sha256()
            r = client.post(target, content=_body(size, sent))
            assert r.status_code == 201, r.text
            received = hashlib.sha256()
            with client.stream("GET", f"/api/v1/attachments/{r.json()['id']}/content") as download:
                assert download.status_code == 200
                for chunk in download.iter_bytes():
                    received.update(chunk)
            return sent.hexdigest(), r.json()["sha256"], received.hexdigest()

        round_trip(3 * 1024 * 1024)  # every code path imported and every connection open before measuring
        if mode == "rss":
            found["before"] = _status("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from now
            with Sampler() as sampler:
                found["digests"] = round_trip(SIZE)
            found["sampled_peak"] = sampler.peak
            found["high_water"] = _status("VmHWM")
        else:
            watch = Watch(settings.attachments_dir)
            sys.addaudithook(watch.hook)
            watch.armed = True
            found["digests"] = round_trip(SIZE)
            watch.armed = False
            found["outside"] = list(watch.outside)
            found["opened_inside"] = watch.inside  # the blob store's own opens are seen
            watch.armed = True  # the hook does catch what it looks for
            with open(workdir / "outside.txt", "w") as f:
                f.write("x")
            watch.armed = False
            found["caught"] = watch.outside[len(found["outside"]) :]
        client.close()
    app.state.engine.dispose()
    return found


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]))))
