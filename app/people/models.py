"""Interviewees: a pseudonym code first; identity and contact only after consent, sealed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class Person(Base):
    __tablename__ = "people"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    identity: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Sealed JSON under the person's data key."""
    contact: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Sealed JSON: the safe contact channel (never a current address)."""
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class BlindIndexEntry(Base):
    """HMAC of a normalised name and year of birth: exact-match duplicate detection only."""

    __tablename__ = "person_blind_index"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    name_form: Mapped[str | None] = mapped_column(String(16), default=None)
    """Which name the key was made from: "full_name" or "other_name"; None for rows indexed before this was kept."""
    name_number: Mapped[int | None] = mapped_column(Integer, default=None)
    """For an other name, its place in the list (1 for the first)."""
    with_year: Mapped[bool | None] = mapped_column(Boolean, default=None)
    """Whether a year of birth was part of the key."""


class DuplicateReview(Base):
    """Two records that may be the same person, for custodians only; creators are never told.

    ``matches`` says which name forms met when the review was raised (never the names); a review
    closed by inference names in ``linked_by`` the decisions that link the two people, and one
    opened because a "not duplicate" decision kept two groups apart names it in ``blocked_by``.
    """

    __tablename__ = "duplicate_reviews"
    __table_args__ = (UniqueConstraint("person_a", "person_b"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_a: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"))
    person_b: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    origin: Mapped[str] = mapped_column(String(16), default="blind_index", server_default="blind_index")
    """"blind_index" (a name and year met) or "blocked_link" (a link was kept apart by a decision)."""
    matches: Mapped[list[dict[str, object]] | None] = mapped_column(JSON, default=None)
    inferred: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    linked_by: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    """Ids of the "duplicate" decisions that link the two people (or would, for a blocked link)."""
    blocked_by: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    """Ids of the "not duplicate" decisions that keep the two people's groups apart."""


class SamePersonLink(Base):
    """Membership of a group of records decided (directly or through others) to be one person.

    A person with no row is a group of one. Groups merge only on a custodian's "duplicate"
    decision, and never across a "not duplicate" decision.
    """

    __tablename__ = "same_person_links"

    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


HOLD_REQUESTED = "requested"
"""A custodian asked for the hold; a second custodian has not confirmed it yet."""
HOLD_ACTIVE = "active"
"""Confirmed by a second custodian: the person's records may not be erased."""


class LegalHold(Base):
    """A legal hold on one person: while active, their records are kept whatever erasure or retention asks.

    Setting one takes two custodians (a ``legal_hold.set`` confirmation); the reason and the proceedings
    reference are sealed under the person's data key and never logged. A person has at most one hold
    requested or active at a time; lifted, refused and expired holds stay as history.
    """

    __tablename__ = "legal_holds"
    __table_args__ = (
        Index(
            "uq_legal_holds_person_id",
            "person_id",
            unique=True,
            sqlite_where=text("state IN ('requested', 'active')"),
            postgresql_where=text("state IN ('requested', 'active')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    """``requested``, ``active``, ``lifted``, ``rejected`` or ``expired``."""
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON: the reason and the proceedings reference."""
    requested_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lifted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lift_details: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Sealed JSON: why the hold was lifted."""


class ErasedPerson(Base):
    """The tombstone of an erased person: their pseudonym code, when, by whom and through which request.

    Everything sealed under the person's data key stays where it was and can never be opened again; this row
    says why. One per person: a second erasure of the same person finds it and stops.
    """

    __tablename__ = "erased_people"

    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erasure_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("erasure_requests.id"), default=None)
    """The request carried out (for a record erased with a linked one, that one's request)."""
    origin: Mapped[str] = mapped_column(String(16))
    """``withdrawal`` (the survivor asked), ``custodian``, ``linked`` (erased with a record decided to be the same
    person) or ``journal`` (erased again from the journal when a backup was restored)."""
    requested_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    confirmed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
