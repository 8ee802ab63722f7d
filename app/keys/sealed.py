"""Sealing structured values under a person's data key, bound to their place and to the clear
columns that decide access to them (AAD v2)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.core.db import db_now
from app.crypto import aead
from app.keys import datakeys
from app.keys.models import SealState
from app.keys.store import Keys

STATE_ROW = 1


@dataclass(frozen=True)
class Place:
    """Where a sealed value lives, and the clear values it is bound to."""

    table: str
    column: str
    row_id: uuid.UUID
    person_id: uuid.UUID
    binding: Mapping[str, str]


def accepts_v1(session: Session) -> bool:
    """Whether values sealed before AAD v2 still open: until `testimony keys reseal` completes.

    A missing state row reads as strict, so deleting it cannot open the old format.
    """
    state = session.get(SealState, STATE_ROW)
    return state is not None and state.accept_v1


def mark_resealed(session: Session) -> None:
    """From now on only v2 values open. The caller has checked that no v1 value is left."""
    state = session.get(SealState, STATE_ROW, with_for_update=True)
    if state is None:
        state = SealState(id=STATE_ROW, accept_v1=False)
        session.add(state)
    state.accept_v1 = False
    state.resealed_at = db_now(session)
    session.flush()


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def seal_json(session: Session, keys: Keys, place: Place, value: Any) -> bytes:
    """JSON-encode and seal as v2; the person's data key is made on first use."""
    return _seal(datakeys.sealing_key(session, keys, place.person_id), place, _encode(value))


def open_json(session: Session, keys: Keys, place: Place, blob: bytes) -> Any:
    """Open a value sealed at the same place with the same binding; DecryptionFailed otherwise. Inside
    ``opening_once``, a value this session already opened at this place is answered as it was opened."""
    once: dict[bytes, tuple[Place, Any]] | None = session.info.get(_ONCE)
    if once is not None and (held := once.get(blob)) is not None and held[0] == place:
        return held[1]
    value = json.loads(_open(session, datakeys.data_key(session, keys, place.person_id), place, blob))
    if once is not None:
        once[blob] = (place, value)
    return value


_ONCE = "sealed_opened_once"


@contextmanager
def opening_once(session: Session) -> Iterator[None]:
    """Within the block, ``open_json`` opens each sealed value once for this session: for a step that asks for
    the same people's values from several places (the export bundle's histories and consent files, a page of
    people at a time). The values are keyed by their sealed bytes (a fresh nonce each time a value is sealed)
    and checked against their place as ``open_json`` checks them; they are shared, so the block's callers only
    read them; and they are dropped when the block ends, so nothing opened outlives it."""
    outer = session.info.get(_ONCE)
    if outer is not None:  # nested: the outer block's values stay until it ends
        yield
        return
    session.info[_ONCE] = {}
    try:
        yield
    finally:
        session.info.pop(_ONCE, None)


def reseal(session: Session, keys: Keys, place: Place, blob: bytes) -> bytes:
    """The same value sealed as v2, bound to the clear values as they are now.

    A v1 value opens only while the database still accepts v1, so once the re-seal has
    completed, an old value put back cannot be blessed by running it again.
    """
    dek = datakeys.data_key(session, keys, place.person_id)
    return _seal(dek, place, _open(session, dek, place, blob))


def _seal(dek: bytes, place: Place, plain: bytes) -> bytes:
    return aead.seal_bound(dek, plain, **_where(place))


def _open(session: Session, dek: bytes, place: Place, blob: bytes) -> bytes:
    accept_v1 = not aead.is_bound(blob) and accepts_v1(session)
    return aead.open_bound(dek, blob, **_where(place), accept_v1=accept_v1)


def _where(place: Place) -> dict[str, Any]:
    """The place and binding as the keyword arguments of the AEAD recipes."""
    return {
        "table": place.table,
        "column": place.column,
        "row_id": place.row_id,
        "person_id": place.person_id,
        "binding": place.binding,
    }
