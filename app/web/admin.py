"""What the admin pages share: whether the step-up prompt shows, role names, and a two-person request
described by names (who asked, whom or what it changes), never by ids alone."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.confirmations.schemas import ConfirmationRead
from app.core.db import db_now
from app.web import render
from app.web.messages import RECIPIENT_CLASSES, REQUEST_KINDS, ROLE_NAMES, _


def at(path: str, done: str = "") -> str:
    """A page to go back to after a form, saying what was done (``?done=asked``: it waits for another admin)."""
    return f"{path}?done={done}" if done else path


def recipient_classes(request: Request) -> dict[str, str]:
    """Every recipient class, in the page's language, in the vocabulary's order."""
    return {code: render.gettext(request, name) for code, name in RECIPIENT_CLASSES.items()}


def roles_of(request: Request) -> dict[str, str]:
    """Every role, in the page's language."""
    return {role: render.gettext(request, name) for role, name in ROLE_NAMES.items()}


def common(
    request: Request, session: Session, principal: Principal, back: str, *, step_up: bool = False
) -> dict[str, Any]:
    """Every admin page's context. On a page with ``step_up`` actions (policy.STEP_UP: roles and status,
    resets, decisions) the prompt shows while they would be refused, and sends the admin back to ``back``
    (the page, not the form's action) once the code is given."""
    return {
        "back": back,
        "fresh": not step_up or policy.second_factor_fresh(principal, db_now(session)),
        "role_names": roles_of(request),
        "me": principal.user_id,
    }


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def details(request: Request, c: ConfirmationRead, recipients: dict[str, str]) -> list[tuple[str, str]]:
    """What a request asks for, line by line, in the page's language: names, codes, roles and countries."""

    def t(message: str) -> str:
        return render.gettext(request, message)

    roles = roles_of(request)
    classes = recipient_classes(request)
    lines: list[tuple[str, str]] = []
    if c.target_user is not None:
        lines.append((t(_("Account")), f"{c.target_user.display_name} ({c.target_user.username})"))
    if c.case_code is not None:
        lines.append((t(_("Case")), c.case_code))
    if c.action == "user.grant_roles":
        before = [roles.get(r, r) for r in _strings(c.payload.get("from_roles"))]
        lines.append((t(_("Roles now")), ", ".join(before) or t(_("none"))))
    if c.roles is not None:
        lines.append((t(_("Roles asked for")), ", ".join(roles.get(r, r) for r in c.roles) or t(_("none"))))
    asked = c.payload.get("recipient")
    if isinstance(asked, dict):
        lines.append((t(_("Names")), "; ".join(_strings(asked.get("names")))))
        lines.append((t(_("Class")), classes.get(str(asked.get("recipient_class")), str(asked.get("recipient_class")))))
        lines.append((t(_("Jurisdiction")), str(asked.get("jurisdiction"))))
    changes, before_change = c.payload.get("changes"), c.payload.get("from")
    if isinstance(changes, dict) and isinstance(before_change, dict):
        lines.append((t(_("Recipient")), recipients.get(str(c.target_id), str(c.target_id))))
        fields = {"recipient_class": _("Class"), "jurisdiction": _("Jurisdiction"), "age_recipient": _("Age key")}
        for key, value in changes.items():
            name = t(fields[key]) if key in fields else key
            was, now = before_change.get(key), value
            if key == "recipient_class":
                was, now = classes.get(str(was), was), classes.get(str(now), now)
            lines.append((name, f"{was or '—'} → {now or '—'}"))
    if c.action == "deny_list.change":
        named = [recipients.get(r, r) for r in _strings(c.payload.get("recipient_ids"))]
        lines.append((t(_("Recipients never to receive")), "; ".join(named) or t(_("none"))))
        countries = ", ".join(_strings(c.payload.get("jurisdictions")))
        lines.append((t(_("Countries never to receive")), countries or t(_("none"))))
    return lines


def kind_of(request: Request, c: ConfirmationRead) -> str:
    name = REQUEST_KINDS.get(c.action)
    return render.gettext(request, name) if name else c.action
