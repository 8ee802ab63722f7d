"""A test-only sealed table, standing in for the domain tables until they exist.

It lives in its own metadata so that the migration tests compare only real models.
"""

from __future__ import annotations

import uuid

from sqlalchemy import LargeBinary, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from app.core.db import new_id
from app.crypto import aead
from app.crypto.errors import DecryptionFailed
from app.keys import service as keys_service
from app.keys.store import Keys
from tests.support.database import ProvisionedDatabase

TABLE = "test_sealed_notes"


class _Base(DeclarativeBase):
    metadata = MetaData()


class SealedNote(_Base):
    __tablename__ = TABLE
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    title: Mapped[bytes] = mapped_column(LargeBinary)


def create_table(database: ProvisionedDatabase) -> None:
    database.create_tables(_Base.metadata)


def add_note(session: Session, keys: Keys, person_id: uuid.UUID, body: str, title: str) -> uuid.UUID:
    """Seal a note under the person's data key, making the key on first use."""
    try:
        dek = keys_service.data_key(session, keys, person_id)
    except DecryptionFailed:  # first note for this person
        dek = keys_service.create_data_key(session, keys, person_id)
    note_id = new_id()
    session.add(
        SealedNote(
            id=note_id,
            person_id=person_id,
            body=aead.seal(dek, body.encode(), table=TABLE, column="body", row_id=note_id, person_id=person_id),
            title=aead.seal(dek, title.encode(), table=TABLE, column="title", row_id=note_id, person_id=person_id),
        )
    )
    session.flush()
    return note_id


def read_note(session: Session, keys: Keys, note_id: uuid.UUID) -> tuple[str, str]:
    note = session.get(SealedNote, note_id)
    assert note is not None
    dek = keys_service.data_key(session, keys, note.person_id)
    body = aead.open(dek, note.body, table=TABLE, column="body", row_id=note.id, person_id=note.person_id)
    title = aead.open(dek, note.title, table=TABLE, column="title", row_id=note.id, person_id=note.person_id)
    return body.decode(), title.decode()
