"""What the custodian's pages share: the step-up prompt, the page's "done" notice, and the names of states
and choices in the page's language. The rules stay in the services these pages call."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.core.db import db_now
from app.web import render
from app.web.messages import _

RECEIVED_VIA = {
    "phone": _("By phone"),
    "in_person": _("In person"),
    "safe_channel_message": _("A message on the safe channel"),
    "letter": _("By letter"),
    "representative": _("Through a representative"),
}
"""How a withdrawal reached us (app.consent.grant_schemas.ReceivedVia)."""

MODES = {
    "stop_future_use": _("Stop every future use"),
    "withdraw_and_erase": _("Stop every future use and erase the records"),
}

STATES = {
    "current": _("in force"),
    "withdrawn": _("withdrawn"),
    "invalid": _("invalid"),
    "pending": _("waiting for a custodian to ask for it to be carried out"),
    "awaiting_confirmation": _("waiting for a second custodian"),
    "erased": _("erased"),
    "refused": _("refused"),
    "joined": _("joined another request"),
    "requested": _("waiting for a second custodian"),
    "active": _("in force"),
    "open": _("open"),
    "unreviewed": _("not reviewed"),
    "delete": _("reviewed: deleted when due"),
    "kept": _("kept, with a reason"),
    "held": _("under legal hold"),
}
"""The states the queues show (lookups, erasures, legal holds, retention)."""

DONE = {
    "erasure_asked": _("Asked. A second custodian confirms the erasure, or declines it."),
    "erasure_confirmed": _("Decided."),
    "erasure_refused": _("The erasure request is closed without erasing."),
    "hold_asked": _("Asked. The legal hold holds once a second custodian confirms it."),
    "hold_decided": _("Decided."),
    "hold_lifted": _("The legal hold is lifted."),
    "reviewed": _("Recorded."),
    "decided": _("Recorded."),
}
"""What a form did, shown on the page it returns to."""

REFUSALS = (
    _("no consent record matches these values"),
    _(
        "This reference code is locked for up to an hour after too many wrong code words: it may be someone "
        "other than the survivor trying it. A documenter on the person's case team can still find them by their "
        "pseudonym code with the code word."
    ),
    _("a reference code is 20 letters and digits, as on the card"),
    _("give either a reference code or a pseudonym code"),
    _("this is withdrawn already"),
    _("this is withdrawn already and its erasure is pending"),
    _("a second person must confirm this request"),
    _("this erasure waits for a second custodian already"),
    _("no legal hold is on this person"),
    _("give the reason to keep it"),
    _("this item was reviewed already"),
    _("this item is not in the review queue (its due date changed, or it is not held)"),
    _("not a record decided to be the same person as this one"),
    _(
        "a legal hold is on this person (or a linked record to erase): their records must be kept until it is "
        "lifted; a withdrawal still stops every new use"
    ),
    _("no custodian has asked for this erasure to be carried out (or the wait expired): ask again"),
    _("Choose a language of the report: en, hy or ru."),
)
"""The services' refusals these pages show (the page translates them)."""


def common(request: Request, session: Session, principal: Principal, back: str, done: str = "") -> dict[str, Any]:
    """Every custodian page's context: the step-up prompt while a decision would be refused, the notice of
    what the last form did, and the states in the page's language."""
    return {
        "back": back,
        "fresh": policy.second_factor_fresh(principal, db_now(session)),
        "me": principal.user_id,
        "done": render.gettext(request, DONE[done]) if done in DONE else None,
        "states": {k: render.gettext(request, v) for k, v in STATES.items()},
    }


def at(path: str, done: str) -> str:
    return f"{path}?done={done}"


SERVICE_TEXTS = (
    _(
        "Finding this record does not prove who you are talking to. Before acting on it, end the call and call "
        "the person back on the safe channel recorded with their consent, at a safe time, and confirm it is them."
    ),
    _(
        "Withdrawal stops every future use of what you told us, from now on. It cannot call back what was "
        "shared before it: we ask everyone who received something to return or destroy it, but we cannot force "
        "them, and what is already part of a court case may stay in that case's file. Counts that already "
        "include you, without your name, stay as they are."
    ),
)
"""The lookup's reminder (app.consent.lookup.REMINDER) and the limits of withdrawal (withdrawal.LIMITS),
which the page shows in its language; tests/web/test_custodian_pages.py checks they are the services' words."""
