"""HTTP adapters for redactions of confirmed statement versions: preparing, listing, reading, the custodian's
review and the documenters' work queue."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import Page, PageQuery
from app.interviews import service_redactions
from app.interviews.schemas_redactions import RedactionCreate, RedactionRead, RedactionSummary, RedactionWaiting

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["redactions"])


@router.post("/interviews/{interview_id}/redactions", response_model=RedactionRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.REDACTION_CREATE, "redaction")
def prepare_redaction(
    interview_id: uuid.UUID,
    data: RedactionCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
) -> RedactionRead:
    """A redacted version of a confirmed statement version: parts removed, nothing added."""
    return service_redactions.prepare_redaction(session, runtime, principal, interview_id, data)


@router.get("/interviews/{interview_id}/redactions", response_model=Page[RedactionSummary])
@audited(AuditAction.REDACTION_LIST, "redaction", id_param="interview_id")
def list_redactions(
    interview_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[RedactionSummary]:
    return service_redactions.list_redactions(session, principal, interview_id, page)


# Before /redactions/{redaction_id}, which would otherwise take "queue" for an id.
@router.get("/redactions/queue", response_model=Page[RedactionWaiting])
@audited(AuditAction.REDACTION_QUEUE, "statement")
def redaction_queue(principal: CurrentPrincipal, session: DbSession, page: PageQuery) -> Page[RedactionWaiting]:
    """The confirmed statements of completed interviews in your cases that wait for a redaction."""
    return service_redactions.redaction_queue(session, principal, page)


@router.get("/redactions/{redaction_id}", response_model=RedactionRead)
@audited(AuditAction.REDACTION_READ, "redaction", id_param="redaction_id")
def read_redaction(
    redaction_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> RedactionRead:
    return service_redactions.read_redaction(session, runtime, principal, redaction_id)


@router.get("/redactions/{redaction_id}/review", response_model=RedactionRead)
@audited(AuditAction.REDACTION_REVIEW, "redaction", id_param="redaction_id")
def review_redaction(
    redaction_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> RedactionRead:
    """A custodian reads the redacted text an export would send: never the statement it comes from."""
    return service_redactions.review_text(session, runtime, principal, redaction_id)
