"""`testimony backup` taken while the real server is busy: writers create people and seal their identities through
a uvicorn server while a `testimony` process takes the backup. Every write acknowledged before the backup started
is in the restore and opens, everything the restore holds opens, and `testimony audit verify` passes on it. On
SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx2 as httpx
from fastapi import FastAPI

from tests.erasure.backups import age_key, audit_verifies, backup_env, empty_place, identities, run
from tests.support.consent import identity, participation
from tests.support.database import ProvisionedDatabase
from tests.support.exports import desk
from tests.support.server import serve

WRITERS = 4


class Writer(threading.Thread):
    """Makes people one after another (a pseudonym, participation consent, a sealed identity) until told to
    stop; keeps each person whose identity was acknowledged, with the time the acknowledgement arrived."""

    def __init__(self, url: str, cookie: str, csrf: str | None, case_id: str, app: FastAPI, n: int) -> None:
        super().__init__(name=f"writer-{n}", daemon=True)
        headers = {"x-csrf-token": csrf} if csrf else {}
        self.client = httpx.Client(base_url=url, cookies={"testimony_session": cookie}, headers=headers, timeout=60)
        self.case_id = case_id
        self.consent = participation(app)
        self.n = n
        self.stop = threading.Event()
        self.acknowledged: list[tuple[float, str, str]] = []
        self.begun: dict[str, float] = {}
        """When the request that made each person was sent."""
        self.failures: list[str] = []

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                i += 1
                name = f"Writer {self.n} Person {i}"
                sent = time.monotonic()
                made = self.client.post(f"/api/v1/cases/{self.case_id}/people")
                if made.status_code != 201:
                    self.failures.append(f"create {made.status_code}")
                    continue
                person = made.json()["id"]
                self.begun[person] = sent
                took = self.client.post(f"/api/v1/people/{person}/participation", json=self.consent)
                named = self.client.patch(f"/api/v1/people/{person}", json=identity(name))
                if took.status_code != 201 or named.status_code != 200:
                    self.failures.append(f"consent {took.status_code}, identity {named.status_code}")
                    continue
                self.acknowledged.append((time.monotonic(), person, name))
        finally:
            self.client.close()


def test_a_backup_taken_under_concurrent_writes_restores_everything_acknowledged_before_it(
    app: FastAPI, database: ProvisionedDatabase, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    d = desk(app)
    key = age_key(tmp_path)
    out = tmp_path / "backup.age"
    env = {**os.environ, **backup_env(cli_env, database, key)}
    cookie = d.doc.client.cookies.get("testimony_session")
    assert cookie is not None
    with serve(app) as url:
        writers = [Writer(url, cookie, d.doc.csrf, d.case_id, app, n) for n in range(WRITERS)]
        for w in writers:
            w.start()
        try:
            while sum(len(w.acknowledged) for w in writers) < 3 * WRITERS:
                time.sleep(0.05)  # the writers are well under way
            started = time.monotonic()
            taken = subprocess.run(
                [str(Path(sys.executable).with_name("testimony")), "backup", "--out", str(out)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            finished = time.monotonic()
            while sum(1 for w in writers for t, *_ in w.acknowledged if t > finished) < WRITERS:
                time.sleep(0.05)  # and went on writing after it
        finally:
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join(60)
    assert taken.returncode == 0, taken.stderr
    assert "NOT in this backup" in " ".join(taken.stderr.split())
    assert not [f for w in writers for f in w.failures]
    before = {uuid.UUID(p): name for w in writers for t, p, name in w.acknowledged if t < started}
    after = {uuid.UUID(p) for w in writers for p, sent in w.begun.items() if sent > finished}
    assert len(before) >= 3 * WRITERS

    with empty_place(cli_env, database, key, tmp_path) as restored:
        done = run(restored, "restore", str(out))
        assert done.exit_code == 0, done.output
        opened = identities(restored["TESTIMONY_DATABASE__URL"], app.state.runtime.keys)
        assert {p: opened.get(p) for p in before} == before  # every acknowledged write, and it opens
        assert None not in opened.values()  # and whatever else the snapshot caught is whole
        assert after
        assert not after & set(opened)  # the snapshot is of one moment before the command ended
        audit_verifies(restored, key_file)
