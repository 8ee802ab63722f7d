"""Database plumbing: metadata, engine, ids, timestamps and the unit of work."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Index,
    MetaData,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from app.core.errors import Conflict

log = logging.getLogger("testimony.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits.

    Made in Python before insert, so the id can be bound into ciphertexts.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(
    url: str, *, busy_timeout_ms: int = 5000, pool: bool = True, pg_settings: Mapping[str, str] | None = None
) -> Engine:
    """An engine; SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE. ``pg_settings``: run-time
    parameters every PostgreSQL session of the engine starts with (the export worker's timeouts)."""
    if not is_sqlite(url):
        # A request that finds no connection free within 5 s answers 503 rather than queueing on.
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if pool:
            kwargs["pool_timeout"] = 5
        else:
            kwargs["poolclass"] = NullPool  # which takes no pool_timeout
        if pg_settings:
            kwargs["connect_args"] = {"options": " ".join(f"-c {k}={v}" for k, v in pg_settings.items())}
        return create_engine(url, **kwargs)

    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite otherwise defers it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Every request writes an audit row; taking the write lock up front avoids
        # deadlocked lock upgrades between concurrent transactions.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_SIDE_ENGINES: dict[str, Engine] = {}


@contextmanager
def side_transaction(session: Session) -> Iterator[Session]:
    """A short transaction of its own, committed at once, on a connection outside the request's pool.

    For a count that must be visible to concurrent requests before the request's own work commits
    (a throttle's attempt on PostgreSQL), and for recording a request that found no pooled connection
    free. The connection is not drawn from the request's pool, so requests waiting for a second
    connection can never starve each other of the first. Not while the request's own transaction
    holds SQLite's write lock: it would wait for itself.
    """
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    if url not in _SIDE_ENGINES:
        _SIDE_ENGINES[url] = create_engine(url, poolclass=NullPool)
    engine = _SIDE_ENGINES[url]
    with Session(engine) as side:
        yield side
        side.commit()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed once on success, rolled back on any error."""
    session = factory()
    begin_work(session)
    try:
        yield session
        session.info.pop(FAILURE_HOOKS, None)
        session.commit()
    except BaseException:
        rollback_and_record(session)
        raise
    finally:
        session.close()
    settle(session, committed=True)


CLOCK_OFFSET = "clock_offset"
FAILURE_HOOKS = "on_failure"
OUTCOME_HOOKS = "on_outcome"
WORK = "work_savepoint"


def begin_work(session: Session) -> None:
    """Open the transaction and, inside it, a savepoint that holds the work itself.

    On failure the work is rolled back to the savepoint and the failure hooks (throttle
    counts, the denied or failed audit event) are written in the same transaction, so
    the locks it took (a throttle's per-account lock, SQLite's write lock) are held
    until they are recorded: a concurrent request never sees the state between.
    """
    session.info[WORK] = session.begin_nested()


def _clock(dialect_name: str) -> ColumnElement[Any]:
    if dialect_name == "sqlite":
        return literal_column("strftime('%Y-%m-%d %H:%M:%f', 'now')")
    return func.clock_timestamp()


def db_clock(session: Session) -> ColumnElement[Any]:
    """The database clock as a column, to read beside other columns in one statement; ``db_time`` turns the
    value read into what ``db_now`` answers."""
    return _clock(session.get_bind().dialect.name)


S = TypeVar("S")


class Prepared(Generic[S]):
    """A statement of a hot path, built once at import with ``bindparam`` for its values, in one variant per
    backend (the clock differs): building a select, and SQLAlchemy's cache key of it, cost a request more than
    the database's answer. ``build`` gets the clock column; the values go in as ``session.execute`` params."""

    def __init__(self, build: Callable[[ColumnElement[Any]], S]) -> None:
        self._sqlite = build(_clock("sqlite"))
        self._other = build(_clock("postgresql"))

    @classmethod
    def by_backend(cls, build: Callable[[ColumnElement[Any], bool], S]) -> Prepared[S]:
        """The same, for a statement that differs by backend in more than the clock: ``build`` also gets
        whether the variant is SQLite's."""
        prepared: Prepared[S] = cls.__new__(cls)
        prepared._sqlite = build(_clock("sqlite"), True)
        prepared._other = build(_clock("postgresql"), False)
        return prepared

    def __call__(self, session: Session) -> S:
        return self._sqlite if session.get_bind().dialect.name == "sqlite" else self._other


def core(session: Session) -> Connection:
    """The session's connection, for a prebuilt Core statement of a hot path (plain rows, no ORM objects), after
    flushing what the ORM holds, as ``session.execute`` does before an ORM statement: the ORM's execution layer
    costs a request more than the database's answer to a one-column read. Same transaction, same savepoint."""
    session.flush()
    return session.connection()


def db_time(session: Session, value: object) -> datetime:
    """A value of ``db_clock`` as a UTC datetime, shifted by the session's test clock offset."""
    if isinstance(value, str):
        now = datetime.fromisoformat(value).replace(tzinfo=UTC)
    else:
        assert isinstance(value, datetime)
        now = value.astimezone(UTC)
    offset: timedelta = session.info.get(CLOCK_OFFSET, timedelta(0))
    return now + offset


def db_now(session: Session) -> datetime:
    """The database clock, in UTC; used for every recorded time.

    Tests shift it with ``sessionmaker.configure(info={"clock_offset": timedelta(...)})``.
    """
    return db_time(session, session.execute(select(db_clock(session))).scalar_one())


def on_failure(session: Session, hook: Callable[[Session], object], *, first: bool = False) -> None:
    """Run hook, without the work, if this unit of work fails.

    Used to keep a record of denied and failed attempts (throttle counts, audit
    events) even though the work they belong to is rolled back.
    """
    hooks: list[Callable[[Session], object]] = session.info.setdefault(FAILURE_HOOKS, [])
    hooks.insert(0, hook) if first else hooks.append(hook)


def column_values(row: Base) -> dict[str, Any]:
    """A row's mapped columns by name, for building a wire shape that adds to them."""
    return {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}


def changed_rows(result: object) -> int:
    """How many rows a conditional UPDATE changed: the database's answer to "was it still as expected?"."""
    return int(getattr(result, "rowcount", 0) or 0)


def on_outcome(session: Session, *, committed: Callable[[], object], rolled_back: Callable[[], object]) -> None:
    """Run ``committed`` once the unit of work has committed, or ``rolled_back`` once it has not.

    For what lives outside the database and must follow the transaction's fate: a blob written
    under a temp name is renamed only after its row commits, and removed when the row never does.
    SQLAlchemy's own ``after_commit`` event would not do: it also fires for the commit that records
    a failure (rollback_and_record), when the work it belongs to was rolled back. These hooks run
    only through settle(), after the transaction has ended; an error in one is logged (its type,
    never its message) and changes nothing that was decided.
    """
    hooks: list[tuple[Callable[[], object], Callable[[], object]]] = session.info.setdefault(OUTCOME_HOOKS, [])
    hooks.append((committed, rolled_back))


def settle(session: Session, *, committed: bool) -> None:
    """Run the outcome hooks once, now that the work has committed (or not); callers are the units of work."""
    hooks: list[tuple[Callable[[], object], Callable[[], object]]] = session.info.pop(OUTCOME_HOOKS, [])
    for on_commit, on_rollback in hooks:
        try:
            (on_commit if committed else on_rollback)()
        except Exception as exc:
            log.error("an outcome hook failed after %s: %s", "commit" if committed else "rollback", type(exc).__name__)


def release_work(session: Session) -> None:
    """End the request's transaction before a long transfer, so that no lock or connection is held
    while bytes arrive; resume_work() starts the work again afterwards.

    Call it only after reads (the policy check, finding the row): it commits what the request has
    done so far, which is then nothing but the principal's last-seen time. Whatever the request
    writes comes after resume_work() and commits or rolls back whole with its audit event; the
    checks are made again there, so the decision is the one of the transaction that commits. The
    audit trail, the failure hooks and the outcome hooks are kept.
    """
    session.info.pop(WORK, None)
    session.commit()


def resume_work(session: Session) -> None:
    """Open the transaction and its work savepoint again after release_work()."""
    begin_work(session)


def integrity_conflict(exc: IntegrityError) -> Conflict | None:
    """The 409 for a unique value taken meanwhile, naming the field; None for other violations.

    Constraint names come from NAMING_CONVENTION (``uq_<table>_<column>``); the field is the
    constraint's last column, so ``(person_id, version)`` names ``version``.
    """
    orig = exc.orig
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    columns: list[str] = []
    if name is None:  # SQLite: "UNIQUE constraint failed: cases.code" (table.column, ...)
        message = str(orig)
        prefix = "UNIQUE constraint failed: "
        if not message.startswith(prefix):
            return None
        columns = [part.strip().rsplit(".", 1)[-1] for part in message[len(prefix) :].split(",")]
        table = message[len(prefix) :].split(".", 1)[0].strip()
        name = f"uq_{table}_{columns[0]}"
    for table_obj in Base.metadata.tables.values():
        unique: list[UniqueConstraint | Index] = [c for c in table_obj.constraints if isinstance(c, UniqueConstraint)]
        unique += [i for i in table_obj.indexes if i.unique]  # partial unique indexes, named uq_ too
        for constraint in unique:
            if constraint.name == name:
                field = list(constraint.columns)[-1].name
                return Conflict(
                    "that %(unique_field)s is already taken",
                    fields=[field],
                    params={"unique_field": field.replace("_", " ")},
                )
    return None


def rollback_and_record(session: Session) -> None:
    """Undo the work, then commit the failure hooks without it.

    The work is rolled back to its savepoint when there is one, so the hooks run in the
    transaction that still holds the work's locks; otherwise (a failed commit, a broken
    connection) everything is rolled back and the hooks run in a fresh transaction.
    """
    hooks: list[Callable[[Session], object]] = session.info.pop(FAILURE_HOOKS, [])
    work = session.info.pop(WORK, None)
    try:
        if not hooks or work is None or not session.in_nested_transaction():
            session.rollback()
        else:
            try:
                work.rollback()
            except Exception:  # the connection is gone: start again from nothing
                session.rollback()
        if not hooks:
            return
        try:
            for hook in hooks:
                hook(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    finally:
        settle(session, committed=False)


def grant_app_role(connection: Any, metadata: MetaData, role: str) -> None:
    """Give the PostgreSQL application role what it needs and no more.

    Tables marked ``info={"append_only": True}`` get SELECT and INSERT only; the
    role never owns a table, so it cannot drop triggers or grant itself rights.
    """
    quoted = connection.dialect.identifier_preparer.quote(role)
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {quoted}")
    for table in metadata.sorted_tables:
        name = connection.dialect.identifier_preparer.quote(table.name)
        if table.info.get("append_only"):
            connection.exec_driver_sql(f"REVOKE ALL ON {name} FROM {quoted}")
            connection.exec_driver_sql(f"GRANT SELECT, INSERT ON {name} TO {quoted}")
        else:
            connection.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {quoted}")
    connection.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
