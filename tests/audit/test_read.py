"""The auditor's API shows the log as it is stored, and says how to sign a first checkpoint."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import rfc8785
from fastapi import FastAPI
from sqlalchemy import func, select

from app.access.roles import Role
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.audit.vocabulary import purpose_of
from app.core.db import unit_of_work
from tests.support.actors import actor


def test_an_event_time_is_shown_exactly_as_its_entry_stores_it(app: FastAPI) -> None:
    auditor = actor(app, "aud", [Role.AUDITOR])
    on_the_second = datetime(2026, 11, 30, 9, 15, 29, tzinfo=UTC)
    with unit_of_work(app.state.sessionmaker) as s:
        # An event recorded on a whole second, written as append() writes every entry.
        last = s.scalar(select(func.max(AuditEvent.seq)))
        event = AuditEvent(
            seq=0 if last is None else last + 1,
            at=on_the_second,
            actor="system:cli",
            actor_roles="",
            action=audit.AuditAction.USER_LIST.value,
            resource_type="user",
            purpose=purpose_of(audit.AuditAction.USER_LIST).value,
            outcome="allowed",
        )
        event.entry = rfc8785.dumps({"v": audit.ENTRY_VERSION, **audit.entry_fields(event)})
        s.add(event)
    events = auditor.get("/api/v1/audit/events?action=user.list").json()["events"]
    assert len(events) == 1
    stored = json.loads(base64.b64decode(events[0]["entry"]))
    assert stored["at"] == "2026-11-30T09:15:29.000000Z"
    assert events[0]["at"] == stored["at"]
    for shown in auditor.get("/api/v1/audit/events").json()["events"]:
        assert shown["at"] == json.loads(base64.b64decode(shown["entry"]))["at"]


def test_no_checkpoint_yet_says_how_to_sign_one(app: FastAPI) -> None:
    auditor = actor(app, "aud", [Role.AUDITOR])
    r = auditor.get("/api/v1/audit/checkpoints/latest")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "testimony audit checkpoint" in r.json()["detail"]
    assert "testimony audit checkpointer" in r.json()["detail"]
