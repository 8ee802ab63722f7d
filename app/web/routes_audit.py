"""The auditor's pages: the event log with its filters, the log's verification, the values to pin and the
disclosure ledger. The same services as /api/v1/audit and /api/v1/disclosures; every page is itself logged,
and none shows content (events and ledger rows hold ids, never a word of testimony)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.access.deps import RuntimeDep
from app.audit import read
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction, Outcome
from app.core.errors import ValidationFailed
from app.core.pagination import PageQuery
from app.exports import report
from app.web import render
from app.web.deps import PagePrincipal
from app.web.errors import on_error
from app.web.forms import blank_to_none
from app.web.messages import _

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

EVENTS = "/audit/events"
STATUS = "/audit/status"
PIN = "/audit/pin"
LEDGER = "/audit/disclosures"
PAGE_SIZE = 50
MAX_SEQ = 2**63 - 1  # sequence numbers are 64-bit in the database; larger is 422, never a 500
Text = Annotated[str, Query(max_length=80)]
AUDIT_CHECKS = (
    _("no account has that username"),
    _("no checkpoint of that size"),
    _("no checkpoint has been signed yet: on the server, run `testimony audit checkpoint`"),
    _(
        "no checkpoint has been signed yet: on the server, run `testimony audit checkpoint` to sign one now, "
        "and keep `testimony audit checkpointer` running to sign them as events accumulate"
    ),
    _("the event must be one the checkpoint signs: below its size"),
    _("the first checkpoint must not be larger than the second"),
)
"""The audit services' refusals that the auditor's pages show, marked for the catalogs."""


def _action(value: str | None) -> AuditAction | None:
    if value is None:
        return None
    try:
        return AuditAction(value)
    except ValueError:
        raise ValidationFailed(_("choose an action from the list"), fields=["action"]) from None


def _outcome(value: str | None) -> Outcome | None:
    if value is None:
        return None
    try:
        return Outcome(value)
    except ValueError:
        raise ValidationFailed(_("choose an outcome from the list"), fields=["outcome"]) from None


def _instant(value: str | None, field: str) -> datetime | None:
    """A time typed in the form, read as UTC (the log's clock) unless it names its own offset."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(_("give a date and time, such as 2026-11-30 09:15"), fields=[field]) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _next_page(filters: dict[str, str], cursor: int) -> str:
    kept = {k: v for k, v in filters.items() if v}
    return f"{EVENTS}?{urlencode({**kept, 'after': cursor})}"


@router.get(EVENTS)
@audited(AuditAction.AUDIT_READ, "audit_log")
def events_page(
    request: Request,
    principal: PagePrincipal,
    session: DbSession,
    action: Text = "",
    actor: Text = "",
    resource_id: Annotated[str, Query(max_length=64)] = "",
    outcome: Text = "",
    since: Text = "",
    until: Text = "",
    after: Annotated[int | None, Query(ge=-1, le=MAX_SEQ)] = None,
) -> Response:
    """The log in sequence order, filtered, a page at a time (keyset on the sequence number, as the API)."""
    filters = {
        "action": action,
        "actor": actor,
        "resource_id": resource_id,
        "outcome": outcome,
        "since": since,
        "until": until,
    }
    context: dict[str, Any] = {
        "filters": filters,
        "actions": [a.value for a in AuditAction],
        "outcomes": [o.value for o in Outcome],
        "events": [],
        "names": {},
        "next_page": None,
        "after": after,
    }
    read.require_reader(principal)  # a role that does not read the log sees no part of this page
    on_error(request, "audit_events.html", **context)
    actor_id = blank_to_none(actor)
    page = read.events(
        session,
        principal,
        actor=read.actor_named(session, principal, actor_id) if actor_id else None,
        action=_action(blank_to_none(action)),
        resource_id=blank_to_none(resource_id),
        outcome=_outcome(blank_to_none(outcome)),
        since=_instant(blank_to_none(since), "since"),
        until=_instant(blank_to_none(until), "until"),
        after=after,
        limit=PAGE_SIZE,
    )
    names = read.usernames(session, principal, {e.actor for e in page.events})
    context |= {
        "events": page.events,
        "names": names,
        "next_page": _next_page(filters, page.next_cursor) if page.next_cursor is not None else None,
    }
    return render.page(request, "audit_events.html", context)


@router.get(STATUS)
@audited(AuditAction.AUDIT_VERIFY, "audit_log")
def status_page(request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep) -> Response:
    """The whole log verified now against the signing key, as `testimony audit verify` does."""
    result = read.verification(session, principal, runtime.keys.for_signing(), runtime.settings.audit.origin)
    return render.page(request, "audit_status.html", {"result": result})


@router.get(PIN)
@audited(AuditAction.AUDIT_READ, "audit_key")
def pin_page(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery
) -> Response:
    """The signing key history with fingerprints and verifier keys, and how to confirm them elsewhere."""
    keyring = runtime.keys.for_signing()
    keys = read.public_keys(principal, keyring, runtime.settings.audit.origin, page)
    context = {"keys": keys.items, "next_cursor": keys.next_cursor, "current": keyring.signer.key_id}
    return render.page(request, "audit_pin.html", context)


@router.get(LEDGER)
@audited(AuditAction.LEDGER_READ, "disclosure")
def ledger_page(request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery) -> Response:
    """What left, to whom and under which level, by ids and per-export codes only."""
    listed = report.ledger(session, principal, page)
    return render.page(request, "audit_ledger.html", {"rows": listed.items, "next_cursor": listed.next_cursor})
