"""What the export pages share: the words for purposes, categories, levels and statuses, the links each role
gets, the names of cases and recipients an export refers to, and the services' refusals these pages show."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.cases import service as cases
from app.core.pagination import every_page
from app.recipients import service as recipients
from app.web import render
from app.web.messages import _

PURPOSES = {
    "criminal_investigation": _("Criminal investigation"),
    "interstate_litigation": _("Litigation between states"),
    "un_fact_finding": _("UN fact-finding"),
    "un_communication": _("Communication to a UN body"),
    "victim_participation_reparations": _("Victim participation and reparations"),
    "service_referral": _("Referral to a service"),
    "advocacy_aggregate": _("Advocacy with figures only"),
    "advocacy_story": _("Advocacy with a story"),
    "media": _("Media"),
    "research": _("Research"),
    "archive_memory": _("Archive and memory"),
    "follow_up": _("Follow-up with the survivor"),
}
"""Every purpose of app.consent.vocabulary.Purpose, as the pages name it."""

CATEGORIES = {
    "identity": _("Identity"),
    "contact": _("Contact details"),
    "demographics": _("Age, sex and similar"),
    "origin_place": _("Place of origin"),
    "current_location": _("Where the person is now"),
    "narrative_general": _("Narrative"),
    "narrative_sexual_violence": _("Narrative of sexual violence"),
    "detention_or_service": _("Detention or service"),
    "health": _("Health"),
    "third_party_info": _("About other people"),
    "alleged_perpetrators": _("Alleged perpetrators"),
    "interview_metadata": _("About the interview"),
    "audio_recording": _("Audio recordings"),
    "video_recording": _("Video recordings"),
    "photos_of_person": _("Photos of the person"),
    "photos_other": _("Other photos"),
    "identity_documents": _("Identity documents"),
    "evidentiary_documents": _("Documents as evidence"),
}
"""Every category of app.consent.vocabulary.DataCategory, as the pages name it."""

LEVELS = {
    "named_public": _("Named, in public"),
    "named_protected": _("Named, with protective measures"),
    "pseudonymous": _("Under a code, not a name"),
    "deidentified": _("De-identified"),
    "aggregate_only": _("Counted only"),
}
"""Every disclosure level of app.consent.vocabulary.DisclosureLevel, most revealing first."""

STATUSES = {
    "requested": _("waiting for a custodian"),
    "awaiting_second_approval": _("waiting for a second custodian"),
    "approved": _("approved, being prepared"),
    "building": _("being prepared"),
    "ready": _("ready to download"),
    "failed": _("could not be prepared"),
    "stale": _("consent changed: ask again"),
    "rejected": _("rejected"),
}
"""Every status of app.exports.schemas.ExportStatus, as the requester and custodians read it."""

WAITING = frozenset({"requested", "awaiting_second_approval"})

RECALL_STATES = {"open": _("to send"), "sent": _("sent, not yet acknowledged"), "acknowledged": _("acknowledged")}
FEEDBACK_REASONS = {"approval": _("an export was approved"), "recall": _("an export was recalled")}
FEEDBACK_STATES = {
    "open": _("to do"),
    "informed": _("told"),
    "not_reached": _("not reached"),
    "not_contactable": _("not to be contacted"),
}

EXPORT_CHECKS = (
    _("a custodian who did not ask for this export must decide it"),
    _("a custodian who did not ask for this export reviews it"),
    _("consent changed since this export was built: ask for it again"),
    _("the download period of this export has ended"),
    _("this export was downloaded as often as allowed"),
    _("this export has no bundle to download"),
    _("this export changed meanwhile: read it again"),
    _("only a stale export can be asked for again"),
    _("this notice is not open"),
    _("this notice is not sent"),
    _("this feedback task is closed already"),
    _("the wait for a second custodian has expired: the export must be asked for again"),
    _("a preview counts the people of whole cases; a request naming people is shown to custodians instead"),
)
"""The export services' refusals these pages show, in the page's language."""


def links(principal: Principal) -> list[str]:
    """The export pages this login may open, for the menu and the start page."""
    found = []
    if policy.allows(principal, policy.Action.EXPORT_READ):
        found.append("exports")
    if policy.allows(principal, policy.Action.EXPORT_REQUEST):
        found.append("new")
    if policy.allows(principal, policy.Action.RECALL_READ):
        found.append("recalls")
    if policy.allows(principal, policy.Action.DISCLOSURE_FEEDBACK) or policy.allows(
        principal, policy.Action.DISCLOSURE_FEEDBACK_OVERSEE
    ):
        found.append("feedback")
    return found


def words(request: Request) -> dict[str, dict[str, str]]:
    """Every vocabulary of these pages in the visitor's language."""

    def t(table: dict[str, str]) -> dict[str, str]:
        return {key: render.gettext(request, value) for key, value in table.items()}

    return {
        "purposes": t(PURPOSES),
        "categories": t(CATEGORIES),
        "levels": t(LEVELS),
        "statuses": t(STATUSES),
        "recall_states": t(RECALL_STATES),
        "feedback_reasons": t(FEEDBACK_REASONS),
        "feedback_states": t(FEEDBACK_STATES),
    }


def names(session: Session, principal: Principal) -> dict[str, dict[str, str]]:
    """Case codes and recipient names by id, as the principal may list them (an id stands in for the rest)."""
    return {
        "case_codes": {str(c.id): c.code for c in every_page(lambda p: cases.list_cases(session, principal, p))},
        "recipient_names": {
            str(r.id): r.names[0] for r in every_page(lambda p: recipients.list_recipients(session, principal, p))
        },
    }


def common(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    """Every export page's context: the words, the names, who is looking, and whether a decision would pass."""
    return (
        words(request)
        | names(session, principal)
        | {
            "me": principal.user_id,
            "decides": policy.allows(principal, policy.Action.EXPORT_APPROVE),
            "requests": policy.allows(principal, policy.Action.EXPORT_REQUEST),
            "manages_recalls": policy.allows(principal, policy.Action.RECALL_MANAGE),
            "waiting_statuses": WAITING,
            "done": None,
        }
    )


def path(export_id: uuid.UUID, done: str = "") -> str:
    return f"/exports/{export_id}?done={done}" if done else f"/exports/{export_id}"
