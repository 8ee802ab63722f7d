"""The interview page's fields turned into the services' input: the plan with its do-no-harm checklist,
a move of the interview's state, the draft's answers and the statement's confirmation. The services decide
what is complete and allowed; a part left empty is left out so that their own check names it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.consent.grant_schemas import UseConsentRead
from app.consent.vocabulary import DisclosureLevel, is_more_protective
from app.interviews.vocabulary import AnswerState, Companion, InterviewState, ViolationType
from app.web.messages import _

YES, NO = "yes", "no"
MAX_FIELDS = 300
LANGUAGES = ("hy", "ru", "en")
"""The languages an interview is planned in: those of the published guide and the consent forms."""

MOVES: dict[str, InterviewState] = {
    "start": InterviewState.IN_PROGRESS,
    "resume": InterviewState.IN_PROGRESS,
    "pause": InterviewState.PAUSED,
    "stop": InterviewState.STOPPED_BY_INTERVIEWEE,
    "complete": InterviewState.COMPLETED,
}
"""The page's buttons and the state each asks for; the service says which moves the state allows."""

STATES = {
    InterviewState.PLANNED.value: _("planned"),
    InterviewState.IN_PROGRESS.value: _("in progress"),
    InterviewState.PAUSED.value: _("paused (a break)"),
    InterviewState.COMPLETED.value: _("completed"),
    InterviewState.STOPPED_BY_INTERVIEWEE.value: _("stopped by the interviewee"),
}
COMPANIONS = {
    Companion.ALONE.value: _("No one: the person is alone"),
    Companion.FAMILY_MEMBER.value: _("A family member"),
    Companion.FRIEND.value: _("A friend"),
    Companion.SUPPORT_WORKER.value: _("A support worker"),
    Companion.LAWYER.value: _("A lawyer"),
    Companion.OTHER.value: _("Someone else"),
}
VIOLATIONS = {
    ViolationType.KILLING.value: _("Killing"),
    ViolationType.TORTURE_OR_ILL_TREATMENT.value: _("Torture or ill-treatment"),
    ViolationType.ARBITRARY_DETENTION.value: _("Arbitrary detention"),
    ViolationType.ENFORCED_DISAPPEARANCE.value: _("Enforced disappearance"),
    ViolationType.SEXUAL_OR_GENDER_BASED_VIOLENCE.value: _("Sexual or gender-based violence"),
    ViolationType.FORCED_DISPLACEMENT.value: _("Forced displacement"),
    ViolationType.DESTRUCTION_OR_SEIZURE_OF_PROPERTY.value: _("Destruction or seizure of property"),
    ViolationType.DENIAL_OF_HUMANITARIAN_ACCESS.value: _("Denial of humanitarian access"),
    ViolationType.THREATS_OR_HATE_SPEECH.value: _("Threats or hate speech"),
    ViolationType.OTHER.value: _("Something else"),
}
ANSWER_STATES = {
    AnswerState.NOT_ASKED.value: _("Not asked"),
    AnswerState.ANSWERED.value: _("Answered"),
    AnswerState.DECLINED.value: _("Declined to answer"),
}

# Where the services' field names are on the page: the anchor to link to and what the part is called.
FIELD_PLACES: dict[str, tuple[str, str]] = {
    "scheduled_at": ("plan", _("Date and time")),
    "language": ("plan", _("The interview's language")),
    "place": ("plan", _("Place")),
    "interviewers": ("plan", _("Interviewers")),
    "checklist": ("checklist", _("The do-no-harm checklist")),
    "state": ("state", _("Where the interview stands")),
    "revision": ("state", _("Where the interview stands")),
    "break_reason": ("state", _("Why the break")),
    "answers": ("draft", _("The draft")),
    "text": ("draft", _("The draft")),
    "guide": ("draft", _("The draft")),
    "draft_revision": ("read-back", _("Read-back and confirmation")),
    "version": ("read-back", _("Read-back and confirmation")),
    "confirmed_by_interviewee": ("read-back", _("Read-back and confirmation")),
    "read_back_in": ("read-back", _("Read-back and confirmation")),
    "reason": ("read-back", _("Read-back and confirmation")),
    "outcome": ("reconfirm", _("Reconfirming the use grants")),
    "notes": ("reconfirm", _("Reconfirming the use grants")),
    "consent_id": ("narrow-grants", _("Narrowing the use grants")),
    "narrowed": ("narrow-grants", _("Narrowing the use grants")),
    "first": ("first-grants", _("First use grants")),
    "grants": ("first-grants", _("First use grants")),
    "witness": ("first-grants", _("First use grants")),
    "receipt": ("first-grants", _("First use grants")),
    "date": ("incidents", _("Incidents")),
    "violation_types": ("incidents", _("Incidents")),
    "perpetrators": ("incidents", _("Incidents")),
    "other_victims": ("incidents", _("Incidents")),
    "witnesses": ("incidents", _("Incidents")),
    "referrals": ("referrals", _("Referrals")),
}


def places(fields: list[str]) -> list[tuple[str, str]]:
    """The parts an error names, as (anchor, English name for the catalog), each once, in order."""
    found: list[tuple[str, str]] = []
    for name in fields:
        head = name.split(".")[0]
        place = FIELD_PLACES.get(head, ("main", _("This page")))
        if place not in found:
            found.append(place)
    return found


def _text(values: Mapping[str, str], name: str) -> str | None:
    value = values.get(name, "").strip()
    return value or None


def _yes_no(values: Mapping[str, str], name: str) -> bool | None:
    value = values.get(name)
    return True if value == YES else False if value == NO else None


def _many(values: Mapping[str, list[str]], name: str) -> list[str]:
    return [v for v in values.get(name, []) if v]


def scheduled_at(values: Mapping[str, str]) -> str | None:
    """The date and time entered with the browser's offset from UTC (a hidden field the page fills with
    the server's own when there is no script), as ISO 8601."""
    day, time = _text(values, "date"), _text(values, "time")
    if day is None or time is None:
        return None
    offset = _text(values, "utc_offset") or "+00:00"
    try:
        return datetime.fromisoformat(f"{day}T{time}{offset}").isoformat()
    except ValueError:
        return "invalid"


def checklist(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> dict[str, Any]:
    """The do-no-harm checklist as the API's Checklist body."""
    body: dict[str, Any] = {
        "private_setting": _yes_no(values, "private_setting"),
        "accompanied_by": _many(lists, "accompanied_by"),
        "referral_available_locally": _yes_no(values, "referral_available_locally"),
        "prior_statements": [],
        "justification": values.get("justification", ""),
        "incident_types": _many(lists, "incident_types"),
    }
    care = _yes_no(values, "care_available_locally")
    if care is not None:
        body["care_available_locally"] = care
    if values.get("prior_to"):
        prior: dict[str, Any] = {"to": values["prior_to"], "recorded": values.get("prior_recorded") or "unknown"}
        if _text(values, "prior_year"):
            prior["year"] = values["prior_year"].strip()
        body["prior_statements"] = [prior]
    return body


def plan(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> dict[str, Any]:
    """The API's InterviewCreate body. The interviewers ticked on the form, when the form showed the
    choice (none ticked is sent as none, for the service to refuse); the creator alone otherwise, as the
    API's default."""
    body: dict[str, Any] = {
        "scheduled_at": scheduled_at(values),
        "language": values.get("language", ""),
        "place": _text(values, "place"),
        "checklist": checklist(values, lists),
    }
    if values.get("interviewers_shown") == YES:
        body["interviewers"] = _many(lists, "interviewers")
    return body


def replan(values: Mapping[str, str]) -> dict[str, Any]:
    """The API's InterviewUpdate body for a planned interview's new time, language and place (a place left
    empty clears it; a time or language left empty is sent as none, for the service to refuse)."""
    return {
        "revision": values.get("revision", ""),
        "scheduled_at": scheduled_at(values),
        "language": values.get("language") or None,
        "place": _text(values, "place"),
    }


def interviewers(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> dict[str, Any]:
    """The API's InterviewUpdate body that replaces the interviewers with those ticked (none ticked is sent
    as none, for the service to refuse)."""
    return {"revision": values.get("revision", ""), "interviewers": _many(lists, "interviewers")}


def move(values: Mapping[str, str]) -> dict[str, Any]:
    """The API's InterviewUpdate body for the button pressed."""
    state = MOVES.get(values.get("move", ""))
    body: dict[str, Any] = {"revision": values.get("revision", ""), "state": state.value if state else ""}
    if values.get("move") == "pause":
        body["break_reason"] = _text(values, "break_reason")
    return body


def answers(values: Mapping[str, str], questions: list[str]) -> list[dict[str, Any]]:
    """Each question's state and, when answered, its text: a question left "not asked" with no text is
    left out, so the draft says only what happened."""
    found: list[dict[str, Any]] = []
    for question in questions:
        state = values.get(f"state_{question}", AnswerState.NOT_ASKED.value)
        text = _text(values, f"answer_{question}")
        if state == AnswerState.NOT_ASKED.value and text is None:
            continue
        answer: dict[str, Any] = {"question": question, "state": state}
        if state == AnswerState.ANSWERED.value or text is not None:
            answer["text"] = text
        found.append(answer)
    return found


def confirmation(values: Mapping[str, str]) -> dict[str, Any]:
    """The API's StatementConfirm body: the interviewee's confirmation is the box ticked, never assumed."""
    return {
        "version": values.get("version", ""),
        "draft_revision": values.get("draft_revision", ""),
        "confirmed_by_interviewee": True if values.get("confirmed") == YES else None,
        "read_back_in": values.get("read_back_in", ""),
        "reason": _text(values, "reason"),
    }


GRANT_ROWS = 3
"""Grant cards on the page; a card left without a purpose is left out."""


def grants(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """The grant cards as the API's GrantIn list: per purpose and recipient class, the categories and the
    disclosure level of each."""
    found: list[dict[str, Any]] = []
    for row in range(1, GRANT_ROWS + 1):
        purpose = values.get(f"grant{row}_purpose", "")
        if not purpose:
            continue
        grant: dict[str, Any] = {
            "purpose": purpose,
            "recipient_class": values.get(f"grant{row}_recipient_class", ""),
            "categories": _many(lists, f"grant{row}_categories"),
            "disclosure_level": values.get(f"grant{row}_disclosure_level", ""),
        }
        places = [p.strip() for p in values.get(f"grant{row}_jurisdictions", "").split(",") if p.strip()]
        if places:
            grant["jurisdictions"] = places
        found.append(grant)
    return found


def first_grants(
    values: Mapping[str, str], lists: Mapping[str, list[str]], form: tuple[str, str], text_sha256: str, language: str
) -> dict[str, Any]:
    """The API's UseConsentCreate body for the interviewee's first use grants, on the form read to them."""
    body: dict[str, Any] = {
        "form_id": form[0],
        "form_version": form[1],
        "language": language,
        "text_sha256": text_sha256,
        "method": "verbal_witnessed",
        "grants": grants(values, lists),
    }
    if _text(values, "witness_name") or _text(values, "witness_role"):
        body["witness"] = {"name": values.get("witness_name", ""), "role": values.get("witness_role", "")}
    if values.get("receipt"):
        body["receipt"] = values["receipt"]
    return body


LEVELS_WITHIN = {
    level.value: [lower.value for lower in DisclosureLevel if not is_more_protective(level, lower)]
    for level in DisclosureLevel
}
"""Per disclosure level, the levels a narrowing may keep or lower it to (the service refuses the others)."""
FORMER_MEMBER = _("someone no longer on the case team")


def narrow_prefix(grant_id: uuid.UUID) -> str:
    """The prefix of one grant's fields in the narrowing form."""
    return f"n{grant_id.hex}_"


def narrowed(values: Mapping[str, str], lists: Mapping[str, list[str]], record: UseConsentRead) -> dict[str, Any]:
    """The API's GrantContents for a narrowing of ``record``: each grant the person keeps names the grant
    it continues, with the categories, countries and level left to it; a grant taken back (or withdrawn
    before) is left out; the record's refusals, restrictions and retention go back as they are. The
    service says whether anything would widen."""
    kept: list[dict[str, Any]] = []
    for grant in record.grants:
        p = narrow_prefix(grant.id)
        if grant.withdrawn or values.get(f"{p}remove") == YES:
            continue
        item: dict[str, Any] = {
            "id": str(grant.id),
            "purpose": grant.purpose.value,
            "recipient_class": grant.recipient_class.value,
            "categories": _many(lists, f"{p}categories"),
            "disclosure_level": values.get(f"{p}level", ""),
            "expires_at": None if grant.expires_at is None else grant.expires_at.isoformat(),
        }
        if grant.jurisdictions is not None:
            item["jurisdictions"] = _many(lists, f"{p}jurisdictions")
        kept.append(item)
    return {
        "grants": kept,
        "refusals": [r.model_dump(mode="json") for r in record.refusals],
        "restrictions": [*(str(i) for i in record.restrictions.recipient_ids), *record.restrictions.jurisdictions],
        "retention": {category.value: period for category, period in record.retention.items()},
    }


def reconfirmation(
    values: Mapping[str, str], first: dict[str, Any] | None, narrowing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The API's ReconfirmConsent body: ``confirmed`` takes nothing else, ``narrowed`` the record and what
    it allows now, ``first`` the new record."""
    body: dict[str, Any] = {"outcome": values.get("outcome", ""), "notes": _text(values, "notes")}
    if values.get("outcome") == "first":
        body["first"] = first
    if values.get("outcome") == "narrowed":
        body |= {"consent_id": values.get("consent_id", ""), "narrowed": narrowing}
    return body


REFERRAL_NEEDS = {
    "psychosocial": _("Psychosocial support"),
    "medical": _("Medical care"),
    "legal": _("Legal help"),
    "shelter": _("Shelter"),
}
PRECISIONS = {
    "day": _("On that day"),
    "month": _("In that month (give its first day)"),
    "year": _("In that year (give its first day)"),
    "approximate": _("Roughly then"),
}


def _people(values: Mapping[str, str], prefix: str) -> dict[str, Any] | None:
    count, description = _text(values, f"{prefix}_count"), _text(values, f"{prefix}_description")
    if count is None and description is None:
        return None
    return {"count": count, "description": description}


def incident(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> dict[str, Any]:
    """The API's IncidentCreate body: one structured row of what happened, never the narrative."""
    when: dict[str, Any] = {"from": values.get("incident_from", ""), "precision": values.get("precision", "")}
    if _text(values, "incident_to"):
        when["to"] = values["incident_to"].strip()
    return {
        "date": when,
        "place": _text(values, "incident_place"),
        "violation_types": _many(lists, "violation_types"),
        "perpetrators": [line.strip() for line in values.get("perpetrators", "").splitlines() if line.strip()],
        "other_victims": _people(values, "other_victims"),
        "witnesses": _people(values, "witnesses"),
    }


def referral(values: Mapping[str, str]) -> dict[str, Any]:
    """The API's InterviewUpdate body adding one referral made."""
    return {
        "revision": values.get("revision", ""),
        "referrals": [{"need": values.get("need", ""), "contact": values.get("contact", "")}],
    }


ATTACHMENT_KINDS = {
    "photo": _("A photo"),
    "audio": _("An audio recording"),
    "video": _("A video recording"),
    "document": _("A document"),
}
