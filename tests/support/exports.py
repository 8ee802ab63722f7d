"""A desk for export tests: a case with its documenter and legal user, two custodians, a registered
recipient, and people with use grants recorded through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from app.access.roles import Role
from app.core.db import unit_of_work
from app.exports import stored
from app.exports.worker import Worker
from tests.support.actors import Actor, actor
from tests.support.built import confirm_statement
from tests.support.consent import grant, record_use_consent, register_recipient
from tests.support.interviews import checklist, consenting_person, new_interview, patch

TEXT = "They held us at the school in Hadrut Qaj7 for nine days."
REDACTED = "They held us at the school in […] for nine days."
DEIDENTIFIED_NARRATIVE = grant(
    categories=["narrative_general", "narrative_sexual_violence"], disclosure_level="deidentified"
)
"""The narrative, de-identified: it leaves only as a redaction the approving custodians reviewed."""


@dataclass
class Desk:
    app: FastAPI
    admin: Actor
    doc: Actor
    legal: Actor
    custodians: tuple[Actor, Actor]
    case_id: str
    recipient_id: str

    def person(self, *grants: dict[str, Any]) -> str:
        """A consenting person of the case, with one use-consent record of these grants (none: no record)."""
        person = consenting_person(self.doc, self.case_id, self.app)
        if grants:
            record_use_consent(self.doc, person, self.app, grants=list(grants))
        return person

    def told(self, *grants: dict[str, Any], text: str = TEXT) -> tuple[str, str, str]:
        """A person with these grants and a confirmed statement of ``text``: person, interview and statement ids."""
        person = self.person(*grants)
        interview = patch(self.doc, new_interview(self.doc, person, checklist=checklist()), state="in_progress")
        statement = confirm_statement(self.doc, interview.json()["id"], text)
        return person, interview.json()["id"], statement["id"]

    def redact(self, interview: str, statement: str, text: str = REDACTED) -> str:
        """A documenter's redaction of the statement version; its id."""
        body = {"statement_version_id": statement, "text": text}
        r = self.doc.post(f"/api/v1/interviews/{interview}/redactions", json=body)
        assert r.status_code == 201, r.text
        made: str = r.json()["id"]
        return made

    def body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "case_ids": [self.case_id],
            "purpose": "un_fact_finding",
            "recipient_id": self.recipient_id,
            "justification": "The Commission asked for accounts of the October crossing.",
            "categories": ["narrative_general"],
            "max_disclosure_level": "pseudonymous",
        }
        body.update(overrides)
        return body

    def request(self, **overrides: Any) -> dict[str, Any]:
        r = self.legal.post("/api/v1/exports", json=self.body(**overrides))
        assert r.status_code == 201, r.text
        made: dict[str, Any] = r.json()
        return made

    def approve(self, export_id: str, custodian: int = 0) -> Any:
        return self.custodians[custodian].post(
            f"/api/v1/exports/{export_id}/approve", json={"reason": "Within the stated purpose."}
        )

    def review(self, export_id: str, custodian: int = 0) -> dict[str, Any]:
        """What the export would send, as that custodian reviews it before deciding (which records the review)."""
        r = self.custodians[custodian].get(f"/api/v1/exports/{export_id}/review")
        assert r.status_code == 200, r.text
        shown: dict[str, Any] = r.json()
        return shown

    def worker(self) -> Worker:
        return Worker(self.app.state.sessionmaker, self.app.state.runtime)

    def ready(self, **overrides: Any) -> tuple[str, bytes]:
        """An export asked for, approved, built by the real worker, with its bundle stored: its id and bytes."""
        made = self.request(**overrides)
        for i in range(made["approvals_needed"]):
            self.review(made["id"], i)
            r = self.approve(made["id"], i)
            assert r.status_code == 200, r.text
        assert self.worker().run_once() is True
        export_id: str = made["id"]
        return export_id, stored_bundle(self.app, export_id)


def desk(app: FastAPI) -> Desk:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KX-1", "title": "Crossings"}).json()
    on_team = (uuid.UUID(case["id"]),)
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=on_team)
    legal = actor(app, "lawyer", [Role.LEGAL], cases=on_team)
    custodians = (actor(app, "keeper1", [Role.CUSTODIAN]), actor(app, "keeper2", [Role.CUSTODIAN]))
    return Desk(app, admin, doc, legal, custodians, case["id"], register_recipient(app))


NAMED_IDENTITY = grant(categories=["identity", "narrative_general"], disclosure_level="named_protected")
"""Identity and narrative, named with protective measures, to UN investigators for fact-finding."""


def stored_bundle(app: FastAPI, export_id: str) -> bytes:
    """The bundle the build sealed for the export (app/exports/stored.py), read back whole: the bytes a
    download must give."""
    with unit_of_work(app.state.sessionmaker) as s:
        key = stored.bundle_key(s, app.state.runtime.keys, uuid.UUID(export_id))
        return b"".join(stored.open_bundle(app.state.runtime.bundles, uuid.UUID(export_id), key).chunks())
