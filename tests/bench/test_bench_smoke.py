"""The benchmarks run at a tiny size and measure what they say: the real entry shape, a root that an
independent computation agrees with, a log that their paths reject when reordered, and the rows the
ingest benchmark wrote. Speed itself, and the report's own arithmetic, are never asserted."""

from __future__ import annotations

import io
import json
import pstats
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.audit import merkle
from app.audit import service as audit
from app.audit.entries import check_entry
from app.audit.models import AuditEvent
from app.audit.vocabulary import purpose_of
from app.core.db import make_engine, make_sessionmaker
from bench import audit_ingest, audit_verify, ingest_app, ingest_http, key_rotation
from bench.__main__ import main
from tests.support.database import ProvisionedDatabase

EVENTS = 2000


def test_entries_have_the_shape_the_log_stores() -> None:
    stored = audit.entry_fields(
        AuditEvent(seq=0, at=datetime.now(UTC), actor="system:cli", actor_roles="", action="system.init")
    )
    for seq, entry in enumerate(audit_verify.make_entries(200)):
        assert check_entry(entry) == (seq, None)
        fields = json.loads(entry)
        assert set(fields) == {"v", *stored}
        assert fields["purpose"] == purpose_of(audit.AuditAction(fields["action"])).value
        assert fields["actor"].startswith("user:")


def test_verify_report_agrees_with_the_merkle_root_of_the_same_entries() -> None:
    result = audit_verify.run(EVENTS, repeats=1)

    expected = merkle.root([merkle.leaf_hash(e) for e in audit_verify.make_entries(EVENTS)]).hex()
    assert result["root"] == result["hash_verify_root"] == result["full_check_root"] == expected
    assert result["target"]["extrapolated"] is True  # 2,000 events stand in for the target's million


def test_measured_paths_reject_a_reordered_log() -> None:
    data = audit_verify.make_dataset(100)
    entries = list(data.entries)
    entries[10], entries[11] = entries[11], entries[10]

    with pytest.raises(audit_verify.BenchmarkError):
        audit_verify.verify_hashes(entries, data.checkpoint, data.public_key)
    with pytest.raises(audit_verify.BenchmarkError):
        audit_verify.full_check(entries, data.checkpoint, data.public_key)


def test_ingest_audits_only_the_audited_variant(database: ProvisionedDatabase) -> None:
    result = audit_ingest.measure(database.url, transactions=30, rounds=3, warmup=2)

    assert result["rows"] == {"cases": 2 * 32, "audit_events": 32}
    engine = make_engine(database.url)
    try:
        with make_sessionmaker(engine)() as session:
            checked = [check_entry(e) for e in audit.iter_entries(session)]
    finally:
        engine.dispose()
    assert checked == [(seq, None) for seq in range(32)]


@pytest.mark.uses_database  # audit_ingest.run measures PostgreSQL too when TESTIMONY_TEST_DATABASE_URL names it
def test_main_prints_the_table_and_writes_the_report(tmp_path: Path) -> None:
    path = tmp_path / "results" / "latest.json"
    out = io.StringIO()

    argv = [
        "--events",
        str(EVENTS),
        "--transactions",
        "20",
        "--rounds",
        "2",
        "--repeats",
        "1",
        "--keys",
        "50",
        "--requests",
        "4",
        "--logins",
        "1",
    ]
    main([*argv, "--json", str(path)], out)

    report = json.loads(path.read_text())
    assert set(report) == {"environment", "audit_verify", "audit_ingest", "key_rotation", "http_ingest", "login"}
    assert report["key_rotation"]["keys"] == 50
    assert report["audit_verify"]["events"] == EVENTS
    assert "sqlite" in report["audit_ingest"]
    assert report["audit_ingest"]["sqlite"]["rows"]["audit_events"] == 20 + audit_ingest.WARMUP
    text = out.getvalue()
    assert "Audit verification: 2,000 events" in text
    assert "sqlite" in text


def test_rotation_rewraps_every_seeded_key_in_batches() -> None:
    result = key_rotation.run(130, batch_size=32)

    assert result["keys"] == 130
    assert result["rotation_seconds"] > 0
    assert result["ratio_to_baseline"] == pytest.approx(
        result["rotation_seconds"] / (result["crypto_only_seconds"] + result["database_only_seconds"])
    )
    assert result["target"]["extrapolated"] is True


def test_http_ingest_saves_every_draft_on_both_apps_and_counts_their_statements() -> None:
    result = ingest_http.ingest(6, rounds=2, warmup=1)

    assert result["statement_bytes"] == ingest_http.STATEMENT_BYTES
    assert result["ratio"] == pytest.approx(result["plain_ms"] / result["service_ms"])
    # The plain app reads the row, updates it and commits; the service does far more, all of it counted.
    assert result["sql_per_request"]["plain"] >= 2
    assert result["sql_per_request"]["service"] > result["sql_per_request"]["plain"]


def test_the_app_alone_saves_through_both_apps_and_lists_the_service_statements(tmp_path: Path) -> None:
    result = ingest_app.measure(3, repeats=2)
    assert len(result["runs"]["service"]) == len(result["runs"]["plain"]) == 2

    statements = ingest_app.measure(1, repeats=1, sql=True)["statements"]
    # The save is the draft's update and the audit event's insert, among the reads that allow it.
    assert any(s.startswith("UPDATE interview_drafts SET") for s in statements)
    assert sum(s.startswith("INSERT INTO audit_events") for s in statements) == 1

    profile = tmp_path / "save.prof"
    assert ingest_app.measure(2, repeats=1, profile=profile)["profile"] == str(profile)
    assert "save_draft" in pstats.Stats(str(profile)).get_stats_profile().func_profiles
