"""A session unwraps each data key once; an erasure or a rollback in that session forgets it at once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import unit_of_work
from app.crypto.errors import DecryptionFailed
from app.keys.datakeys import create_data_key, data_key, erase_data_key, has_data_key, sealing_key
from app.keys.store import Keys


def _selects(session: Session) -> list[str]:
    seen: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql), named=False)
    return seen


def test_a_key_is_read_and_unwrapped_once_per_session(session_factory: sessionmaker[Session], keys: Keys) -> None:
    subject = uuid.uuid4()
    with unit_of_work(session_factory) as s:
        made = create_data_key(s, keys, subject)
    with unit_of_work(session_factory) as s:
        seen = _selects(s)
        assert [data_key(s, keys, subject) for _ in range(3)] == [made] * 3
        assert len([sql for sql in seen if "data_keys" in sql]) == 1


def test_an_erasure_in_the_same_session_is_seen_at_once(session_factory: sessionmaker[Session], keys: Keys) -> None:
    subject = uuid.uuid4()
    with unit_of_work(session_factory) as s:
        create_data_key(s, keys, subject)
    with unit_of_work(session_factory) as s:
        data_key(s, keys, subject)
        erase_data_key(s, subject)
        assert not has_data_key(s, subject)
        with pytest.raises(DecryptionFailed):
            data_key(s, keys, subject)


def test_a_key_made_in_a_rolled_back_savepoint_is_not_kept(session_factory: sessionmaker[Session], keys: Keys) -> None:
    subject = uuid.uuid4()
    with unit_of_work(session_factory) as s:
        savepoint = s.begin_nested()
        sealing_key(s, keys, subject)
        savepoint.rollback()  # the request failed after sealing
        assert not has_data_key(s, subject)
        with pytest.raises(DecryptionFailed):
            data_key(s, keys, subject)
        fresh = sealing_key(s, keys, subject)
    with unit_of_work(session_factory) as s:
        assert data_key(s, keys, subject) == fresh
