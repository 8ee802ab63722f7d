"""HTTP adapters for the auditor's API. Reading the log is itself an audited event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit import read
from app.audit.schemas import (
    ActorRead,
    AuditEventPage,
    CheckpointRead,
    ConsistencyProofRead,
    InclusionProofRead,
    PublicKeyRead,
)
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction, Outcome
from app.core.pagination import Page, PageQuery

MAX_SEQ = 2**63 - 1  # sequence numbers and sizes are 64-bit in the database; larger is 422, never a 500

router = APIRouter(prefix="/api/v1/audit", route_class=UnitOfWorkRoute, tags=["audit"])


@router.get("/events", response_model=AuditEventPage)
@audited(AuditAction.AUDIT_READ, "audit_log")
def events(
    principal: CurrentPrincipal,
    session: DbSession,
    actor: Annotated[str | None, Query(max_length=80)] = None,
    action: AuditAction | None = None,
    resource_id: Annotated[str | None, Query(max_length=64)] = None,
    case_id: uuid.UUID | None = None,
    outcome: Outcome | None = None,
    credential: Annotated[str | None, Query(max_length=48)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Annotated[int | None, Query(ge=-1, le=MAX_SEQ)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditEventPage:
    return read.events(
        session,
        principal,
        actor=actor,
        action=action,
        resource_id=resource_id,
        case_id=case_id,
        outcome=outcome,
        credential=credential,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )


@router.get("/checkpoints/latest", response_model=CheckpointRead)
@audited(AuditAction.AUDIT_READ, "audit_checkpoint")
def latest_checkpoint(principal: CurrentPrincipal, session: DbSession) -> CheckpointRead:
    return read.latest_checkpoint(session, principal)


@router.get("/checkpoints", response_model=Page[CheckpointRead])
@audited(AuditAction.AUDIT_READ, "audit_checkpoint")
def checkpoints(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    size: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
) -> Page[CheckpointRead]:
    return read.checkpoints(session, principal, size, page)


@router.get("/proofs/inclusion", response_model=InclusionProofRead)
@audited(AuditAction.AUDIT_READ, "audit_proof")
def inclusion(
    principal: CurrentPrincipal,
    session: DbSession,
    index: Annotated[int, Query(ge=0, le=MAX_SEQ)],
    tree_size: Annotated[int, Query(ge=1, le=MAX_SEQ)],
) -> InclusionProofRead:
    return read.inclusion(session, principal, index, tree_size)


@router.get("/proofs/consistency", response_model=ConsistencyProofRead)
@audited(AuditAction.AUDIT_READ, "audit_proof")
def consistency(
    principal: CurrentPrincipal,
    session: DbSession,
    first: Annotated[int, Query(ge=1, le=MAX_SEQ)],
    second: Annotated[int, Query(ge=1, le=MAX_SEQ)],
) -> ConsistencyProofRead:
    return read.consistency(session, principal, first, second)


@router.get("/public-key", response_model=Page[PublicKeyRead])
@audited(AuditAction.AUDIT_READ, "audit_key")
def public_key(
    principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[PublicKeyRead]:
    return read.public_keys(principal, runtime.keys.for_signing(), runtime.settings.audit.origin, page)


@router.get("/actors/{user_id}", response_model=ActorRead)
@audited(AuditAction.AUDIT_READ, "user", id_param="user_id")
def actor(user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> ActorRead:
    return read.actor(session, principal, user_id)
