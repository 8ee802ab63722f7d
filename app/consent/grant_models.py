"""Use grants: consent records (one row per version, never changed), their withdrawals and invalidations,
and the erasure requests a withdrawal files.

A record's versions form a chain: the first version's id is the chain's id, and each later version names
the version it supersedes in ``amends``, which is unique, so two amendments of one version cannot both be
written. Whether a version is superseded is read from its successor, never stored on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class UseConsent(Base):
    """One version of a use-consent record: clear columns for access and ordering, the rest sealed."""

    __tablename__ = "use_consents"
    __table_args__ = (UniqueConstraint("chain_id", "version"), {"info": {"append_only": True}})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"), index=True)
    chain_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    """The id of the chain's first version."""
    version: Mapped[int] = mapped_column(Integer)
    amends: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("use_consents.id"), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(16))
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    text_sha256: Mapped[str] = mapped_column(String(64))
    form_digest: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(24))
    obtained_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    obtained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    interview_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("interviews.id"), default=None)
    """The interview at whose end it was recorded (a reconfirmation), if any."""
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON: grants, refusals, restrictions, retention per category, witness, place, notes, receipt."""
    reference_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True, default=None)
    """On a chain's first version: the keyed hash of the chain's reference code (app/consent/reference.py).
    The code itself is told to the person once and never stored."""


class ConsentInvalidation(Base):
    """A custodian's finding that a record is invalid (consent given under pressure, say); one per record."""

    __tablename__ = "consent_invalidations"
    __table_args__ = ({"info": {"append_only": True}},)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    consent_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("use_consents.id"), unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"))
    invalidated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    invalidated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON: the reason."""


class ConsentWithdrawal(Base):
    """A withdrawal filed against one record version: of every grant of its chain, or of the grants named."""

    __tablename__ = "consent_withdrawals"
    __table_args__ = ({"info": {"append_only": True}},)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    consent_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("use_consents.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"))
    mode: Mapped[str] = mapped_column(String(24))
    received_via: Mapped[str] = mapped_column(String(24))
    withdrawn_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    withdrawn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed JSON: the scope ("all" or the grant ids) and the reason, if given."""


ERASURE_PENDING = "pending"
"""An erasure request's state until it is carried out or refused: the custodians' queue."""
ERASURE_DONE = "erased"
ERASURE_REFUSED = "refused"
ERASURE_JOINED = "joined"
"""A request filed for a person whose erasure was pending already (before one pending request per person)."""


class ErasureRequest(Base):
    """An erasure of one person: filed by a withdraw_and_erase withdrawal, or asked for by a custodian.

    A person has at most one pending request: a second withdraw_and_erase joins the one there is, and a
    custodian asking for an erasure takes the pending one up. It stays pending until two custodians carry it
    out (``erased``) or one refuses it with a reason (``refused``); a confirmation that expires leaves it
    pending. ``details`` is sealed under the service key (it must outlive the person's own key): the reason
    the custodian gave, and the refusal's reason.
    """

    __tablename__ = "erasure_requests"
    __table_args__ = (
        Index(
            "uq_erasure_requests_person_id",
            "person_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("people.id"), index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id"))
    withdrawal_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("consent_withdrawals.id"), unique=True, default=None
    )
    """The withdraw_and_erase withdrawal that filed it; None for a custodian's own request."""
    state: Mapped[str] = mapped_column(String(16))
    """``pending``, ``erased``, ``refused`` (or ``joined``)."""
    requested_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    asked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    """The custodian who last asked for it to be carried out (the first of the two)."""
    include_linked: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    """Ids of records decided to be the same person that the custodians erase with it."""
    details: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Sealed JSON under the service key: the custodian's reason and the refusal's reason."""
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    """Who confirmed (erased) or refused it."""
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
