"""Sealing structured values under a person's data key, bound to their place."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.crypto import aead
from app.keys import service as keys_service
from app.keys.store import Keys


def seal_json(
    session: Session, keys: Keys, person_id: uuid.UUID, *, table: str, column: str, row_id: uuid.UUID, value: Any
) -> bytes:
    """JSON-encode and seal; the person's data key is made on first use."""
    if keys_service.has_data_key(session, person_id):
        dek = keys_service.data_key(session, keys, person_id)  # a key that will not unwrap is an integrity failure
    else:
        dek = keys_service.create_data_key(session, keys, person_id)
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return aead.seal(dek, plain, table=table, column=column, row_id=row_id, person_id=person_id)


def open_json(
    session: Session, keys: Keys, person_id: uuid.UUID, *, table: str, column: str, row_id: uuid.UUID, blob: bytes
) -> Any:
    """Open a value sealed by seal_json at the same place; DecryptionFailed otherwise."""
    dek = keys_service.data_key(session, keys, person_id)
    return json.loads(aead.open(dek, blob, table=table, column=column, row_id=row_id, person_id=person_id))
