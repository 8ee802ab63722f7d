"""Admins keep the recipient registry and the deny-list, and see the keys to pin: the same services as
/api/v1/recipients, /api/v1/deny-list and `testimony keys status`. A new recipient, a change of its class,
jurisdiction or key, and every deny-list change wait for a second admin. A KEK rotation or a re-wrap is queued
for a worker from the Keys page, and a signing key rotated at once, after a fresh second factor and without a second
admin (SECURITY.md)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.access import policy
from app.access.deps import RuntimeDep
from app.access.principal import Principal
from app.audit import note
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.pagination import PageQuery, every_page
from app.keys import published, rotation
from app.keys import service as keys
from app.keys.schemas import KeyJobStart, SigningRotationStart
from app.recipients import deny_list, service
from app.recipients.schemas import DenyListUpdate, RecipientCreate, RecipientUpdate
from app.runtime import Runtime
from app.web import admin, render
from app.web.deps import Lists, PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import blank_to_none, parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

RECIPIENTS = "/admin/recipients"
RECIPIENT = "/admin/recipients/{recipient_id}"
DENY_LIST = "/admin/deny-list"
KEYS = "/admin/keys"
FIELDS = ("recipient_class", "jurisdiction", "names", "recall_contact", "age_recipient")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _recipient_fields(values: dict[str, str]) -> dict[str, Any]:
    """The form as the service's input: one name a line, an empty key field for no key."""
    return {
        "recipient_class": values.get("recipient_class", ""),
        "jurisdiction": values.get("jurisdiction", "").strip(),
        "names": _lines(values.get("names", "")),
        "recall_contact": values.get("recall_contact", ""),
        "age_recipient": blank_to_none(values.get("age_recipient", "")),
        "active": values.get("active") == "yes",
    }


def _registry(request: Request, session: Session, principal: Principal, page: PageQuery) -> dict[str, Any]:
    listed = service.list_recipients(session, principal, page)
    return admin.common(request, session, principal, RECIPIENTS) | {
        "recipients": listed.items,
        "next_cursor": listed.next_cursor,
        "classes": admin.recipient_classes(request),
        "manages": policy.allows(principal, policy.Action.RECIPIENT_MANAGE),
        "values": {"active": "yes"},
        "done": None,
    }


@router.get(RECIPIENTS)
@audited(AuditAction.RECIPIENT_LIST, "recipient")
def recipients_page(
    request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery, done: str = ""
) -> Response:
    context = _registry(request, session, principal, page) | {"done": done or None}
    return render.page(request, "admin_recipients.html", context)


@router.post(RECIPIENTS)
@audited(AuditAction.RECIPIENT_CREATE, "recipient")
def create_recipient(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, page: PageQuery, values: Posted
) -> Response:
    """Registered when a second admin confirms."""
    kept = {k: values.get(k, "") for k in (*FIELDS, "active")}
    on_error(request, "admin_recipients.html", **(_registry(request, session, principal, page) | {"values": kept}))
    data = parse(RecipientCreate, **_recipient_fields(values))
    service.create_recipient(session, runtime, principal, data)
    return render.redirect(admin.at(RECIPIENTS, "asked"))


def _one(request: Request, session: Session, principal: Principal, recipient_id: uuid.UUID) -> dict[str, Any]:
    recipient = service.get_recipient(session, principal, recipient_id)
    return admin.common(request, session, principal, RECIPIENT.format(recipient_id=recipient_id)) | {
        "recipient": recipient,
        "classes": admin.recipient_classes(request),
        "manages": policy.allows(principal, policy.Action.RECIPIENT_MANAGE),
        "done": None,
    }


@router.get(RECIPIENT)
@audited(AuditAction.RECIPIENT_READ, "recipient", id_param="recipient_id")
def recipient_page(
    request: Request, recipient_id: uuid.UUID, principal: PagePrincipal, session: DbSession, done: str = ""
) -> Response:
    context = _one(request, session, principal, recipient_id) | {"done": done or None}
    return render.page(request, "admin_recipient.html", context)


@router.post(RECIPIENT)
@audited(AuditAction.RECIPIENT_UPDATE, "recipient", id_param="recipient_id")
def update_recipient(
    request: Request,
    recipient_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """Names, recall contact and whether it is active change at once; class, jurisdiction and key are
    asked of a second admin."""
    on_error(request, "admin_recipient.html", **_one(request, session, principal, recipient_id))
    data = parse(RecipientUpdate, **_recipient_fields(values))
    change = service.update_recipient(session, runtime, principal, recipient_id, data)
    done = "asked" if change.pending_confirmation else "saved"
    return render.redirect(admin.at(RECIPIENT.format(recipient_id=recipient_id), done))


def _deny_list(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    in_force = deny_list.get_deny_list(session, principal)
    return admin.common(request, session, principal, DENY_LIST) | {
        "deny_list": in_force,
        "recipients": every_page(lambda p: service.list_recipients(session, principal, p)),
        "denied": {str(r) for r in in_force.recipient_ids},
        "manages": policy.allows(principal, policy.Action.DENY_LIST_MANAGE),
        "done": None,
    }


@router.get(DENY_LIST)
@audited(AuditAction.DENY_LIST_READ, "deny_list")
def deny_list_page(request: Request, principal: PagePrincipal, session: DbSession, done: str = "") -> Response:
    context = _deny_list(request, session, principal) | {"done": done or None}
    return render.page(request, "admin_deny_list.html", context)


@router.post(DENY_LIST)
@audited(AuditAction.DENY_LIST_UPDATE, "deny_list")
def set_deny_list(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, values: Posted, lists: Lists
) -> Response:
    """The whole new list, in force when a second admin confirms it."""
    on_error(request, "admin_deny_list.html", **_deny_list(request, session, principal))
    countries = [c for c in re.split(r"[\s,;]+", values.get("jurisdictions", "")) if c]
    data = parse(DenyListUpdate, recipient_ids=lists.get("recipient_ids", []), jurisdictions=countries)
    change = deny_list.set_deny_list(session, runtime, principal, data)
    return render.redirect(admin.at(DENY_LIST, "asked" if change.pending_confirmation else "same"))


def _keys(request: Request, session: Session, principal: Principal, runtime: Runtime) -> dict[str, Any]:
    # Reloaded when the key file changed (a rotation by a worker or the command line), so the page shows it.
    keyring = runtime.keys.for_wrapping()
    return admin.common(request, session, principal, KEYS, step_up=True) | {
        "status": keys.status(session, principal, keyring),
        "signing": published.signing_keys(keyring).keys,
        "verifier_key": note.vkey(runtime.settings.audit.origin, keyring.signer.public_key),
        "job": rotation.latest(session, principal),
        "can_rotate": rotation.can_save(runtime.keys.store),
        "provider": runtime.settings.keys.provider is not None,
        "done": None,
    }


@router.get(KEYS)
@audited(AuditAction.KEYS_STATUS, "keyring")
def keys_page(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, done: str = ""
) -> Response:
    """The key versions, the data keys under each, and the values to pin, whole (as `testimony keys status`);
    the latest rotation or re-wrap started here, with its progress (a reload shows where it is)."""
    context = _keys(request, session, principal, runtime) | {"done": done or None}
    return render.page(request, "admin_keys.html", context)


def _start_key_job(
    request: Request,
    session: Session,
    principal: Principal,
    runtime: Runtime,
    values: dict[str, str],
    operation: rotation.Operation,
) -> Response:
    on_error(request, "admin_keys.html", **_keys(request, session, principal, runtime))
    data = parse(KeyJobStart, kek_seen=values.get("kek_seen", ""))
    rotation.start(session, runtime, principal, operation, data.kek_seen)
    return render.redirect(admin.at(KEYS, f"{operation.value}_queued"))


@router.post(f"{KEYS}/rotate")
@audited(AuditAction.KEYS_ROTATE_START, "key_job")
def rotate_keys(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, values: Posted
) -> Response:
    """Queue a KEK rotation for a worker (a fresh second factor; refused with keys from the environment)."""
    return _start_key_job(request, session, principal, runtime, values, rotation.Operation.ROTATE)


@router.post(f"{KEYS}/rewrap")
@audited(AuditAction.KEYS_REWRAP_START, "key_job")
def rewrap_keys(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, values: Posted
) -> Response:
    """Queue a re-wrap of the data keys still under an older KEK, for a worker (a fresh second factor)."""
    return _start_key_job(request, session, principal, runtime, values, rotation.Operation.REWRAP)


@router.post(f"{KEYS}/rotate-signing")
@audited(AuditAction.KEYS_ROTATE_SIGNING, "signing_key")
def rotate_signing_key(
    request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep, values: Posted
) -> Response:
    """Make a new signing key now, as `testimony keys rotate-signing` (a fresh second factor; refused with keys
    from the environment or a provider that cannot write, and when the page showed an older signing key)."""
    on_error(request, "admin_keys.html", **_keys(request, session, principal, runtime))
    data = parse(SigningRotationStart, key_seen=values.get("key_seen", ""))
    rotation.rotate_signing(session, runtime, principal, data.key_seen)
    return render.redirect(admin.at(KEYS, "signing_rotated"))
