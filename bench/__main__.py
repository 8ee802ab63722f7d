"""Run the benchmarks: `python -m bench [--events N] [--transactions M] [--repeats R] [--json PATH]`.

`--export-people 10000 100000` also seeds that many testimonies (two to a person) and builds an export of each
size (bench/export_build.py);
`--no-audit` leaves the audit benchmarks out.

Prints a table and writes the numbers as JSON (bench/results/latest.json by default). Speed is measured
here, never asserted: each number comes with its ratio to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bench import audit_ingest, audit_verify, export_build, ingest_http, key_rotation

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=_positive, default=audit_verify.TARGET_EVENTS, help="audit entries to verify")
    parser.add_argument("--transactions", type=_positive, default=2000, help="units of work per ingest variant")
    parser.add_argument("--rounds", type=_positive, default=10, help="alternating ingest rounds")
    parser.add_argument("--repeats", type=_positive, default=3, help="verification runs per path; the fastest counts")
    parser.add_argument("--keys", type=_positive, default=key_rotation.TARGET_KEYS, help="data keys to rotate")
    parser.add_argument("--requests", type=_positive, default=1000, help="draft saves per app in the ingest run")
    parser.add_argument("--logins", type=_positive, default=15, help="logins at the production argon2id cost")
    parser.add_argument(
        "--export-people",
        type=_positive,
        nargs="+",
        default=None,
        metavar="N",
        help="build an export of N seeded testimonies, two to a person, for each N given (e.g. 10000 100000)",
    )
    parser.add_argument(
        "--no-audit",
        action="store_true",
        help="leave out every benchmark but the export build (audit, key rotation, HTTP ingest, login)",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    return parser


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def print_verify(result: dict[str, Any], out: TextIO) -> None:
    out.write(
        f"Audit verification: {result['events']:,} events of {result['mean_entry_bytes']:.0f} bytes on average "
        f"(generated in {result['generate_seconds']:.1f} s), fastest of {result['repeats']}\n"
    )
    out.write(f"  {'path':<38}{'seconds':>10}{'CPU s':>8}{'+ children':>12}{'events/s':>14}{'x baseline':>12}\n")
    rows = (
        ("sha256 of each entry (baseline)", result["baseline_sha256"]),
        ("hashing: tree + signed checkpoint", result["hash_verify"]),
        ("full check: verify_file, one process", result["full_check_one_process"]),
        (f"full check: {result['full_check']['workers']} checking processes", result["full_check"]),
    )
    for label, timing in rows:
        out.write(
            f"  {label:<38}{timing['seconds']:>10.3f}{timing['cpu_seconds']:>8.2f}{timing['child_cpu_seconds']:>12.2f}"
            f"{timing['events_per_s']:>14,.0f}{timing['ratio_to_baseline']:>12.2f}\n"
        )
    target = result["target"]
    verdict = "met" if target["met"] else "NOT met"
    how = "extrapolated linearly from this run" if target["extrapolated"] else "measured"
    out.write(
        f"  target: hashing and the full check of {target['events']:,} events each in <= {target['seconds']:.0f} s: "
        f"{verdict} (hashing {target['hash_verify_seconds_at_target']:.2f} s, full check "
        f"{target['full_check_seconds_at_target']:.2f} s, {how})\n"
    )


def print_ingest(results: dict[str, Any], out: TextIO) -> None:
    first = next(iter(results.values()))
    out.write(
        f"Audit ingest cost: {first['transactions']:,} units of work per variant, "
        f"{first['rounds']} alternating rounds\n"
    )
    out.write(f"  {'backend':<12}{'without ms':>12}{'with ms':>12}{'append ms':>12}{'with/without':>14}\n")
    for name, r in results.items():
        out.write(
            f"  {name:<12}{r['without_audit_ms']:>12.3f}{r['with_audit_ms']:>12.3f}"
            f"{r['audit_append_ms']:>12.3f}{r['ratio']:>14.2f}\n"
        )


def print_rotation(result: dict[str, Any], out: TextIO) -> None:
    out.write(f"Key rotation: {result['keys']:,} data keys, {result['batch_size']:,} per transaction\n")
    rows = (
        ("crypto alone: unwrap + wrap in memory", result["crypto_only_seconds"]),
        ("database alone: rewrite the rows", result["database_only_seconds"]),
        ("rotation: testimony keys rotate", result["rotation_seconds"]),
    )
    for label, seconds in rows:
        out.write(f"  {label:<40}{seconds:>10.3f} s\n")
    # On a shared machine the wall time waits for the cores; the CPU time says what the rotation itself cost.
    out.write(f"  {'rotation, CPU time of this process':<40}{result['rotation_cpu_seconds']:>10.3f} s\n")
    target = result["target"]
    verdict = "met" if target["met"] else "NOT met"
    how = "extrapolated linearly from this run" if target["extrapolated"] else "measured"
    out.write(
        f"  rotation / (crypto + database): {result['ratio_to_baseline']:.2f}; target {target['keys']:,} keys in "
        f"<= {target['seconds']:.0f} s: {verdict} ({target['seconds_at_target']:.2f} s, {how})\n"
    )


def print_http(ingest: dict[str, Any], login: dict[str, Any], out: TextIO) -> None:
    sql = ingest["sql_per_request"]
    verdict = "met" if ingest["target"]["met"] else "NOT met"
    out.write(
        f"HTTP ingest: {ingest['requests']:,} saves of a {ingest['statement_bytes']:,}-byte draft per app\n"
        f"  service {ingest['service_ms']:.2f} ms/request ({sql['service']} SQL statements), "
        f"plain FastAPI + SQLAlchemy {ingest['plain_ms']:.2f} ms/request ({sql['plain']})\n"
        f"  throughput ratio service/plain {ingest['ratio']:.2f}; target >= {ingest['target']['ratio']}: {verdict}\n"
        f"  CPU per request (client included) service {ingest['service_cpu_ms']:.2f} ms, plain "
        f"{ingest['plain_cpu_ms']:.2f} ms: ratio {ingest['cpu_ratio']:.2f}\n"
    )
    cost = login["argon2id"]
    out.write(
        f"Login: median {login['login_median_ms']:.1f} ms over {login['attempts']} logins at argon2id "
        f"t={cost['time_cost']} m={cost['memory_kib']} KiB p={cost['parallelism']} "
        f"(the password check alone: {login['password_check_median_ms']:.1f} ms)\n"
    )


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> dict[str, Any]:
    """Run every benchmark, print the table, write the JSON report and return it."""
    args = _parser().parse_args(argv)
    report: dict[str, Any] = {"environment": _environment()}
    if not args.no_audit:
        report["audit_verify"] = audit_verify.run(args.events, args.repeats)
        print_verify(report["audit_verify"], out)
        out.write("\n")
        report["audit_ingest"] = audit_ingest.run(args.transactions, args.rounds)
        print_ingest(report["audit_ingest"], out)
        out.write("\n")
        report["key_rotation"] = key_rotation.run(args.keys)
        print_rotation(report["key_rotation"], out)
        out.write("\n")
        report["http_ingest"] = ingest_http.ingest(args.requests, min(args.rounds, args.requests))
        report["login"] = ingest_http.login(args.logins)
        print_http(report["http_ingest"], report["login"], out)
    if args.export_people:
        report["export_build"] = export_build.run(tuple(args.export_people))
        out.write("\nExport build (stage seconds as JSON):\n")
        out.write(json.dumps(report["export_build"], indent=2) + "\n")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    out.write(f"\nwritten to {args.json}\n")
    return report


if __name__ == "__main__":
    main()
