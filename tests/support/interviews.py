"""Interview bodies for tests: a complete do-no-harm checklist and a planned interview."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.access.roles import Role
from tests.support.actors import Actor, login, make_user
from tests.support.consent import identity, participation, person_in, use_consent

INCIDENT: dict[str, Any] = {
    "date": {"from": "2023-09-01", "to": "2023-10-01", "precision": "month"},
    "place": "Stepanakert, the road to the airport",
    "violation_types": ["arbitrary_detention", "forced_displacement"],
    "perpetrators": ["Men in uniform at a checkpoint"],
    "other_victims": {"count": 3, "description": "Her neighbours, an older couple and their son"},
    "witnesses": {"count": 1},
}


WITHOUT_NOTES: dict[str, bool] = {
    "interview_now": True,
    "notes": False,
    "audio_recording": False,
    "video_recording": False,
    "photos": False,
    "storage": True,
    "referral": False,
    "re_contact": False,
}
"""Participation decisions that agree to the interview but not to notes."""


def checklist(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "private_setting": True,
        "accompanied_by": ["alone"],
        "referral_available_locally": True,
        "prior_statements": [{"to": "humanitarian_organisation", "year": 2023, "month": 10, "recorded": "unknown"}],
        "justification": "First account of the detention; no prior recorded statement.",
        "incident_types": ["arbitrary_detention", "forced_displacement"],
    }
    body.update(overrides)
    return body


def planned(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "scheduled_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "language": "hy",
        "place": "Goris, community centre, room 2",
        "gender_preference": {"interviewer": "female", "interpreter": "no_preference", "interviewer_met": True},
    }
    body.update(overrides)
    return body


def due(days: int = 30) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def consenting_person(doc: Actor, case_id: uuid.UUID | str, app: Any, **consent: Any) -> str:
    """A new person in the case, with participation consent recorded (complete, agreeing by default)."""
    pid: str = person_in(doc, case_id)["id"]
    r = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app, **consent))
    assert r.status_code == 201, r.text
    return pid


def new_interview(doc: Actor, person_id: str, **overrides: Any) -> dict[str, Any]:
    r = doc.post(f"/api/v1/people/{person_id}/interviews", json=planned(**overrides))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def patch(doc: Actor, interview: dict[str, Any], **changes: Any) -> Any:
    """PATCH on the revision of the interview as last read."""
    return doc.request(
        "PATCH", f"/api/v1/interviews/{interview['id']}", json={"revision": interview["revision"], **changes}
    )


def reconfirm(doc: Actor, app: Any, interview_id: str, **body: Any) -> dict[str, Any]:
    """The end-of-interview reconfirmation of use grants; by default the interviewee makes their first ones."""
    if not body:
        body = {"outcome": "first", "first": use_consent(app)}
    r = doc.post(f"/api/v1/interviews/{interview_id}/reconfirm-consent", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def same_person(doc: Actor, case_id: str, app: Any) -> tuple[Actor, str, str, str]:
    """Two consenting people with the same identity, decided by a custodian to be one: the custodian (logged
    in, a fresh second factor), the custodian's TOTP secret, the person and the twin."""
    person = consenting_person(doc, case_id, app)
    twin = consenting_person(doc, case_id, app)
    for who in (person, twin):
        assert doc.request("PATCH", f"/api/v1/people/{who}", json=identity()).status_code == 200
    _, secret = make_user(app, "cus", [Role.CUSTODIAN])
    assert secret is not None
    custodian = login(app, "cus", secret)
    [review] = custodian.get("/api/v1/duplicate-reviews").json()["reviews"]
    decided = custodian.post(f"/api/v1/duplicate-reviews/{review['id']}", json={"decision": "duplicate"})
    assert decided.status_code == 200, decided.text
    return custodian, secret, person, twin
