"""Ids, timestamps and the unit of work."""

import time
import uuid
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, ForeignKey, MetaData, String, Uuid, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from app.access.models import User
from app.audit.models import AuditEvent
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.cases.models import Case
from app.consent.models import ParticipationConsent
from app.core.db import db_now, integrity_conflict, new_id, on_outcome, release_work, resume_work, unit_of_work
from app.core.errors import Conflict
from app.people.models import Person
from tests.support.database import ProvisionedDatabase


def test_new_id_is_uuid7_and_time_ordered() -> None:
    ids = [new_id() for _ in range(50)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    ms = int.from_bytes(ids[0].bytes[:6], "big")
    assert abs(ms - time.time() * 1000) < 5000
    first = new_id()
    time.sleep(0.002)
    assert first < new_id()
    assert len(set(ids)) == 50


def test_db_now_is_utc_aware(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as s:
        now = db_now(s)
    assert now.tzinfo is UTC
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60


class _TestBase(DeclarativeBase):
    metadata = MetaData()


class Parent(_TestBase):
    __tablename__ = "test_uow_parent"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


class Child(_TestBase):
    __tablename__ = "test_uow_child"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # Deferred: the violation surfaces only at COMMIT, which must happen before the response.
    parent_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("test_uow_parent.id", deferrable=True, initially="DEFERRED")
    )
    note: Mapped[str] = mapped_column(String(50))


@pytest.fixture
def uow_app(app: FastAPI, database: ProvisionedDatabase) -> FastAPI:
    database.create_tables(_TestBase.metadata)
    from fastapi import APIRouter

    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.post("/api/v1/test-children/{parent_id}")
    @audited(AuditAction.CASE_CREATE, "test_child", id_param="parent_id")
    def add_child(parent_id: uuid.UUID, session: DbSession, fail: bool = False) -> dict[str, str]:
        child = Child(id=new_id(), parent_id=parent_id, note="x")
        session.add(child)
        session.flush()
        if fail:
            raise ValueError("boom after flush")
        return {"id": str(child.id)}

    @router.post("/api/v1/test-parents")
    def add_parent(session: DbSession) -> dict[str, str]:
        parent = Parent(id=new_id())
        session.add(parent)
        session.flush()
        return {"id": str(parent.id)}

    app.include_router(router)
    return app


def _children(engine: Engine) -> int:
    with Session(engine) as s:
        return len(s.scalars(select(Child)).all())


def test_committed_before_response(uow_app: FastAPI, engine: Engine) -> None:
    client = TestClient(uow_app, raise_server_exceptions=False)
    parent = client.post("/api/v1/test-parents").json()["id"]
    assert client.post(f"/api/v1/test-children/{parent}").status_code == 200
    assert _children(engine) == 1


def test_commit_failure_is_not_reported_as_success(uow_app: FastAPI, engine: Engine) -> None:
    client = TestClient(uow_app, raise_server_exceptions=False)
    r = client.post(f"/api/v1/test-children/{uuid.uuid4()}")
    assert r.status_code == 500
    assert _children(engine) == 0


def test_error_after_flush_leaves_nothing(uow_app: FastAPI, engine: Engine) -> None:
    client = TestClient(uow_app, raise_server_exceptions=False)
    parent = client.post("/api/v1/test-parents").json()["id"]
    r = client.post(f"/api/v1/test-children/{parent}?fail=true")
    assert r.status_code == 500
    assert _children(engine) == 0


def test_a_failed_commit_on_an_audited_route_still_records_a_failed_event(uow_app: FastAPI, engine: Engine) -> None:
    client = TestClient(uow_app, raise_server_exceptions=False)
    parent = str(uuid.uuid4())
    r = client.post(f"/api/v1/test-children/{parent}")  # the deferred foreign key fails at COMMIT
    assert r.status_code == 500
    with Session(engine) as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.resource_type == "test_child")).all()
    assert (event.action, event.outcome, event.status, event.resource_id) == ("case.create", "failed", 500, parent)
    assert event.request_id == r.headers["x-request-id"]
    assert _children(engine) == 0


def _violation(engine: Engine, *rows: object) -> IntegrityError:
    with Session(engine) as s:
        s.add_all(rows)
        with pytest.raises(IntegrityError) as caught:
            s.flush()
    return caught.value


def test_unique_violations_name_their_field(engine: Engine) -> None:
    now = datetime.now(UTC)
    with unit_of_work(sessionmaker(engine)) as s:
        case = Case(id=new_id(), code="KU-1", title="t", created_at=now)
        s.add(case)
        s.flush()
        person = Person(id=new_id(), case_id=case.id, code="ABC-1234", created_at=now)
        s.add(person)
        person_id, case_id = person.id, case.id
        s.add(
            User(
                id=new_id(),
                username="taken",
                display_name="t",
                roles=[],
                password_hash="x",
                created_at=now,
                updated_at=now,
            )
        )

    def consent(version: int) -> ParticipationConsent:
        return ParticipationConsent(
            id=new_id(),
            person_id=person_id,
            version=version,
            status="given",
            allows_collection=True,
            form_id="standard",
            form_version="v1",
            language="en",
            text_sha256="0" * 64,
            form_digest="0" * 64,
            method="written",
            obtained_at=now,
            recorded_at=now,
            details=b"sealed",
        )

    cases: dict[str, list[object]] = {
        "username": [
            User(
                id=new_id(),
                username="taken",
                display_name="u",
                roles=[],
                password_hash="x",
                created_at=now,
                updated_at=now,
            ),
        ],
        "code": [Case(id=new_id(), code="KU-1", title="again", created_at=now)],
        "version": [consent(1), consent(1)],
    }
    for field, rows in cases.items():
        conflict = integrity_conflict(_violation(engine, *rows))
        assert conflict is not None, field
        assert (conflict.status, conflict.fields) == (409, [field])
    person_code = integrity_conflict(
        _violation(engine, Person(id=new_id(), case_id=case_id, code="ABC-1234", created_at=now))
    )
    assert person_code is not None
    assert person_code.fields == ["code"]
    dangling = _violation(engine, Person(id=new_id(), case_id=uuid.uuid4(), code="XYZ-9999", created_at=now))
    assert integrity_conflict(dangling) is None  # a foreign key is not a taken value


# Outcome hooks: what lives outside the database follows the transaction's fate. ---------------------------


def test_outcome_hooks_follow_the_unit_of_work(session_factory: sessionmaker[Session]) -> None:
    seen: list[str] = []
    with unit_of_work(session_factory) as s:
        on_outcome(s, committed=lambda: seen.append("committed"), rolled_back=lambda: seen.append("rolled back"))
        assert seen == []  # never before the commit
    assert seen == ["committed"]

    def failing_work() -> None:
        with unit_of_work(session_factory) as s:
            on_outcome(s, committed=lambda: seen.append("committed"), rolled_back=lambda: seen.append("rolled back"))
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        failing_work()
    assert seen == ["committed", "rolled back"]


def test_a_failing_hook_changes_nothing_decided(session_factory: sessionmaker[Session]) -> None:
    seen: list[str] = []
    with unit_of_work(session_factory) as s:
        on_outcome(s, committed=lambda: 1 / 0, rolled_back=lambda: None)
        on_outcome(s, committed=lambda: seen.append("second"), rolled_back=lambda: None)
    assert seen == ["second"]


@pytest.fixture
def hooked_app(uow_app: FastAPI) -> tuple[FastAPI, list[str]]:
    from fastapi import APIRouter

    seen: list[str] = []
    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.post("/api/v1/test-hooked/{parent_id}")
    @audited(AuditAction.CASE_CREATE, "test_child", id_param="parent_id")
    def add_hooked(parent_id: uuid.UUID, session: DbSession, status: int = 200) -> dict[str, str]:
        on_outcome(session, committed=lambda: seen.append("committed"), rolled_back=lambda: seen.append("rolled back"))
        session.add(Child(id=new_id(), parent_id=parent_id, note="x"))
        session.flush()
        if status >= 400:
            raise Conflict("refused")
        return {}

    @router.post("/api/v1/test-released")
    @audited(AuditAction.CASE_CREATE, "test_parent")
    def released(session: DbSession) -> dict[str, str]:
        release_work(session)
        assert not session.in_transaction()  # no lock and no connection held while a transfer would run
        resume_work(session)
        parent = Parent(id=new_id())
        session.add(parent)
        session.flush()
        return {"id": str(parent.id)}

    uow_app.include_router(router)
    return uow_app, seen


def test_hooks_run_after_the_request_commits_or_fails(hooked_app: tuple[FastAPI, list[str]], engine: Engine) -> None:
    app, seen = hooked_app
    client = TestClient(app, raise_server_exceptions=False)
    parent = client.post("/api/v1/test-parents").json()["id"]
    assert client.post(f"/api/v1/test-hooked/{parent}").status_code == 200
    assert seen == ["committed"]
    assert client.post(f"/api/v1/test-hooked/{parent}?status=409").status_code == 409
    assert seen == ["committed", "rolled back"]
    # The deferred foreign key fails at COMMIT: the work is lost, so is the blob that followed it.
    assert client.post(f"/api/v1/test-hooked/{uuid.uuid4()}").status_code == 500
    assert seen == ["committed", "rolled back", "rolled back"]
    assert _children(engine) == 1


def test_work_released_and_resumed_commits_with_its_event(
    hooked_app: tuple[FastAPI, list[str]], engine: Engine
) -> None:
    app, _ = hooked_app
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/api/v1/test-released")
    assert r.status_code == 200
    with Session(engine) as s:
        assert s.get(Parent, uuid.UUID(r.json()["id"])) is not None
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.resource_type == "test_parent")).all()
    assert event.outcome == "allowed"
