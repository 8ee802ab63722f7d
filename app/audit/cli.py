"""`testimony audit`: checkpoints, export and verification of the log."""

from __future__ import annotations

import base64
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.text import Text
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.audit import note
from app.audit import service as audit
from app.audit.models import AuditCheckpoint
from app.audit.verify import Report, default_jobs, read_chain_file
from app.audit.vocabulary import AuditAction
from app.cli_support import JsonOption, console, counted, fail, group, out, print_json, progress, record
from app.core.config import Settings, get_settings
from app.core.db import is_sqlite, make_engine, make_sessionmaker, unit_of_work
from app.core.errors import ConfigError
from app.crypto.keyring import Keyring
from app.crypto.signing import fingerprint
from app.keys.store import Keys, load_keyring, open_keys, prompt_passphrase

audit_cli = group("The tamper-evident log: checkpoints, export, verification.")


def _keyring(settings: Settings) -> Keyring:
    try:
        return load_keyring(settings, prompt_passphrase)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@contextmanager
def _open() -> Iterator[tuple[Keys, sessionmaker[Session], str]]:
    settings = get_settings()
    try:
        keys = open_keys(settings, prompt_passphrase)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    engine = make_engine(settings.database_url)
    try:
        yield keys, make_sessionmaker(engine), settings.audit.origin
    finally:
        engine.dispose()


def checkpoint_once(
    factory: sessionmaker[Session], keyring: Keyring, origin: str, *, show_progress: bool = True
) -> AuditCheckpoint | None:
    """Record the checkpointing, then sign the tree including that record."""
    record(factory, AuditAction.AUDIT_CHECKPOINT, resource_type="audit_log")
    bar: AbstractContextManager[Progress | None] = progress() if show_progress else nullcontext()
    with bar as shown, unit_of_work(factory) as session:
        task = shown.add_task("hashing the log", total=audit.size(session)) if shown else None
        advance: Callable[[int], None] = (
            (lambda n: shown.advance(task, n)) if shown and task is not None else (lambda _n: None)
        )
        row = audit.make_checkpoint(session, keyring.signer, origin, advance)
    return row


def _pending(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        latest = audit.latest_checkpoint(session)
        return audit.size(session) - (latest.size if latest else 0)


def sign_when_due(
    factory: sessionmaker[Session],
    keyring: Callable[[], Keyring],
    origin: str,
    every_events: int,
    every_seconds: float,
    *,
    stop: threading.Event,
    max_runs: int | None = None,
    show_progress: bool = True,
) -> int:
    """Sign a checkpoint whenever N events are pending or T seconds passed with any pending; the count signed."""
    made = 0
    last = time.monotonic()
    while (max_runs is None or made < max_runs) and not stop.is_set():
        pending = _pending(factory)
        if pending > 0 and (pending >= every_events or time.monotonic() - last >= every_seconds):
            if checkpoint_once(factory, keyring(), origin, show_progress=show_progress) is not None:
                made += 1
            last = time.monotonic()
        stop.wait(min(every_seconds, 1.0))
    return made


@contextmanager
def background_checkpointer(factory: sessionmaker[Session], keys: Keys, settings: Settings) -> Iterator[None]:
    """Sign checkpoints from a thread of this process (a development server) while the block runs."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                sign_when_due(
                    factory,
                    keys.for_signing,
                    settings.audit.origin,
                    settings.audit.checkpoint_every_events,
                    float(settings.audit.checkpoint_every_seconds),
                    stop=stop,
                    show_progress=False,
                )
            except SQLAlchemyError as exc:  # a busy or unreachable database: try again later
                console.print(f"checkpointer: {type(exc).__name__}; retrying", markup=False)
                stop.wait(5)

    thread = threading.Thread(target=run, name="checkpointer", daemon=True)
    console.print(
        f"signing audit checkpoints every {counted(settings.audit.checkpoint_every_events, 'event')} "
        f"or {counted(settings.audit.checkpoint_every_seconds, 'second')} from this process"
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@audit_cli.command("checkpoint")
def checkpoint(
    out_file: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Save the note for off-server keeping.")
    ] = None,
) -> None:
    """Sign a checkpoint of the log now. Optionally save the latest one to a file."""
    with _open() as (keys, factory, origin):
        row = checkpoint_once(factory, keys.for_signing(), origin)
        with unit_of_work(factory) as session:
            latest = audit.latest_checkpoint(session)
        if latest is None:
            console.print("the log is empty; nothing to sign")
            raise typer.Exit(1)
        if out_file is not None:
            out_file.write_text(latest.note)
        made = "signed" if row is not None else "already current:"
        out.print(
            f"{made} checkpoint of {counted(latest.size, 'entry', 'entries')}, root {audit.b64(latest.root_hash)}",
            soft_wrap=True,
        )


@audit_cli.command("checkpointer")
def checkpointer(
    every_events: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Sign once N events wait. Default: TESTIMONY_AUDIT__CHECKPOINT_EVERY_EVENTS, 1000."
        ),
    ] = None,
    every_seconds: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            metavar="SECONDS",
            help="Sign any waiting event after this long. Default: TESTIMONY_AUDIT__CHECKPOINT_EVERY_SECONDS, 300.",
        ),
    ] = None,
    max_runs: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Stop after signing N checkpoints. Default: run until stopped."),
    ] = None,
) -> None:
    """Sign checkpoints every N events or T seconds. The one named process that does, beside the workers."""
    settings = get_settings()
    n = every_events or settings.audit.checkpoint_every_events
    t = every_seconds or float(settings.audit.checkpoint_every_seconds)
    with _open() as (keys, factory, origin):
        # keys.for_signing rereads a key file that changed: after `keys rotate-signing` the next checkpoint is
        # signed with the new key, without a restart.
        made = sign_when_due(factory, keys.for_signing, origin, n, t, stop=threading.Event(), max_runs=max_runs)
    out.print(f"signed {counted(made, 'checkpoint')}")


@audit_cli.command("export")
def export(
    out_file: Annotated[Path, typer.Option("--out", metavar="FILE", help="Where to write the entries (JSONL).")],
) -> None:
    """Write every stored entry to a file, one per line. For verification elsewhere."""
    with _open() as (_keys, factory, _origin):
        record(factory, AuditAction.AUDIT_EXPORT, resource_type="audit_log")
        written = 0
        with unit_of_work(factory) as session, out_file.open("wb") as fh, progress() as bar:
            task = bar.add_task("exporting", total=audit.size(session))
            for entry in audit.iter_entries(session):
                fh.write(entry + b"\n")
                written += 1
                bar.advance(task)
        out.print(f"wrote {counted(written, 'entry', 'entries')} to {out_file}", soft_wrap=True)


def pinned_key(key: str, keyring: Callable[[], Keyring], origin: str) -> tuple[bytes, str]:
    """A vkey, or a fingerprint matched against the local key history; never the first key offered."""
    if ":" in key or "+" in key:
        name, public = note.parse_vkey(key)
        return public, name
    for entry in keyring().public_keys():
        if entry["fingerprint"] == key.lower():
            return base64.b64decode(entry["public_key"]), origin
    raise typer.BadParameter("no signing key with that fingerprint: the log was not signed by the pinned key")


def _or_fail(load: Callable[[], Keyring]) -> Keyring:
    try:
        return load()
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _local_transitions(load: Callable[[], Keyring]) -> list[dict[str, str]]:
    """The key transitions of the local key file, when there is one to open; none without (a copy verified
    elsewhere with a vkey): then only the pinned key is trusted, which can only fail more checkpoints, never
    pass one."""
    try:
        return load().transitions()
    except ConfigError:
        return []


def verify_database(
    session: Session, public_key: bytes, key_name: str, external: list[Path], transitions: object = ()
) -> Report:
    kept: list[tuple[str, str | bytes]] = [(f"external {p.name}", p.read_text()) for p in external]
    with progress() as bar:
        task = bar.add_task("verifying", total=audit.size(session))
        return audit.verify_stored(
            session,
            public_key,
            key_name,
            kept,
            on_progress=lambda entries, _length: bar.advance(task, entries),
            workers=default_jobs(),
            transitions=transitions,
        )


def read_only_engine(url: str) -> Engine:
    """An engine that cannot change the database it opens: a forensic copy is read, never written.

    SQLite opens the file with mode=ro: no journal-mode change and no lock taken. Without a -wal file
    beside it (a copy made with `.backup` or VACUUM INTO) it is also opened immutable, so not even a
    shared-memory index is created next to it; with one, SQLite must read that WAL too.
    PostgreSQL runs every transaction READ ONLY.
    """
    if is_sqlite(url):
        database = make_url(url).database
        if not database or database == ":memory:" or not Path(database).is_file():
            raise fail("--database-url must name an existing SQLite file (or a PostgreSQL database)")
        path = Path(database).resolve()
        wal = path.with_name(path.name + "-wal").exists()
        uri = path.as_uri() + ("?mode=ro" if wal else "?mode=ro&immutable=1")

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        return create_engine("sqlite://", creator=connect, poolclass=NullPool)
    options: dict[str, Any] = {"options": "-c default_transaction_read_only=on"}
    return create_engine(url, poolclass=NullPool, connect_args=options)


def _distinct_checkpoints(report: Report) -> int:
    """A checkpoint given twice (stored, and kept off the server) is one checkpoint."""
    return len({(c.checkpoint.origin, c.checkpoint.size, c.checkpoint.root_hash) for c in report.checkpoints})


def verify_json(report: Report, key_name: str, public_key: bytes, *, copy: bool) -> dict[str, object]:
    """The shape of `audit verify --json` (README: the command line)."""
    checkpoints = [
        {
            "label": c.label,
            "origin": c.checkpoint.origin,
            "size": c.checkpoint.size,
            "root": audit.b64(c.checkpoint.root_hash),
        }
        for c in report.checkpoints
    ]
    return {
        "ok": report.ok,
        "database": "copy" if copy else "live",
        "entries": report.entries,
        "root": audit.b64(report.root),
        "key_name": key_name,
        "key_fingerprint": fingerprint(public_key),
        "checkpoints_verified": _distinct_checkpoints(report),
        "checkpoints": checkpoints,
        "uncovered": report.uncovered,
        "problems": report.problems,
        "recorded": not copy,
    }


@audit_cli.command("verify")
def verify(
    key: Annotated[
        str, typer.Option("--key", metavar="KEY", help="The pinned key: a C2SP vkey or a SHA-256 fingerprint.")
    ],
    checkpoint_files: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", metavar="FILE", help="A checkpoint kept off the server; repeat for several."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="Verify a copy of a database (e.g. sqlite:///copy.db), read-only, recording nothing. "
            "Default: the live database, and the verification is recorded in its log.",
        ),
    ] = None,
    chain_file: Annotated[
        Path | None,
        typer.Option(
            "--chain",
            metavar="FILE",
            help="The published signing keys (GET /api/v1/keys/signing saved as a file), whose key transitions "
            "are followed from the pinned key. Default: those of the local key file.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify every entry and checkpoint against a pinned key. Stored checkpoints and any kept off the server,
    each under the pinned key or a later one it vouches for through signed key transitions."""
    settings = get_settings()
    copy = database_url is not None and database_url != settings.database_url
    try:
        # The keyring is opened only to look a fingerprint up in its history and to read the key transitions;
        # with a vkey and --chain nothing local is needed.
        local = functools.cache(lambda: load_keyring(settings, prompt_passphrase))
        public_key, key_name = pinned_key(key, lambda: _or_fail(local), settings.audit.origin)
        transitions = read_chain_file(chain_file) if chain_file is not None else _local_transitions(local)
    except note.NoteError as exc:
        raise fail(f"--key: {exc}") from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    engine = read_only_engine(database_url) if copy and database_url else make_engine(settings.database_url)
    try:
        factory = make_sessionmaker(engine)
        with factory() as session, session.begin():
            report = verify_database(session, public_key, key_name, checkpoint_files or [], transitions)
        if not copy:
            outcome = audit.Outcome.ALLOWED if report.ok else audit.Outcome.FAILED
            record(factory, AuditAction.AUDIT_VERIFY, outcome, resource_type="audit_log")
    finally:
        engine.dispose()
    if as_json:
        print_json(verify_json(report, key_name, public_key, copy=copy))
    else:
        for problem in report.problems:
            out.print(Text.assemble(("FAIL ", "red"), problem), soft_wrap=True)
        if report.ok:
            where = "the copy (read-only; not recorded)" if copy else "the database"
            out.print(
                f"OK: {counted(report.entries, 'entry', 'entries')} of {where} and "
                f"{counted(_distinct_checkpoints(report), 'checkpoint')} verified with key {key_name}; "
                f"{counted(report.uncovered, 'newer entry', 'newer entries')} not yet covered by a checkpoint",
                soft_wrap=True,
            )
    if not report.ok:
        raise typer.Exit(1)
