"""A value sealed at one place opens only there: another row, column, person or binding fails,
and so does a data key moved to another person. Through seal_json and open_json, as people and
consent use them; that sealed fields never reach disk or logs in clear is tested on real records
in tests/people/test_sealing.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import new_id, unit_of_work
from app.crypto.errors import DecryptionFailed
from app.keys import datakeys
from app.keys.sealed import Place, open_json, opening_once, seal_json
from app.keys.store import Keys
from tests.support.database import ProvisionedDatabase

VALUE = {"full_name": "Գրիգորյան Ashot", "languages": ["hy", "ru"]}


def _place() -> Place:
    person = new_id()
    return Place("people", "identity", new_id(), person, {"case": new_id().hex, "code": "KX7-42QM"})


@pytest.fixture
def sealed(session_factory: sessionmaker[Session], keys: Keys) -> tuple[Place, bytes]:
    place = _place()
    with unit_of_work(session_factory) as s:
        blob = seal_json(s, keys, place, VALUE)
    with unit_of_work(session_factory) as s:
        assert open_json(s, keys, place, blob) == VALUE
    return place, blob


@pytest.mark.parametrize(
    "moved",
    [
        {"row_id": new_id()},
        {"column": "contact"},
        {"table": "participation_consents"},
        {"binding": {"case": new_id().hex, "code": "KX7-42QM"}},
        {"binding": {"code": "KX7-42QM"}},
    ],
    ids=["row", "column", "table", "bound case", "binding dropped"],
)
def test_a_value_opens_only_at_its_place(
    session_factory: sessionmaker[Session], keys: Keys, sealed: tuple[Place, bytes], moved: dict[str, Any]
) -> None:
    place, blob = sealed
    with pytest.raises(DecryptionFailed), unit_of_work(session_factory) as s:
        open_json(s, keys, replace(place, **moved), blob)


@pytest.mark.parametrize(
    "moved",
    [{"row_id": new_id()}, {"binding": {"code": "KX7-42QM"}}],
    ids=["row", "binding dropped"],
)
def test_a_value_opened_once_is_reused_only_at_its_place_and_only_within_the_block(
    session_factory: sessionmaker[Session], keys: Keys, sealed: tuple[Place, bytes], moved: dict[str, Any]
) -> None:
    place, blob = sealed
    with unit_of_work(session_factory) as s:
        with opening_once(s):
            first = open_json(s, keys, place, blob)
            assert open_json(s, keys, place, blob) is first  # opened once, answered again
            with pytest.raises(DecryptionFailed):
                open_json(s, keys, replace(place, **moved), blob)  # the place is still checked
        again = open_json(s, keys, place, blob)
        assert again == VALUE
        assert again is not first  # the block's values are gone with it


def test_a_value_moved_to_another_person_fails(
    session_factory: sessionmaker[Session], keys: Keys, sealed: tuple[Place, bytes]
) -> None:
    place, blob = sealed
    other = _place()
    with unit_of_work(session_factory) as s:
        seal_json(s, keys, other, {"full_name": "another"})  # the other person has a data key of their own
    with pytest.raises(DecryptionFailed), unit_of_work(session_factory) as s:
        open_json(s, keys, replace(place, person_id=other.person_id), blob)


def test_a_data_key_moved_to_another_person_fails(
    session_factory: sessionmaker[Session], keys: Keys, database: ProvisionedDatabase
) -> None:
    a, b = _place(), _place()
    with unit_of_work(session_factory) as s:
        blob_a = seal_json(s, keys, a, {"full_name": "first"})
        blob_b = seal_json(s, keys, b, {"full_name": "second"})
    database.as_owner(
        "UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE subject_id = :a) WHERE subject_id = :b",
        a=a.person_id,
        b=b.person_id,
    )
    with pytest.raises(DecryptionFailed), unit_of_work(session_factory) as s:
        open_json(s, keys, b, blob_b)
    with unit_of_work(session_factory) as s:
        assert open_json(s, keys, a, blob_a) == {"full_name": "first"}


def test_a_person_without_a_data_key_opens_nothing(
    session_factory: sessionmaker[Session], keys: Keys, sealed: tuple[Place, bytes], database: ProvisionedDatabase
) -> None:
    place, blob = sealed
    database.as_owner("DELETE FROM data_keys WHERE subject_id = :p", p=place.person_id)  # as erasure does
    with pytest.raises(DecryptionFailed), unit_of_work(session_factory) as s:
        open_json(s, keys, place, blob)


def test_a_key_stored_meanwhile_is_used_not_refused(
    session_factory: sessionmaker[Session], keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first seals for one person at once: the later one looked before the earlier committed
    its key, so its look found nothing. It must seal under the key now stored, not answer 409."""
    person = new_id()
    with unit_of_work(session_factory) as s:
        first = datakeys.sealing_key(s, keys, person)
    monkeypatch.setattr(datakeys, "has_data_key", lambda session, subject_id: False)  # the look that came too early
    with unit_of_work(session_factory) as s:
        assert datakeys.sealing_key(s, keys, person) == first
