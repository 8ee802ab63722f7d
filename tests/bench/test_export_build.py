"""The export-build benchmark at a tiny size: its people are really sealed with the mixed consent it says,
its build reaches ``ready`` with the counts that mix gives, every stage it reports was timed, and
``python -m bench --export-people`` writes the sizes and their ratio. Speed itself is never asserted."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

from sqlalchemy import select

from app.consent import history
from app.core.db import make_engine, make_sessionmaker, unit_of_work
from app.people.models import Person
from app.runtime import Runtime
from bench import export_build
from bench.__main__ import main


def test_seeded_people_are_sealed_with_mixed_consent_and_the_build_counts_them(tmp_path: Path) -> None:
    seeded = export_build.seed(tmp_path, 20, per_person=1)
    assert seeded["people"] == 21  # the template person, recorded through the app, and twenty copies
    assert seeded["testimonies"] == 21  # one each
    settings = export_build._settings(tmp_path)
    keys = export_build._keys(settings)
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as s:
            people = list(s.scalars(select(Person).where(Person.code.like("BENCH-%")).order_by(Person.code)))
            opened = [history.history_of(s, Runtime(settings, keys), p) for p in people]
    finally:
        engine.dispose()
    assert len(people) == 20
    levels = [h.records[0].grants[0].disclosure_level for h in opened]
    classes = [h.records[0].grants[0].recipient_class for h in opened]
    assert levels[:10] == [level for level, _ in export_build.MIX]
    assert classes.count("journalists") == 2
    assert len({g.id for h in opened for r in h.records for g in r.grants}) == 20  # each their own grant ids

    result = export_build.build(tmp_path)
    assert result["status"] == "ready"
    assert 0 < result["cpu_seconds"]
    # Six in ten pseudonymous, one named (capped to pseudonymous), two de-identified, one for journalists
    # (left out); the template person is pseudonymous.
    assert result["counts"]["people"] == 19
    assert result["counts"]["excluded"] == 2
    assert result["counts"]["levels"] == {"pseudonymous": 15, "deidentified": 4}
    assert set(result["stages"]) == {"read", "decide", "unseal", "seal", "write", "hash", "other"}
    assert all(result["stages"][s] > 0 for s in ("read", "decide", "unseal", "seal", "write", "hash"))
    assert uuid.UUID(seeded["export"])


def test_bench_main_builds_each_size_and_reports_the_ratio(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    out = io.StringIO()
    main(["--no-audit", "--export-people", "5", "10", "--json", str(path)], out)
    report = json.loads(path.read_text())
    assert set(report) == {"environment", "export_build"}
    sizes = report["export_build"]["sizes"]
    assert set(sizes) == {"5", "10"}
    assert [sizes[n]["status"] for n in ("5", "10")] == ["ready", "ready"]
    # Ten testimonies, two to a person: five people, and the template person recorded through the app.
    assert sizes["10"]["people_seeded"] == 6
    assert sizes["10"]["testimonies_seeded"] == 11
    assert report["export_build"]["ratio"]["testimonies"] == 2
    assert "peak_rss_above_start_mb" in sizes["10"]
    assert "Export build" in out.getvalue()
