"""A complete, valid participation consent record, built from the shipped form."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI

from app.access.roles import Role
from app.consent.forms import TextVariant
from app.consent.vocabulary import TeachBackQuestion
from tests.support.actors import Actor, actor


def text_hash(app: FastAPI, language: str = "en", variant: str = "main", version: str = "v1") -> str:
    form = app.state.runtime.forms.get("standard", version)
    return str(form.text(language, TextVariant(variant)).sha256)


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
        "withdrawal_code_word": "pomegranate",
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
