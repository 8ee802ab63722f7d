"""Export build at scale: seed N testimonies in bulk, build one export of them, time each stage.

Seeding: one template person is recorded through the real app (participation consent, a use-consent record
on the shipped form, an interview and a confirmed statement version of about 3 KB of text); the N
testimonies are then inserted directly, ``PER_PERSON`` to a person (``--per-person``), each person with a
data key of their own and the template's participation and use-consent details sealed afresh under it, and
each testimony an interview and its confirmed statement version sealed under the person's key (real
AES-GCM, bound to the new rows), the people's grants varied for mixed consent: most pseudonymous, some
de-identified, some named (capped by the request), some for another recipient class (left out). The export
(narrative, up to pseudonymous) is requested and approved through the app before the people are inserted;
the build covers whoever is in the case when it runs.

The build runs in a fresh process (``python -m bench.export_build --build ROOT``), so its peak RSS above
its own startup is the build's alone. Stage times are the time spent inside each kind of leaf operation,
never nested in one another: ``read`` (SQL statements executing), ``decide`` (``decide()``), ``unseal``
(opening sealed values), ``seal`` (sealing the bundle's segments), ``write`` (deflating the ZIP), ``hash``
(SHA-256 of files and bundle); ``other`` is the rest of the wall time (ORM, building records, JSON).
``cpu_seconds`` is the build process's own CPU time (its threads included), which a busy machine does not
inflate as it does the wall time.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from app.consent import grants as use_grants
from app.consent import service as participation
from app.consent.grant_models import UseConsent
from app.consent.models import ParticipationConsent
from app.core.config import DatabaseSettings, KeySettings, Settings
from app.core.db import db_now, make_engine, make_sessionmaker, new_id, unit_of_work
from app.core.migrate import upgrade
from app.crypto import keyring as kr
from app.interviews import records as interview_records
from app.interviews import service_statements
from app.interviews.models import Interview, StatementVersion
from app.interviews.vocabulary import InterviewState
from app.keys import datakeys
from app.keys.sealed import seal_json
from app.keys.store import FileKeyStore, Keys, write_private_file
from app.people.models import Person
from app.people.records import open_column
from app.people.records import place as person_place

SIZES = (10_000, 100_000)
"""Testimonies seeded, one size per build."""
PER_PERSON = 2
"""Testimonies (interviews with a confirmed statement version) per person; ``--per-person 1`` is the worst case."""
SEED_BATCH = 1000
"""People inserted per transaction while seeding."""
STATEMENT = " ".join(
    f"On day {day} of the detention the guards moved us from the school to the warehouse by the river; "
    f"we were {day + 11} people in a room for eight, given water once a day, and questioned at night about "
    f"relatives who had left the village before the shelling started."
    for day in range(1, 15)
)
"""The template statement's text: about 3 KB, a realistic size for one confirmed version."""
MIX = (
    *(("pseudonymous", None),) * 6,
    *(("deidentified", None),) * 2,
    ("named_protected", None),
    ("pseudonymous", "journalists"),
)
"""Per ten people: the level of their narrative grant, and another recipient class for the one left out."""


def _settings(root: Path) -> Settings:
    from tests.support.cheap import CHEAP_ARGON2  # cheap password hashing for the template's users

    return Settings(
        development=True,
        data_dir=root / "var",
        database=DatabaseSettings(url=f"sqlite:///{root / 'bench.sqlite'}"),
        keys=KeySettings(file=root / "var" / "keyring.json"),
        passwords=CHEAP_ARGON2,
    )


def _keys(settings: Settings) -> Keys:
    from tests.support.cheap import CHEAP_SCRYPT

    assert settings.keys.file is not None
    store = FileKeyStore(settings.keys.file, None, CHEAP_SCRYPT)
    return Keys(store, store.load())


def _template(settings: Settings, keys: Keys) -> dict[str, Any]:
    """The template person, case and an approved export, made through the real app; their ids."""
    from app.main import create_app
    from tests.support.consent import grant
    from tests.support.exports import desk

    app = create_app(settings, keys)
    try:
        d = desk(app)
        person, interview, statement = d.told(grant(categories=["narrative_general"]), text=STATEMENT)
        made = d.request(categories=["narrative_general"])
        assert d.approve(made["id"]).json()["status"] == "approved"
        return {
            "person": person,
            "interview": interview,
            "statement": statement,
            "case": d.case_id,
            "export": made["id"],
        }
    finally:
        app.state.engine.dispose()


def seed(root: Path, testimonies: int, per_person: int = PER_PERSON) -> dict[str, Any]:
    """A migrated SQLite database under ``root`` with ``testimonies`` testimonies, ``per_person`` to a person
    (the last person may hold fewer), and an approved export of them."""
    settings = _settings(root)
    assert settings.keys.file is not None
    write_private_file(settings.keys.file, kr.dumps(kr.generate(), None))
    upgrade(settings.database_url)
    keys = _keys(settings)
    made = _template(settings, keys)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    from app.runtime import Runtime

    runtime = Runtime(settings, keys)
    started = time.perf_counter()
    with unit_of_work(factory) as s:
        model = s.get(Person, uuid.UUID(made["person"]))
        assert model is not None
        identity = open_column(s, keys, model, "identity")
        part = s.scalars(select(ParticipationConsent).where(ParticipationConsent.person_id == model.id)).one()
        part_details = participation.opened_version(s, runtime, model, part.id)
        use = s.scalars(select(UseConsent).where(UseConsent.person_id == model.id)).one()
        use_details = use_grants.details_of(s, runtime, model, use)
        assert part_details is not None
        clear_part = _columns(part)
        clear_use = _columns(use)
        p_details = part_details.details
        told = _Told.of(s, runtime, uuid.UUID(made["interview"]), uuid.UUID(made["statement"]))
    people = -(-testimonies // per_person)
    done = 0
    while done < people:
        n = min(SEED_BATCH, people - done)
        with unit_of_work(factory) as s:
            now = db_now(s)
            for i in range(done, done + n):
                part_id = _clone(
                    s, keys, i, uuid.UUID(made["case"]), now, identity, clear_part, p_details, clear_use, use_details
                )
                person_id, case_id = part_id[0], uuid.UUID(made["case"])
                for _ in range(min(per_person, testimonies - i * per_person)):
                    told.clone(s, keys, person_id, case_id, part_id[1])
        done += n
    engine.dispose()
    facts = {
        **made,
        "people": people + 1,
        "testimonies": testimonies + 1,
        "per_person": per_person,
        "seed_seconds": round(time.perf_counter() - started, 2),
    }
    (root / "seed.json").write_text(json.dumps(facts))
    return facts


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in ("id", "person_id", "details")}


def _clone(
    s: Any,
    keys: Keys,
    i: int,
    case_id: uuid.UUID,
    now: Any,
    identity: Any,
    clear_part: dict[str, Any],
    part_details: dict[str, Any],
    clear_use: dict[str, Any],
    use_details: dict[str, Any],
) -> tuple[uuid.UUID, uuid.UUID]:
    """A person like the template (their consent details sealed afresh): their id and participation's."""
    person = Person(id=new_id(), case_id=case_id, code=f"BENCH-{i:09d}", created_at=now)
    s.add(person)
    s.flush()
    datakeys.create_data_key(s, keys, person.id)
    if identity is not None:
        person.identity = seal_json(s, keys, person_place(person, "identity"), identity)
    part = ParticipationConsent(id=new_id(), person_id=person.id, details=b"", **clear_part)
    part.details = seal_json(s, keys, participation.place(person, part), part_details)
    level, other_class = MIX[i % len(MIX)]
    details = copy.deepcopy(use_details)
    for g in details["grants"]:
        g["id"] = str(uuid.uuid4())
        g["disclosure_level"] = level
        if other_class is not None:
            g["recipient_class"] = other_class
    use_id = new_id()
    use = UseConsent(
        id=use_id,
        person_id=person.id,
        details=b"",
        **{**clear_use, "case_id": case_id, "chain_id": use_id, "amends": None, "reference_hash": None},
    )
    use.details = seal_json(s, keys, use_grants.place(person, use), details)
    s.add_all([part, use])
    return person.id, part.id


_STATEMENT_PLACE = getattr(service_statements, "_statement_place")  # noqa: B009  the statements' own binding


class _Told:
    """The template's interview and confirmed statement version: clear columns and opened contents, to clone."""

    def __init__(self, interview: dict[str, Any], details: Any, statement: dict[str, Any], content: Any) -> None:
        self.interview, self.details, self.statement, self.content = interview, details, statement, content

    @classmethod
    def of(cls, s: Any, runtime: Any, interview_id: uuid.UUID, statement_id: uuid.UUID) -> _Told:
        interview = s.get(Interview, interview_id)
        statement = s.get(StatementVersion, statement_id)
        assert interview is not None
        assert statement is not None
        details = interview_records.open_details(s, runtime.keys, interview)
        content = service_statements.statement_for_export(s, runtime, statement).model_dump(mode="json")
        clear = {k: v for k, v in _columns(statement).items() if k not in ("interview_id", "case_id", "content")}
        return cls(_columns(interview), details, clear, content)

    def clone(self, s: Any, keys: Keys, person_id: uuid.UUID, case_id: uuid.UUID, participation_id: uuid.UUID) -> None:
        interview_id = new_id()
        state = InterviewState(self.interview["state"])
        where = interview_records.place(interview_id, person_id, case_id, participation_id, state)
        clear = {k: v for k, v in self.interview.items() if k not in ("case_id", "participation_id")}
        s.add(
            Interview(
                id=interview_id,
                person_id=person_id,
                case_id=case_id,
                participation_id=participation_id,
                details=interview_records.seal_details(s, keys, where, self.details),
                **clear,
            )
        )
        version = StatementVersion(
            id=new_id(), interview_id=interview_id, person_id=person_id, case_id=case_id, content=b"", **self.statement
        )
        version.content = seal_json(s, keys, _STATEMENT_PLACE(version), self.content)
        s.add(version)


# ------------------------------------------------------------------------------------------------ the build


class Stages:
    """Seconds spent in each kind of leaf operation of the build."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(("read", "decide", "unseal", "seal", "write", "hash"), 0.0)

    def timed(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - t

        return run


class _Timed:
    """A hash or compressor object whose every call is timed under one stage."""

    def __init__(self, inner: Any, stages: Stages, stage: str) -> None:
        self._inner, self._stages, self._stage = inner, stages, stage

    def __getattr__(self, name: str) -> Any:
        return self._stages.timed(self._stage, getattr(self._inner, name))


class _Module:
    def __init__(self, inner: Any, **overrides: Any) -> None:
        self._inner, self._overrides = inner, overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(self._inner, name)


@contextmanager
def instrumented(engine: Any, stages: Stages) -> Iterator[None]:
    """Time the build's leaf operations (module attributes swapped for timed ones, put back on exit)."""
    import hashlib
    import zlib

    from app.crypto import streams
    from app.exports import bundle, decisions, stored
    from app.keys import sealed

    timed_hash = _Module(hashlib, sha256=lambda *a: _Timed(hashlib.sha256(*a), stages, "hash"))
    timed_zlib = _Module(zlib, compressobj=lambda *a, **k: _Timed(zlib.compressobj(*a, **k), stages, "write"))
    swaps: list[tuple[Any, str, Any]] = [
        (decisions, "decide", stages.timed("decide", getattr(decisions, "decide"))),  # noqa: B009  not re-exported
        (sealed, "_open", stages.timed("unseal", sealed._open)),
        (streams.StreamSealer, "seal_segment", stages.timed("seal", streams.StreamSealer.seal_segment)),
        (bundle, "hashlib", timed_hash),
        (stored, "hashlib", timed_hash),
        (bundle, "zlib", timed_zlib),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in swaps]
    for owner, name, replacement in swaps:
        setattr(owner, name, replacement)
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: Any) -> None:
        stages.seconds["read"] += time.perf_counter() - started.pop(id(cursor), time.perf_counter())

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        for owner, name, original in saved:
            setattr(owner, name, original)


def _rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build(root: Path) -> dict[str, Any]:
    """Build the seeded export in this process; the timings, counts and memory (run it in a fresh process)."""
    import app.models  # noqa: F401  every domain, so no import lands inside the timed build
    from app.exports import cli  # noqa: F401  what the build imports lazily (verifier, strip, age)
    from app.exports.worker import Worker
    from app.runtime import Runtime

    facts = json.loads((root / "seed.json").read_text())
    settings = _settings(root)
    keys = _keys(settings)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    runtime = Runtime(settings, keys)
    stages = Stages()
    at_start = _rss()
    with instrumented(engine, stages):
        t, cpu = time.perf_counter(), time.process_time()
        status = Worker(factory, runtime).build_one(uuid.UUID(facts["export"]))
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    from app.exports.models import ExportRequest

    with unit_of_work(factory) as s:
        export = s.get(ExportRequest, uuid.UUID(facts["export"]))
        assert export is not None
        counts = {
            "people": export.people_count,
            "excluded": export.excluded_count,
            "levels": export.level_counts,
            "bundle_bytes": export.bundle_size,
        }
    engine.dispose()
    seconds = {k: round(v, 6) for k, v in stages.seconds.items()}
    seconds["other"] = round(wall - sum(stages.seconds.values()), 6)
    return {
        "people_seeded": facts["people"],
        "testimonies_seeded": facts["testimonies"],
        "per_person": facts["per_person"],
        "status": None if status is None else status.value,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "stages": seconds,
        "counts": counts,
        "peak_rss_above_start_mb": round((_rss() - at_start) / 1e6, 1),
        "seed_seconds": facts["seed_seconds"],
    }


def run(sizes: tuple[int, ...] = SIZES, root: Path | None = None, per_person: int = PER_PERSON) -> dict[str, Any]:
    """Seed and build each size (testimonies) in a folder of its own; the report, with the ratio of the largest
    to the smallest."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-export-", dir=root) as tmp:
        for size in sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            seed(folder, size, per_person)
            results[str(size)] = build_apart(folder)
    report: dict[str, Any] = {"sizes": results}
    if len(sizes) > 1:
        small, large = results[str(min(sizes))], results[str(max(sizes))]
        report["ratio"] = {
            "testimonies": max(sizes) / min(sizes),
            "seconds": round(large["seconds"] / small["seconds"], 2) if small["seconds"] else None,
            "cpu_seconds": round(large["cpu_seconds"] / small["cpu_seconds"], 2) if small["cpu_seconds"] else None,
        }
    return report


def build_apart(folder: Path) -> dict[str, Any]:
    """Build the export seeded in ``folder`` in a fresh process (its peak RSS the build's alone); its report."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.export_build", "--build", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the build in {folder} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export_build", description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, help="testimonies to seed and build, one build each")
    parser.add_argument("--per-person", type=int, default=PER_PERSON, help="testimonies per person")
    parser.add_argument("--seed", type=Path, metavar="DIR", help="only seed the (one) size into DIR, kept")
    parser.add_argument("--build", type=Path, metavar="DIR", help="only build what --seed left in DIR")
    args = parser.parse_args(argv)
    if args.build is not None:
        print(json.dumps(build(args.build)))
    elif args.seed is not None:
        args.seed.mkdir(parents=True, exist_ok=True)
        print(json.dumps(seed(args.seed, (args.sizes or [SIZES[0]])[0], args.per_person)))
    else:
        print(json.dumps(run(tuple(args.sizes) or SIZES, per_person=args.per_person), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
