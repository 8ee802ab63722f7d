"""HTTP adapters for use grants: consent records, amendments, invalidation and withdrawal."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, status
from fastapi.responses import HTMLResponse, Response

from app.access.deps import CurrentPrincipal, RuntimeDep
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.consent import grants, lookup, receipt_page, receipts, withdrawal
from app.consent.grant_schemas import (
    InvalidatedRead,
    InvalidateIn,
    LookupIn,
    LookupRead,
    UseConsentCreate,
    UseConsentRead,
    WithdrawalRead,
    WithdrawIn,
)
from app.consent.record_schemas import ConsentRecord, Receipt
from app.core.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["consent"])


@router.post("/people/{person_id}/consents", response_model=UseConsentRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.CONSENT_RECORD, "use_consent")
def record(
    person_id: uuid.UUID, data: UseConsentCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> UseConsentRead:
    """A new use-consent record: grants, refusals, restrictions and retention, pinned to the form text read."""
    return grants.record_consent(session, runtime, principal, person_id, data)


@router.get("/people/{person_id}/consents", response_model=Page[UseConsentRead])
@audited(AuditAction.CONSENT_READ, "use_consent", id_param="person_id")
def list_consents(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Page[UseConsentRead]:
    """Every version of every use-consent record of the person, oldest first."""
    return grants.list_consents(session, runtime, principal, person_id, page)


@router.get("/consents/{consent_id}", response_model=UseConsentRead)
@audited(AuditAction.CONSENT_READ, "use_consent", id_param="consent_id")
def read(consent_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> UseConsentRead:
    return grants.read_consent(session, runtime, principal, consent_id)


@router.post("/consents/{consent_id}/amend", response_model=UseConsentRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.CONSENT_AMEND, "use_consent", id_param="consent_id")
def amend(
    consent_id: uuid.UUID, data: UseConsentCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> UseConsentRead:
    """A new version superseding this one (409 when it is superseded, invalid or withdrawn whole)."""
    return grants.amend(session, runtime, principal, consent_id, data)


@router.post("/consents/{consent_id}/invalidate", response_model=InvalidatedRead)
@audited(AuditAction.CONSENT_INVALIDATE, "use_consent", id_param="consent_id")
def invalidate(
    consent_id: uuid.UUID, data: InvalidateIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> InvalidatedRead:
    """A custodian marks a record invalid, with a reason: its chain allows nothing more."""
    return grants.invalidate(session, runtime, principal, consent_id, data)


@router.post("/consents/{consent_id}/withdraw", response_model=WithdrawalRead, status_code=status.HTTP_201_CREATED)
@audited(AuditAction.CONSENT_WITHDRAW, "use_consent", id_param="consent_id")
def withdraw(
    consent_id: uuid.UUID, data: WithdrawIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> WithdrawalRead:
    """Withdraw every grant of the record or the grants named; it takes effect at once."""
    return withdrawal.withdraw(session, runtime, principal, consent_id, data)


@router.post("/consents/lookup", response_model=LookupRead)
@audited(AuditAction.CONSENT_LOOKUP, "use_consent")
def find(data: LookupIn, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> LookupRead:
    """Find a record from the survivor's reference code (or pseudonym code) and their code word; throttled,
    audited, and the same 404 for a wrong code word as for an unknown code."""
    return lookup.lookup(session, runtime, principal, data)


@router.get("/consents/{consent_id}/record", response_model=ConsentRecord)
@audited(AuditAction.CONSENT_READ, "use_consent", id_param="consent_id")
def standard_record(
    consent_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep
) -> ConsentRecord:
    """The version in the structure of ISO/IEC TS 27560 as W3C DPV maps it (docs/consent-record.md)."""
    return receipts.record(session, runtime, principal, consent_id)


@router.get("/consents/{consent_id}/receipt", response_model=Receipt)
@audited(AuditAction.CONSENT_RECEIPT, "use_consent", id_param="consent_id")
def receipt(consent_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> Receipt:
    """The receipt's fields: ISO/IEC TS 27560's, and what Kantara Consent Receipt v1.1 adds."""
    return receipts.receipt(session, runtime, principal, consent_id)


@router.get(
    "/consents/{consent_id}/receipt.html",
    response_class=Response,
    responses={200: {"description": "The printable receipt", "content": {"text/html": {"schema": {"type": "string"}}}}},
)
@audited(AuditAction.CONSENT_RECEIPT, "use_consent", id_param="consent_id")
def receipt_html(
    consent_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    reference_code: Annotated[str | None, Header(alias=receipts.REFERENCE_HEADER, max_length=40)] = None,
) -> HTMLResponse:
    """A printable page in the person's language: the code card, or their choices in plain words (409
    ``no_receipt`` when they chose nothing). The code is printed only when sent back in the Reference-Code
    header (never the URL): it is stored only as a keyed hash."""
    page = receipts.receipt_page(session, runtime, principal, consent_id, reference_code)
    return HTMLResponse(receipt_page.render(page), headers=receipt_page.HEADERS)
