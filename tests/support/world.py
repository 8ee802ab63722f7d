"""The authorization matrix's world: users of every kind, a case, people, a pending confirmation,
a duplicate review, a signed checkpoint, an interview being recorded with an attachment and a resumable
upload under way, and a registered recipient. Built once per session (per xdist worker) and copied
per test, with the same keyring and the database clock set back to the moment it was built."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.access.models import User
from app.access.principal import Principal
from app.access.roles import Role
from app.audit import service as audit
from app.cases.models import Case
from app.consent.vocabulary import RecipientClass
from app.core.config import DatabaseSettings, KeySettings, Settings
from app.core.db import new_id, unit_of_work
from app.crypto import keyring as kr
from app.exports.worker import Worker
from app.keys.store import FileKeyStore, Keys, write_private_file
from app.main import create_app
from app.recipients import service as recipients
from app.recipients.schemas import RecipientCreate
from tests.support import media
from tests.support.actors import Actor, login, make_user, now, shift_clock
from tests.support.cheap import CHEAP_ARGON2
from tests.support.consent import child_texts, grant, identity, participation, person_in, recontact, use_consent
from tests.support.database import ProvisionedDatabase, Templates
from tests.support.erasure import waiting_for_a_second_custodian
from tests.support.exports import stored_bundle
from tests.support.interviews import INCIDENT, checklist, due, planned

COOKIE = "testimony_session"  # the development cookie name

# name -> (roles, second factor enrolled, on the case's team, password change pending)
SESSIONS: dict[str, tuple[list[Role], bool, bool, bool]] = {
    "doc_in": ([Role.DOCUMENTER], True, True, False),
    "doc_out": ([Role.DOCUMENTER], True, False, False),
    "legal_in": ([Role.LEGAL], True, True, False),
    "legal_out": ([Role.LEGAL], True, False, False),
    # On the team: a custodian reads a survivor's data report only for a case they work on.
    "custodian": ([Role.CUSTODIAN], True, True, False),
    "auditor": ([Role.AUDITOR], True, False, False),
    "admin": ([Role.ADMIN], True, False, False),
    "admin2": ([Role.ADMIN], True, False, False),
    # Restricted logins: a password change or a second-factor enrolment pending.
    "doc_pw": ([Role.DOCUMENTER], True, True, True),
    "admin_pw": ([Role.ADMIN], True, False, True),
    "doc_enrol": ([Role.DOCUMENTER], False, True, False),
    "admin_enrol": ([Role.ADMIN], False, False, False),
}
# name -> the session user whose read-only API token it is
READ_ONLY_TOKENS = {"doc_in_ro": "doc_in", "custodian_ro": "custodian", "auditor_ro": "auditor", "admin_ro": "admin"}


@dataclass(frozen=True)
class Credential:
    user_id: uuid.UUID
    username: str
    totp_secret: str | None
    cookie: str | None
    csrf: str | None
    bearer: str | None


@dataclass(frozen=True)
class Saved:
    """A built world: a database to copy, its key file, when it was built, and how to act in it."""

    source: str
    key_file: Path
    built_at: datetime
    credentials: dict[str, Credential]
    case_id: uuid.UUID
    target_id: uuid.UUID
    admin_token_id: str
    confirmation_id: str
    person_id: str
    review_id: str
    interview_id: str
    task_id: str
    recording_id: str
    attachment_id: str
    upload_id: str
    blob_dir: Path
    statement_id: str
    incident_id: str
    recipient_id: str
    consent_id: str
    reference_code: str
    export_id: str
    redaction_id: str
    ready_export_id: str
    stale_export_id: str
    ledger_id: str
    recall_id: str
    disclosure_task_id: str
    erasure_id: str
    hold_id: str


@dataclass
class World:
    app: FastAPI
    database: ProvisionedDatabase
    actors: dict[str, Actor]
    case_id: uuid.UUID
    target_id: uuid.UUID
    admin_token_id: str
    confirmation_id: str
    person_id: str
    review_id: str
    interview_id: str
    task_id: str
    recording_id: str
    attachment_id: str
    upload_id: str
    statement_id: str
    incident_id: str
    recipient_id: str
    consent_id: str
    reference_code: str
    export_id: str
    redaction_id: str
    ready_export_id: str
    stale_export_id: str
    ledger_id: str
    recall_id: str
    disclosure_task_id: str
    erasure_id: str
    hold_id: str


@dataclass(frozen=True)
class Raw:
    """A request body sent as bytes, with headers of its own (an attachment upload)."""

    content: bytes
    headers: dict[str, str]


def body_of(payload: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The keyword arguments that send ``payload``: JSON, or ``Raw`` bytes with their headers."""
    if isinstance(payload, Raw):
        return {"content": payload.content, "headers": {**payload.headers, **(headers or {})}}
    return {"json": payload, "headers": headers or {}}


PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 8
"""A small JPEG-looking file for the world's uploads."""
RECORDING = media.m4a_head() + bytes(range(256)) * 4
"""The bytes of the world's resumable upload."""
UPLOAD_PHOTO = Raw(PHOTO, {"attachment-kind": "photo", "attachment-category": "photos_other"})
RECORDING_DECISIONS = {"audio_recording": True, "video_recording": True, "photos": True}


def export_request(case_id: uuid.UUID | str, recipient_id: str, **overrides: Any) -> dict[str, Any]:
    """An export of the case's narratives, pseudonymous, to the world's recipient (one custodian approves)."""
    body: dict[str, Any] = {
        "case_ids": [str(case_id)],
        "purpose": "un_fact_finding",
        "recipient_id": recipient_id,
        "justification": "The Commission asked for accounts of the October crossing.",
        "categories": ["narrative_general"],
        "max_disclosure_level": "pseudonymous",
    }
    body.update(overrides)
    return body


NEEDS_REDACTION: dict[str, Any] = {"categories": ["narrative_sexual_violence"], "max_disclosure_level": "deidentified"}
"""An export whose narrative leaves only as a reviewed redaction."""

RECIPIENT = RecipientCreate(
    recipient_class=RecipientClass.UN_INVESTIGATIVE_BODIES,
    jurisdiction="international",
    names=["Commission of Inquiry"],
    recall_contact="Registry, by the secure channel agreed at first contact.",
)
"""The world's registered recipient (registered from the command line, so at once)."""


INTERVIEW_REVISION = 3
"""The revision of the world's interview: planned with its checklist, a feedback promise, then started."""
DRAFT_REVISION = 2
"""The world's interview has a draft: saved, confirmed as version 1, then corrected (saved again)."""
REDACTED = "We left on foot […]."
"""The world's redaction of its statement's version 1; the matrix prepares another."""


def _settings(data_dir: Path, url: str, key_file: Path) -> Settings:
    return Settings(
        development=True,
        data_dir=data_dir,
        database=DatabaseSettings(url=url),
        keys=KeySettings(file=key_file),
        passwords=CHEAP_ARGON2,
    )


def _app(data_dir: Path, url: str, key_file: Path) -> FastAPI:
    store = FileKeyStore(key_file, None)
    return create_app(_settings(data_dir, url, key_file), Keys(store, store.load()))


def build(templates: Templates, workdir: Path) -> Saved:
    database = templates.keep("matrix")
    key_file = workdir / "keyring.json"
    write_private_file(key_file, kr.dumps(kr.generate(), None))
    app = _app(workdir, database.url, key_file)
    try:
        return _populate(app, database, key_file)
    finally:
        app.state.engine.dispose()


def _populate(app: FastAPI, database: ProvisionedDatabase, key_file: Path) -> Saved:
    with unit_of_work(app.state.sessionmaker) as s:
        case = Case(id=new_id(), code="KC-1", title="Matrix case", created_at=datetime.now(UTC))
        s.add(case)
        case_id = case.id
    actors: dict[str, Actor] = {}
    for name, (roles, with_totp, on_team, password_pending) in SESSIONS.items():
        username = name.replace("_", "-")
        user_id, secret = make_user(app, username, roles, with_totp=with_totp, cases=(case_id,) if on_team else ())
        if password_pending:
            with unit_of_work(app.state.sessionmaker) as s:
                user = s.get(User, user_id)
                assert user is not None
                user.password_change_required = True
        actors[name] = login(app, username, secret)
    me = {name: a.get("/api/v1/me").json() for name, a in actors.items()}
    assert [n for n, m in me.items() if m["must_change_password"]] == ["doc_pw", "admin_pw"]
    assert [n for n, m in me.items() if m["must_enrol_totp"]] == ["doc_enrol", "admin_enrol"]
    tokens = {}
    for name, owner in READ_ONLY_TOKENS.items():
        made = actors[owner].post("/api/v1/auth/tokens", json={"name": name, "scope": "read"})
        assert made.status_code == 201, made.text
        tokens[name] = made.json()["token"]
    target_id, target_secret = make_user(app, "target", [Role.DOCUMENTER])
    login(app, "target", target_secret)  # a live session, so ending the target's sessions changes something
    admin_token = actors["admin"].post("/api/v1/auth/tokens", json={"name": "owned"}).json()["id"]
    pending = actors["admin2"].request("PATCH", f"/api/v1/users/{target_id}", json={"roles": ["legal"]})
    assert pending.status_code == 202, pending.text
    with unit_of_work(app.state.sessionmaker) as s:
        assert audit.make_checkpoint(s, app.state.keys.current.signer, app.state.settings.audit.origin) is not None
    documenter = actors["doc_in"]
    people = [person_in(documenter, case_id)["id"] for _ in range(2)]
    for person in people:
        assert documenter.post(f"/api/v1/people/{person}/participation", json=participation(app)).status_code == 201
        assert documenter.request("PATCH", f"/api/v1/people/{person}", json=identity()).status_code == 200
    granted = documenter.post(f"/api/v1/people/{people[0]}/consents", json=use_consent(app))
    assert granted.status_code == 201, granted.text
    reviews = actors["custodian"].get("/api/v1/duplicate-reviews").json()["reviews"]
    assert len(reviews) == 1, reviews
    interview = documenter.post(f"/api/v1/people/{people[0]}/interviews", json=planned(checklist=checklist()))
    assert interview.status_code == 201, interview.text
    promised = documenter.request(
        "PATCH",
        f"/api/v1/interviews/{interview.json()['id']}",
        json={"revision": 1, "feedback": [{"promise": "Tell her when the report is out.", "due_on": due()}]},
    )
    started = documenter.request(
        "PATCH", f"/api/v1/interviews/{interview.json()['id']}", json={"revision": 2, "state": "in_progress"}
    )
    assert started.json()["revision"] == INTERVIEW_REVISION, started.text
    drafted = documenter.request(
        "PUT",
        f"/api/v1/interviews/{interview.json()['id']}/draft",
        json={"text": "We left on foot at night.", "answers": [{"question": "background", "state": "declined"}]},
    )
    assert drafted.json()["revision"] == 1, drafted.text
    confirmed = documenter.post(
        f"/api/v1/interviews/{interview.json()['id']}/statements",
        json={"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"},
    )
    assert confirmed.status_code == 201, confirmed.text
    corrected = documenter.request(
        "PUT",
        f"/api/v1/interviews/{interview.json()['id']}/draft",
        json={
            "text": "We left on foot at night, in October.",
            "answers": [{"question": "background", "state": "declined"}],
        },
    )
    assert corrected.json()["revision"] == DRAFT_REVISION, corrected.text
    redacted = documenter.post(
        f"/api/v1/interviews/{interview.json()['id']}/redactions",
        json={"statement_version_id": confirmed.json()["id"], "text": REDACTED},
    )
    assert redacted.status_code == 201, redacted.text
    incident = documenter.post(f"/api/v1/interviews/{interview.json()['id']}/incidents", json=INCIDENT)
    assert incident.status_code == 201, incident.text
    recording = _recording(app, documenter, people[1])
    _completed(app, documenter, people[1])
    attachment = documenter.post(f"/api/v1/interviews/{recording}/attachments", **body_of(UPLOAD_PHOTO))
    assert attachment.status_code == 201, attachment.text
    upload = documenter.post(
        f"/api/v1/interviews/{recording}/uploads", json={"kind": "audio", "length": len(RECORDING)}
    )
    assert upload.status_code == 201, upload.text
    with unit_of_work(app.state.sessionmaker) as s:
        registered = recipients.create_recipient(s, app.state.runtime, Principal.system("world"), RECIPIENT)
        assert registered.recipient is not None
        recipient_id = str(registered.recipient.id)
    disclosed = _disclosed(app, actors, case_id, recipient_id, people[0])
    _come_of_age(app, documenter, case_id)
    erasure_id, hold_id = waiting_for_a_second_custodian(app, actors["doc_in"], case_id)
    asked = actors["legal_in"].post("/api/v1/exports", json=export_request(case_id, recipient_id))
    assert asked.status_code == 201, asked.text
    # people[1]'s completed interview waits for the redaction this one would send as a de-identified narrative.
    needing = export_request(case_id, recipient_id, filters={"people": [people[1]]}, **NEEDS_REDACTION)
    assert actors["legal_in"].post("/api/v1/exports", json=needing).status_code == 201
    credentials = {
        name: Credential(a.user_id, a.username, a.totp_secret, a.client.cookies.get(COOKIE), a.csrf, None)
        for name, a in actors.items()
    }
    for name, owner in READ_ONLY_TOKENS.items():
        o = actors[owner]
        credentials[name] = Credential(o.user_id, o.username, o.totp_secret, None, None, tokens[name])
    return Saved(
        source=database.source,
        key_file=key_file,
        built_at=now(app),
        credentials=credentials,
        case_id=case_id,
        target_id=target_id,
        admin_token_id=admin_token,
        confirmation_id=pending.json()["pending_confirmation"]["id"],
        person_id=people[0],
        review_id=reviews[0]["id"],
        interview_id=interview.json()["id"],
        task_id=promised.json()["feedback"][0]["task_id"],
        recording_id=recording,
        attachment_id=attachment.json()["id"],
        upload_id=upload.json()["id"],
        blob_dir=app.state.runtime.settings.attachments_dir,
        statement_id=confirmed.json()["id"],
        incident_id=incident.json()["id"],
        recipient_id=recipient_id,
        consent_id=granted.json()["id"],
        reference_code=granted.json()["reference_code"],
        export_id=asked.json()["id"],
        redaction_id=redacted.json()["id"],
        ready_export_id=disclosed.ready_export_id,
        stale_export_id=disclosed.stale_export_id,
        ledger_id=disclosed.ledger_id,
        recall_id=disclosed.recall_id,
        disclosure_task_id=disclosed.disclosure_task_id,
        erasure_id=erasure_id,
        hold_id=hold_id,
    )


@dataclass(frozen=True)
class Disclosed:
    ready_export_id: str
    stale_export_id: str
    ledger_id: str
    recall_id: str
    disclosure_task_id: str


def _built(app: FastAPI, actors: dict[str, Actor], body: dict[str, Any]) -> str:
    """An export asked for, approved, and built by the real worker, which stores its bundle."""
    asked = actors["legal_in"].post("/api/v1/exports", json=body)
    assert asked.status_code == 201, asked.text
    export_id: str = asked.json()["id"]
    approved = actors["custodian"].post(f"/api/v1/exports/{export_id}/approve", json={"reason": "Within the purpose."})
    assert approved.status_code == 200, approved.text
    assert Worker(app.state.sessionmaker, app.state.runtime).run_once() is True
    assert stored_bundle(app, export_id)  # the build sealed its bundle
    return export_id


def _disclosed(
    app: FastAPI, actors: dict[str, Actor], case_id: uuid.UUID, recipient_id: str, granted: str
) -> Disclosed:
    """Two built exports: one of people[0] (``granted``), ready to download; one of a person who agreed to be
    contacted again, downloaded, then recalled by their withdrawal and gone stale at the next download. The
    lists of recall notices and of feedback tasks (doc_in recorded the person) have something in them."""
    documenter = actors["doc_in"]
    person = person_in(documenter, case_id)["id"]
    decisions = {**participation(app)["decisions"], "re_contact": True}
    agreed = documenter.post(
        f"/api/v1/people/{person}/participation",
        json=participation(app, decisions=decisions, recontact=recontact(days=20)),  # comes due for retention review
    )
    assert agreed.status_code == 201, agreed.text
    record = documenter.post(f"/api/v1/people/{person}/consents", json=use_consent(app))
    assert record.status_code == 201, record.text
    recalled = _built(app, actors, export_request(case_id, recipient_id, filters={"people": [person]}))
    assert actors["legal_in"].get(f"/api/v1/exports/{recalled}/bundle").status_code == 200
    withdrawn = documenter.post(
        f"/api/v1/consents/{record.json()['id']}/withdraw",
        json={"scope": "all", "mode": "stop_future_use", "received_via": "phone"},
    )
    assert withdrawn.status_code == 201, withdrawn.text
    assert actors["legal_in"].get(f"/api/v1/exports/{recalled}/bundle").status_code == 409  # now stale
    [notice] = actors["custodian"].get("/api/v1/recalls").json()["items"]
    tasks = documenter.get("/api/v1/feedback-tasks").json()["items"]
    task = next(t for t in tasks if t["reason"] == "recall" and t["state"] == "open")
    ready = _built(app, actors, export_request(case_id, recipient_id, filters={"people": [granted]}))
    return Disclosed(ready, recalled, notice["ledger_id"], notice["id"], task["id"])


def _come_of_age(app: FastAPI, documenter: Actor, case_id: uuid.UUID) -> None:
    """A person whose participation consent was given as a child a week ago, 18 since yesterday: the re-consent
    queue has something in it."""
    today = datetime.now(UTC).date()
    born = (today.replace(year=today.year - 18) - timedelta(days=1)).isoformat()
    minor = {
        "assent": True,
        "guardian": {"name": "Guardian One", "relation": "mother", "consent": True},
        "best_interests_checked_by": "Child protection officer",
    }
    given = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    person = person_in(documenter, case_id)["id"]
    body = participation(app, date_of_birth=born, obtained_at=given, minor=minor, **child_texts(app))
    assert documenter.post(f"/api/v1/people/{person}/participation", json=body).status_code == 201


def _recording(app: FastAPI, documenter: Actor, person_id: str) -> str:
    """An interview of the person in progress, under consent that agrees to every recording."""
    decisions = {**participation(app)["decisions"], **RECORDING_DECISIONS}
    agreed = documenter.post(f"/api/v1/people/{person_id}/participation", json=participation(app, decisions=decisions))
    assert agreed.status_code == 201, agreed.text
    made = documenter.post(f"/api/v1/people/{person_id}/interviews", json=planned(checklist=checklist()))
    assert made.status_code == 201, made.text
    started = documenter.request(
        "PATCH", f"/api/v1/interviews/{made.json()['id']}", json={"revision": 1, "state": "in_progress"}
    )
    assert started.status_code == 200, started.text
    recording: str = started.json()["id"]
    return recording


def _completed(app: FastAPI, documenter: Actor, person_id: str) -> None:
    """A completed interview of the person with a confirmed statement and no redaction: the work queue's item,
    and (the person granting it de-identified) the item of the redactions waiting exports need."""
    made = documenter.post(f"/api/v1/people/{person_id}/interviews", json=planned(checklist=checklist()))
    assert made.status_code == 201, made.text
    path = f"/api/v1/interviews/{made.json()['id']}"
    started = documenter.request("PATCH", path, json={"revision": 1, "state": "in_progress"})
    assert started.status_code == 200, started.text
    assert documenter.request("PUT", f"{path}/draft", json={"text": "They took my brother."}).status_code == 200
    confirmed = documenter.post(
        f"{path}/statements",
        json={"version": 1, "draft_revision": 1, "confirmed_by_interviewee": True, "read_back_in": "hy"},
    )
    assert confirmed.status_code == 201, confirmed.text
    grants = [grant(), grant(categories=NEEDS_REDACTION["categories"], disclosure_level="deidentified")]
    first = documenter.post(
        f"{path}/reconfirm-consent", json={"outcome": "first", "first": use_consent(app, grants=grants)}
    )
    assert first.status_code == 201, first.text
    done = documenter.request("PATCH", path, json={"revision": 2, "state": "completed"})
    assert done.status_code == 200, done.text


@contextmanager
def restore(saved: Saved, templates: Templates, tmp_path: Path) -> Iterator[World]:
    """A copy of the saved world, served by an app with the same keyring and the clock of its build,
    so that sessions and second factors are as fresh as when the world was made."""
    key_file = tmp_path / "var" / "keyring.json"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(saved.key_file, key_file)
    shutil.copytree(saved.blob_dir, key_file.parent / "attachments")
    shutil.copytree(saved.blob_dir.parent / "exports", key_file.parent / "exports")  # the sealed bundles
    with templates.database(tmp_path, source=saved.source) as database:
        app = _app(tmp_path / "var", database.url, key_file)
        try:
            shift_clock(app, saved.built_at - now(app) + timedelta(seconds=1))
            actors = {name: _actor(app, c) for name, c in saved.credentials.items()}
            yield World(
                app,
                database,
                actors,
                saved.case_id,
                saved.target_id,
                saved.admin_token_id,
                saved.confirmation_id,
                saved.person_id,
                saved.review_id,
                saved.interview_id,
                saved.task_id,
                saved.recording_id,
                saved.attachment_id,
                saved.upload_id,
                saved.statement_id,
                saved.incident_id,
                saved.recipient_id,
                saved.consent_id,
                saved.reference_code,
                saved.export_id,
                saved.redaction_id,
                saved.ready_export_id,
                saved.stale_export_id,
                saved.ledger_id,
                saved.recall_id,
                saved.disclosure_task_id,
                saved.erasure_id,
                saved.hold_id,
            )
        finally:
            app.state.engine.dispose()


def _actor(app: FastAPI, c: Credential) -> Actor:
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    if c.cookie is not None:
        client.cookies.set(COOKIE, c.cookie)
    return Actor(c.user_id, c.username, c.totp_secret, client, csrf=c.csrf, bearer=c.bearer)


def request(world: World, who: str, method: str, path: str, payload: Any) -> Any:
    if who == "anon":
        client = TestClient(world.app, base_url="https://testserver", raise_server_exceptions=False)
        return client.request(method, path, **body_of(payload))
    return world.actors[who].request(method, path, **body_of(payload))


QUERY = {
    "/api/v1/audit/proofs/inclusion": "?index=0&tree_size=2",
    "/api/v1/audit/proofs/consistency": "?first=1&second=2",
}


def export_of(template: str, w: World) -> str:
    """The world's export a route acts on: the ready one to download, the stale one to ask for again or to
    mark a ledger row of, else the one waiting for a decision."""
    if template.endswith("/bundle"):
        return w.ready_export_id
    if template.endswith("/request-again") or "/ledger/" in template:
        return w.stale_export_id
    return w.export_id


def path_of(template: str, w: World) -> str:
    """A route template filled in with the world's ids (and a query where the route needs one)."""
    path = template.format(
        case_id=w.case_id,
        user_id=w.actors["doc_in"].user_id if "members" in template else w.target_id,
        token_id=w.admin_token_id,
        confirmation_id=w.confirmation_id,
        person_id=w.person_id,
        review_id=w.review_id,
        interview_id=w.recording_id if template.endswith(("/attachments", "/uploads")) else w.interview_id,
        task_id=w.disclosure_task_id if template.endswith("/outcome") else w.task_id,
        attachment_id=w.attachment_id,
        upload_id=w.upload_id,
        statement_id=w.statement_id,
        incident_id=w.incident_id,
        recipient_id=w.recipient_id,
        consent_id=w.consent_id,
        export_id=export_of(template, w),
        redaction_id=w.redaction_id,
        ledger_id=w.ledger_id,
        recall_id=w.recall_id,
        erasure_id=w.erasure_id,
        hold_id=w.hold_id,
        form_id="standard",
        guide_id="standard",
        version="v1",
        language="hy",
    )
    return path + QUERY.get(template, "")
