"""Wire shapes for the auditor's API."""

from __future__ import annotations

import uuid
from datetime import datetime

from app.core.schemas import Output


class AuditEventRead(Output):
    seq: int
    at: str
    """UTC time exactly as the stored entry holds it (e.g. 2026-11-30T09:15:29.000000Z)."""
    actor: str
    actor_roles: list[str]
    action: str
    resource_type: str | None
    resource_id: str | None
    case_id: uuid.UUID | None
    purpose: str
    outcome: str
    status: int | None
    request_id: str | None
    credential: str | None
    """session:<id> or token:<id>: which credential acted."""
    claimed_credential: str | None = None
    """The credential a refused request presented, never taken as its actor."""
    new_credential: str | None = None
    """The session or token this event created (login, renewal, token creation)."""
    entry: str
    """The stored bytes (base64): what the Merkle leaf hashes."""


class AuditEventPage(Output):
    events: list[AuditEventRead]
    next_cursor: int | None


class CheckpointRead(Output):
    size: int
    root_hash: str
    note: str
    key_id: str
    created_at: datetime


class InclusionProofRead(Output):
    index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str]


class ConsistencyProofRead(Output):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class PublicKeyRead(Output):
    key_id: str
    public_key: str
    fingerprint: str
    vkey: str
    created: str
    retired: bool


class ActorRead(Output):
    """An actor id of the log, resolved for an auditor: the log itself keeps ids only."""

    id: uuid.UUID
    actor: str
    username: str
    display_name: str
    roles: list[str]
    active: bool


class VerificationRead(Output):
    """The log verified as `testimony audit verify` does, with the current signing key pinned."""

    ok: bool
    entries: int
    """Entries in the log when it was read."""
    covered: int
    """Entries the largest verified checkpoint signs: events 0 to covered - 1."""
    checkpoint: CheckpointRead | None
    """That checkpoint, when one verified."""
    key_id: str
    key_fingerprint: str
    vkey: str
    problems: list[str]
