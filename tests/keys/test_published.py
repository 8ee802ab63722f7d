"""`GET /api/v1/keys/signing` publishes the signing key history, to anyone: the key that verifies bundles."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.crypto import keyring as kr
from app.exports import verify_bundle as vb
from app.keys.store import FileKeyStore, Keys
from app.main import create_app
from tests.support.bundles import write_bundle


def test_the_signing_key_history_is_public_and_verifies_a_bundle(
    client: TestClient, keys: Keys, tmp_path: Path
) -> None:
    r = client.get("/api/v1/keys/signing")  # no session, no token
    assert r.status_code == 200
    signer = keys.current.signer
    [key] = r.json()["keys"]
    public = base64.b64decode(key["public_key"])
    assert public == signer.public_key
    assert key == {
        "key_id": signer.key_id,
        "algorithm": "ed25519",
        "public_key": key["public_key"],
        "fingerprint": hashlib.sha256(public).hexdigest(),
        "created": keys.current.signing_keys[0].created,
        "retired": False,
        "current": True,
    }
    assert "seed" not in r.text
    bundle = tmp_path / "bundle.zip"
    write_bundle(bundle, signer)
    assert vb.verify_bundle(bundle, vb.read_key(key["fingerprint"])).ok


def test_a_retired_key_stays_in_the_history_oldest_first(
    settings: Settings, key_store: FileKeyStore, keys: Keys
) -> None:
    old = keys.current.signing_keys[0]
    newer = kr._signing_entry(os.urandom(32))
    keyring = replace(keys.current, signing_keys=(replace(old, retired=True), newer))
    app = create_app(settings, Keys(key_store, keyring))
    try:
        with TestClient(app, base_url="https://testserver") as client:
            r = client.get("/api/v1/keys/signing")
    finally:
        app.state.engine.dispose()
    assert r.status_code == 200
    assert [(k["key_id"], k["retired"], k["current"]) for k in r.json()["keys"]] == [
        (old.key_id, True, False),
        (newer.key_id, False, True),
    ]
