"""A complete, valid participation consent record, built from the shipped form."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI

from app.access.principal import Principal
from app.access.roles import Role
from app.consent.forms import TextVariant
from app.consent.vocabulary import TeachBackQuestion
from app.core.db import unit_of_work
from app.recipients import service as recipients
from app.recipients.models import Recipient
from app.recipients.schemas import RecipientCreate
from tests.support.actors import Actor, actor


def text_hash(app: FastAPI, language: str = "en", variant: str = "main", version: str = "v1") -> str:
    form = app.state.runtime.forms.get("standard", version)
    return str(form.text(language, TextVariant(variant)).sha256)


CODE_WORD = "pomegranate"


def participation(app: FastAPI, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "form_id": "standard",
        "form_version": "v1",
        "language": "en",
        "text_sha256": text_hash(app),
        "method": "verbal_witnessed",
        "witness": {"name": "Witness One", "role": "field coordinator"},
        "place": "Goris, community centre",
        "decisions": {
            "interview_now": True,
            "notes": True,
            "audio_recording": False,
            "video_recording": False,
            "photos": False,
            "storage": True,
            "referral": True,
            "re_contact": False,
        },
        "retention": "P10Y",
        "teach_back": {q.value: "pass" for q in TeachBackQuestion},
        "date_of_birth": "1970-05-01",
        "withdrawal_code_word": CODE_WORD,
        "receipt": "code_card",
    }
    body.update(overrides)
    return body


def child_texts(app: FastAPI, language: str = "en", version: str = "v1") -> dict[str, Any]:
    """What a minor's record pins: the child text read to the child and the guardian text read to the guardian."""
    return {
        "form_version": version,
        "language": language,
        "text_variant": "child",
        "text_sha256": text_hash(app, language, "child", version),
        "guardian_text_sha256": text_hash(app, language, "guardian", version),
    }


def recontact(days: int = 365) -> dict[str, Any]:
    return {
        "channel": "phone",
        "phone_owner": "self",
        "may_leave_messages": False,
        "safe_times": "weekday mornings",
        "if_someone_else_answers": "Say you are calling from the clinic about an appointment.",
        "expires_on": (date.today() + timedelta(days=days)).isoformat(),
    }


def identity(name: str = "Ashot Grigoryan", born: str = "1970-05-01", **extra: Any) -> dict[str, Any]:
    return {"identity": {"full_name": name, "date_of_birth": born, "languages": ["hy", "ru"], **extra}}


def person_in(actor: Any, case_id: uuid.UUID | str) -> dict[str, Any]:
    r = actor.post(f"/api/v1/cases/{case_id}/people")
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def documenter_team(app: FastAPI) -> tuple[Actor, str]:
    """A documenter on the team of a new case, and that case's id."""
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KB-1", "title": "Goris interviews"}).json()
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case["id"]),))
    return doc, case["id"]


def grant(**overrides: Any) -> dict[str, Any]:
    """A use grant: the narrative, pseudonymous, to UN investigators."""
    body: dict[str, Any] = {
        "purpose": "un_fact_finding",
        "recipient_class": "un_investigative_bodies",
        "categories": ["narrative_general", "alleged_perpetrators"],
        "disclosure_level": "pseudonymous",
    }
    body.update(overrides)
    return body


def use_consent(app: FastAPI, **overrides: Any) -> dict[str, Any]:
    """A use-consent record on the shipped form: one grant, nothing refused or restricted."""
    body: dict[str, Any] = {
        "form_id": "standard",
        "form_version": "v1",
        "language": "en",
        "text_sha256": text_hash(app),
        "method": "verbal_witnessed",
        "witness": {"name": "Witness One", "role": "field coordinator"},
        "grants": [grant()],
    }
    body.update(overrides)
    return body


def record_use_consent(doc: Actor, person: str, app: FastAPI, **overrides: Any) -> dict[str, Any]:
    """Record a use-consent record (``use_consent`` with ``overrides``) through the API; its 201 answer."""
    r = doc.post(f"/api/v1/people/{person}/consents", json=use_consent(app, **overrides))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def register_recipient(
    app: FastAPI,
    recipient_class: str = "un_investigative_bodies",
    jurisdiction: str = "international",
    *,
    active: bool = True,
) -> str:
    """A recipient registered from the command line (at once), optionally made inactive."""
    data = RecipientCreate.model_validate(
        {
            "recipient_class": recipient_class,
            "jurisdiction": jurisdiction,
            "names": [f"Recipient {uuid.uuid4().hex[:8]}"],
            "recall_contact": "By the secure channel agreed at first contact.",
        }
    )
    with unit_of_work(app.state.sessionmaker) as s:
        made = recipients.create_recipient(s, app.state.runtime, Principal.system("test"), data)
        assert made.recipient is not None
        recipient_id = made.recipient.id
        if not active:
            row = s.get(Recipient, recipient_id)
            assert row is not None
            row.active = False
    return str(recipient_id)
