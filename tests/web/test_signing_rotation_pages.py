"""A signing-key rotation from the Keys page: `testimony keys rotate-signing`'s service, run at once.

An admin with a fresh second factor makes a new signing key; the retired key signs the transition, the public
chain and the running service's signatures follow at once, and the action is recorded. A form showing an older
key, keys from TESTIMONY_KEYS__MATERIAL and a provider that cannot write are refused in words (en/hy/ru) before
anything changes; the page then shows the current signing key and the command line instead.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.access.models import User
from app.access.roles import Role
from app.audit.models import AuditEvent
from app.core.config import KeySettings, Settings
from app.core.db import unit_of_work
from app.crypto import keyring as kr
from app.crypto.errors import KeyringError
from app.keys.store import EnvKeyStore, FileKeyStore, Keys
from app.main import create_app
from tests.support.actors import make_user, shift_clock
from tests.support.kms import factory
from tests.support.pages import page_login, token_in

KEYS = "/admin/keys"
ROTATE = f"{KEYS}/rotate-signing"


def _admin(app: FastAPI, username: str = "anna") -> Any:
    _, secret = make_user(app, username, [Role.ADMIN])
    client, answer = page_login(app, username, secret)
    assert answer.headers["location"] == "/"
    return client


def _seen(page: str) -> str:
    found = re.search(r'name="key_seen" value="([0-9a-f]{16})"', page)
    assert found, "the page offers no signing rotation"
    return found.group(1)


def _language(client: Any, language: str) -> None:
    client.post("/language", data={"csrf_token": token_in(client.get(KEYS).text), "language": language, "back": KEYS})


def _rotate(client: Any, key_seen: str) -> Any:
    return client.post(ROTATE, data={"csrf_token": token_in(client.get(KEYS).text), "key_seen": key_seen})


def _events(app: FastAPI) -> list[tuple[str, str, str | None]]:
    with unit_of_work(app.state.sessionmaker) as s:
        rows = s.execute(
            select(AuditEvent.outcome, AuditEvent.actor, AuditEvent.resource_id)
            .where(AuditEvent.action == "keys.rotate_signing")
            .order_by(AuditEvent.seq)
        ).all()
    return [(o, a, r) for o, a, r in rows]


def _actor_of(app: FastAPI, username: str) -> str:
    with unit_of_work(app.state.sessionmaker) as s:
        user = s.scalars(select(User).where(User.username == username)).one()
    return f"user:{user.id}"


def test_an_admin_rotates_the_signing_key_and_the_chain_and_signatures_follow(
    app: FastAPI, keys: Keys, key_store: FileKeyStore
) -> None:
    anna = _admin(app)
    before = key_store.load()
    shown = anna.get(KEYS)
    assert shown.status_code == 200
    assert f'id="signing-key-now">{before.signer.key_id}<' in shown.text
    assert _seen(shown.text) == before.signer.key_id
    assert "testimony keys rotate-signing" in shown.text

    done = anna.post(ROTATE, data={"csrf_token": token_in(shown.text), "key_seen": before.signer.key_id})
    assert (done.status_code, done.headers["location"]) == (303, f"{KEYS}?done=signing_rotated")
    after = key_store.load()
    new = after.signer.key_id
    assert new != before.signer.key_id
    assert [k.key_id for k in after.signing_keys] == [before.signer.key_id, new]
    assert sorted(after.keks) == sorted(before.keks)  # only the signing key changed
    assert oct(key_store.path.stat().st_mode & 0o777) == "0o600"

    page = anna.get(done.headers["location"])
    assert "A new signing key signs from now on" in page.text
    assert f'id="signing-key-now">{new}<' in page.text
    # The public chain, through the real app: the retired key's signed statement leads to the new one.
    chain = anna.get("/api/v1/keys/signing").json()
    assert [(k["key_id"], k["current"], k["retired"]) for k in chain["keys"]] == [
        (before.signer.key_id, False, True),
        (new, True, False),
    ]
    assert [(t["from_key_id"], t["to_key_id"]) for t in chain["transitions"]] == [(before.signer.key_id, new)]
    assert keys.for_signing().signer.key_id == new  # the running service signs with it, no restart

    # A form shown before the rotation is refused: one click, one new key.
    stale = _rotate(anna, before.signer.key_id)
    assert stale.status_code == 409
    assert "the signing key changed since this page was shown" in stale.text
    assert [k.key_id for k in key_store.load().signing_keys] == [before.signer.key_id, new]

    anna_actor = _actor_of(app, "anna")
    assert _events(app) == [("allowed", anna_actor, new), ("failed", anna_actor, None)]


def test_it_needs_a_second_factor_given_in_the_last_five_minutes(app: FastAPI, key_store: FileKeyStore) -> None:
    anna = _admin(app)
    before = key_store.load().signer.key_id
    shift_clock(app, timedelta(minutes=6))
    refused = _rotate(anna, before)
    assert refused.status_code == 403
    assert "Confirm your second factor first" in refused.text
    assert key_store.load().signer.key_id == before
    assert [o for o, _, _ in _events(app)] == ["denied"]


@pytest.mark.parametrize("bad", ["", "x", "ABCDEF0123456789", "0123456789abcdef0", "0123456789abcde\x00"])
def test_bad_input_is_refused_and_changes_nothing(app: FastAPI, key_store: FileKeyStore, bad: str) -> None:
    anna = _admin(app)
    before = key_store.load().signer.key_id
    answer = _rotate(anna, bad)
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text
    assert key_store.load().signer.key_id == before


WORDS = (
    ("en", "which cannot be changed from here"),
    ("hy", "որը հնարավոր չէ փոխել այստեղից"),
    ("ru", "который нельзя изменить отсюда"),
)


def test_keys_from_the_environment_are_refused_in_words_and_the_page_shows_the_command(
    settings: Settings, key_file: Path
) -> None:
    material = key_file.read_text()
    store = EnvKeyStore(material, None)
    app = create_app(settings.model_copy(update={"keys": KeySettings(material=material)}), Keys(store, store.load()))
    try:
        anna = _admin(app)
        shown = anna.get(KEYS)
        signer = store.load().signer.key_id
        assert 'id="rotate-signing"' not in shown.text
        assert f'id="signing-key-now">{signer}<' in shown.text
        assert "testimony keys rotate-signing" in shown.text
        for language, words in WORDS:
            _language(anna, language)
            answer = _rotate(anna, signer)
            assert answer.status_code == 409
            assert words in answer.text
            assert "TESTIMONY_KEYS__MATERIAL" in answer.text
        assert key_file.read_text() == material
    finally:
        app.state.engine.dispose()


class _Provider:
    """A KMS-backed store: holds the keyring, and either says it cannot write or refuses each save."""

    description = "test KMS"

    def __init__(self, *, writable: bool) -> None:
        self.writable = writable
        self.ring = kr.generate()
        self.saves = 0

    @property
    def protected(self) -> bool:
        return True

    def load(self) -> kr.Keyring:
        return self.ring

    def save(self, keyring: kr.Keyring) -> None:
        self.saves += 1
        raise KeyringError("kms://vault.internal/keys/7f3a refused the write: permission denied")


@pytest.mark.parametrize(
    ("writable", "language", "words"),
    [
        (False, "en", "The key provider cannot store new keys."),
        (True, "en", "the key store refused to save the new keys; nothing changed"),
        (True, "hy", "բանալիների պահոցը մերժեց պահել նոր բանալիները"),
        (True, "ru", "хранилище ключей отказалось сохранить новые ключи"),
    ],
)
def test_a_provider_that_cannot_write_is_refused_in_words_and_nothing_changes(
    settings: Settings, writable: bool, language: str, words: str
) -> None:
    provider = _Provider(writable=writable)
    before = provider.ring
    configured = settings.model_copy(update={"keys": KeySettings(provider="tests.support.kms:factory")})
    app = create_app(configured, Keys(provider, before))
    try:
        anna = _admin(app)
        _language(anna, language)
        shown = anna.get(KEYS)
        assert f'id="signing-key-now">{before.signer.key_id}<' in shown.text
        assert ('id="rotate-signing"' in shown.text) is writable
        answer = _rotate(anna, before.signer.key_id)
        assert answer.status_code == 409
        if writable:
            assert words in answer.text
        else:
            assert words in shown.text
        assert "vault.internal" not in answer.text  # the provider's own words stay in the server
        assert provider.saves == (1 if writable else 0)
        assert provider.ring is before
        assert [o for o, _, _ in _events(app)] == ["failed"]
    finally:
        app.state.engine.dispose()


def test_with_a_writable_provider_the_page_says_to_restart(settings: Settings) -> None:
    store = factory()
    before = store.load()
    app = create_app(
        settings.model_copy(update={"keys": KeySettings(provider="tests.support.kms:factory")}), Keys(store, before)
    )
    try:
        anna = _admin(app)
        done = _rotate(anna, before.signer.key_id)
        assert done.status_code == 303
        assert factory().load().signer.key_id != before.signer.key_id
        assert (
            "restart every worker and API process so that they sign with the new key"
            in anna.get(done.headers["location"]).text
        )
    finally:
        app.state.engine.dispose()
