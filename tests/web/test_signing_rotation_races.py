"""Two admins rotating the signing key from the Keys page at once, on PostgreSQL through a real server, make one
new signing key: the rest are refused because the key they saw is no longer the one signing. A rotation from the
page racing `testimony keys rotate-signing` leaves one unbroken chain with one active key."""

from __future__ import annotations

from collections.abc import Callable

import httpx2 as httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.principal import Principal
from app.audit.models import AuditEvent
from app.core.db import unit_of_work
from app.crypto import keyring as kr
from app.crypto import signing
from app.keys import service as keys_service
from app.keys.store import FileKeyStore
from tests.access.test_concurrency import admin_browsers, served
from tests.support.server import at_once

__all__ = ["served"]  # the PostgreSQL-only server fixture, shared with tests/access/test_concurrency.py

ROTATE = "/admin/keys/rotate-signing"


def _click(client: httpx.Client, key_seen: str) -> Callable[[], httpx.Response]:
    return lambda: client.post(ROTATE, data={"csrf_token": client.headers["x-csrf-token"], "key_seen": key_seen})


def _one_line(ring: kr.Keyring, first: bytes) -> None:
    """One active key, every other retired, and the published transitions lead from the first key to the active
    one without a fork (the verifiers' own chain check)."""
    assert [k.retired for k in ring.signing_keys] == [True] * (len(ring.signing_keys) - 1) + [False]
    chain = signing.follow_chain(first, ring.transitions())
    ids = [k.key_id for k in ring.signing_keys]
    assert [signing.key_id(k) for k in chain] == ids[ids.index(signing.key_id(first)) :]
    assert chain[-1] == ring.signer.public_key


def test_admins_clicking_rotate_signing_at_once_make_one_new_key(
    served: tuple[FastAPI, str], key_store: FileKeyStore
) -> None:
    app, url = served
    before = key_store.load()
    admins = admin_browsers(app, url, 2, "10.0.32")
    answers = at_once([_click(a, before.signer.key_id) for a in admins for _ in range(2)])
    assert sorted(r.status_code for r in answers) == [303, 409, 409, 409]
    assert all("the signing key changed since this page was shown" in r.text for r in answers if r.status_code == 409)
    after = key_store.load()
    assert len(after.signing_keys) == len(before.signing_keys) + 1
    assert after.signing_keys[0].key_id == before.signer.key_id
    _one_line(after, before.signer.public_key)
    with unit_of_work(app.state.sessionmaker) as s:
        outcomes = s.execute(
            select(AuditEvent.outcome, func.count())
            .where(AuditEvent.action == "keys.rotate_signing")
            .group_by(AuditEvent.outcome)
        ).all()
    assert dict(outcomes) == {"allowed": 1, "failed": 3}


def test_the_page_racing_the_command_line_leaves_one_unbroken_chain(
    served: tuple[FastAPI, str], key_store: FileKeyStore
) -> None:
    app, url = served
    before = key_store.load()
    (admin,) = admin_browsers(app, url, 1, "10.0.33")
    system = Principal.system("cli")

    def command_line() -> httpx.Response | str:
        store = FileKeyStore(key_store.path, None)
        return keys_service.rotate_signing(system, store, app.state.sessionmaker).new_key_id

    click: Callable[[], httpx.Response | str] = _click(admin, before.signer.key_id)
    page, cli = at_once([click, command_line])
    assert isinstance(page, httpx.Response)
    assert isinstance(cli, str)
    after = key_store.load()
    _one_line(after, before.signer.public_key)
    assert cli in [k.key_id for k in after.signing_keys]
    if page.status_code == 303:  # the page went first: the command line rotated again from its key
        assert len(after.signing_keys) == len(before.signing_keys) + 2
    else:  # the command line went first: the page's form showed a retired key
        assert page.status_code == 409
        assert len(after.signing_keys) == len(before.signing_keys) + 1
