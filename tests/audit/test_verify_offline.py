"""The offline verifier catches every way of rewriting a dumped audit log that its checkpoints signed."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from app.audit import merkle
from app.audit.note import Checkpoint, sign_checkpoint, vkey
from app.audit.verify import MAX_LINE_PROBLEMS, _progress, main, verify_dump
from app.crypto.signing import Signer, fingerprint

ORIGIN = "vault.example.org/audit"
REPO = Path(__file__).resolve().parents[2]
LOG_KEY = Signer.from_seed(bytes([0x11]) * 32)
SIZES = (100, 250, 300)


def _entry(seq: int) -> bytes:
    # Encoded by the rfc8785 package, as the service stores entries, not by the verifier's own check.
    return bytes(
        rfc8785.dumps(
            {
                "seq": seq,
                "action": ["read", "export", "login"][seq % 3],
                "actor": {"user_id": f"u-{seq % 7}", "roles": ["documenter"]},
                "case": None if seq % 5 else f"case-{seq}",
                "outcome": "allowed",
                "purpose": "légal — ՀՀ",
                "denied": seq % 11 == 0,
            }
        )
    )


def _dump(n: int = 300) -> list[bytes]:
    return [_entry(i) for i in range(n)]


def _checkpoints(entries: list[bytes], sizes: tuple[int, ...] = SIZES, signer: Signer = LOG_KEY) -> list[str]:
    leaves = [merkle.leaf_hash(e) for e in entries]
    return [sign_checkpoint(Checkpoint(ORIGIN, s, merkle.root(leaves[:s])), signer, ORIGIN) for s in sizes]


def _lines(entries: list[bytes]) -> list[bytes]:
    return [e + b"\n" for e in entries]


def _problems(entries: list[bytes], checkpoints: list[str]) -> list[str]:
    return verify_dump(_lines(entries), checkpoints, LOG_KEY.public_key).problems


def test_an_untouched_dump_verifies() -> None:
    entries = _dump()
    report = verify_dump(_lines(entries), _checkpoints(entries), LOG_KEY.public_key)
    assert report.problems == []
    assert report.ok
    assert report.entries == 300
    assert report.root == merkle.root([merkle.leaf_hash(e) for e in entries])
    assert [r.checkpoint.size for r in report.checkpoints] == list(SIZES)
    assert report.uncovered == 0


def test_entries_newer_than_every_checkpoint_are_reported_as_uncovered_not_wrong() -> None:
    entries = _dump()
    report = verify_dump(_lines(entries), _checkpoints(entries, (100, 250)), LOG_KEY.public_key)
    assert report.ok
    assert report.uncovered == 50


def test_one_edited_byte_is_caught() -> None:
    entries = _dump()
    checkpoints = _checkpoints(entries)
    assert b'"action":"read"' in entries[141]
    entries[141] = entries[141].replace(b'"action":"read"', b'"action":"reaD"')
    problems = _problems(entries, checkpoints)
    # The edit keeps the entry canonical and its seq right: only the signed roots can notice.
    assert len(problems) == 2
    assert all("do not hash to the signed root" in p for p in problems)
    assert [p.split(":")[0] for p in problems] == ["checkpoint 2", "checkpoint 3"]


def test_an_edit_before_every_checkpoint_fails_them_all() -> None:
    entries = _dump()
    checkpoints = _checkpoints(entries)
    entries[3] = entries[3].replace(b'"outcome":"allowed"', b'"outcome":"allowes"')
    assert len(_problems(entries, checkpoints)) == 3


def test_a_deleted_entry_is_caught() -> None:
    entries = _dump()
    checkpoints = _checkpoints(entries)
    del entries[150]
    problems = _problems(entries, checkpoints)
    assert "line 151: seq 151 follows seq 149: entries are missing, repeated or out of order" in problems
    assert any(p.startswith("checkpoint 2: the first 250 entries do not hash") for p in problems)
    assert any("signed 300 entries but the dump has only 299" in p for p in problems)
    assert not any(p.startswith("checkpoint 1") for p in problems)


def test_a_deleted_entry_is_caught_even_when_seq_is_renumbered() -> None:
    entries = _dump()
    checkpoints = _checkpoints(entries)
    rest = [json.loads(e) for e in entries[:150] + entries[151:]]
    for i, obj in enumerate(rest):
        obj["seq"] = i
    problems = _problems([bytes(rfc8785.dumps(o)) for o in rest], checkpoints)
    assert len(problems) == 2
    assert any("signed 300 entries but the dump has only 299" in p for p in problems)


def test_swapped_entries_are_caught() -> None:
    entries = _dump()
    checkpoints = _checkpoints(entries)
    entries[10], entries[11] = entries[11], entries[10]
    problems = _problems(entries, checkpoints)
    assert [p for p in problems if p.startswith("line")] == [
        f"line {n}: seq {seq} follows seq {prev}: entries are missing, repeated or out of order"
        for n, seq, prev in [(11, 11, 9), (12, 10, 11), (13, 12, 10)]
    ]
    assert sum("do not hash to the signed root" in p for p in problems) == 3


def test_a_truncated_tail_is_caught_and_earlier_checkpoints_still_hold() -> None:
    entries = _dump()
    checkpoints = _checkpoints(entries)
    problems = _problems(entries[:260], checkpoints)
    assert problems == [
        "checkpoint 3: signed 300 entries but the dump has only 260: entries were removed",
    ]


def test_a_rewritten_log_resigned_with_the_same_key_fails_against_an_old_checkpoint() -> None:
    entries = _dump()
    old = _checkpoints(entries, (250,))
    forged = [*entries[:20], _entry(20).replace(b'"denied":false', b'"denied":true'), *entries[21:]]
    assert forged != entries
    resigned = _checkpoints(forged)
    # The forger's own checkpoints agree with the forgery; only a checkpoint kept from before exposes it.
    assert _problems(forged, resigned) == []
    assert _problems(forged, [*resigned, *old]) == [
        "checkpoint 4: the first 250 entries do not hash to the signed root: "
        "entries were changed, removed, inserted or reordered"
    ]


def test_a_log_resigned_with_another_key_is_refused_by_the_pinned_key() -> None:
    entries = _dump()
    forged = [*entries[:20], _entry(20).replace(b'"denied":false', b'"denied":true'), *entries[21:]]
    forger = Signer.from_seed(bytes([0x66]) * 32)
    problems = _problems(forged, _checkpoints(forged, signer=forger))
    assert len(problems) == 3
    assert all("rejected: note is not signed by key" in p for p in problems)
    assert all(fingerprint(LOG_KEY.public_key) in p for p in problems)


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda obj: json.dumps(obj, ensure_ascii=False).encode(),  # spaces
        lambda obj: json.dumps(obj, sort_keys=True, separators=(",", ":")).encode(),  # \u escapes
        lambda obj: json.dumps(dict(reversed(obj.items())), separators=(",", ":"), ensure_ascii=False).encode(),
        lambda obj: json.dumps(
            {**obj, "score": 0.5}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode(),
        lambda obj: rfc8785.dumps(obj)[:-1] + b',"seq":7}',  # a duplicate key, parsed as the last one
        lambda obj: rfc8785.dumps(obj)[:-1] + b',"zz":9007199254740992}',  # 2**53: RFC 8785 cannot write it
    ],
    ids=["whitespace", "ascii-escapes", "key-order", "float", "duplicate-key", "unsafe-integer"],
)
def test_a_non_canonical_entry_is_caught_even_when_the_checkpoints_cover_it(
    rewrite: Callable[[dict[str, Any]], bytes],
) -> None:
    entries = _dump()
    entries[7] = bytes(rewrite(json.loads(entries[7])))
    problems = _problems(entries, _checkpoints(entries))
    assert len(problems) == 1
    assert problems[0].startswith("line 8: entry ")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"", "not valid UTF-8 JSON"),
        (b"\xff", "not valid UTF-8 JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"seq":"3"}', "has no integer seq"),
        (b'{"seq":true}', "has no integer seq"),
    ],
)
def test_unreadable_entries_are_reported_by_line(line: bytes, message: str) -> None:
    entries = _dump(10)
    entries[3] = line
    problems = _problems(entries, _checkpoints(entries, (10,)))
    assert problems[0] == f"line 4: entry {message}"


def test_a_repeated_entry_is_caught() -> None:
    entries = _dump(10)
    entries.insert(5, entries[4])
    problems = _problems(entries, _checkpoints(entries, (11,)))
    assert problems == ["line 6: seq 4 follows seq 4: entries are missing, repeated or out of order"]


def test_seq_must_start_at_zero() -> None:
    entries = [_entry(i) for i in range(1, 11)]
    assert _problems(entries, _checkpoints(entries, (10,))) == [
        "line 1: seq 1 follows seq -1: entries are missing, repeated or out of order"
    ]


def test_a_systematic_fault_lists_the_first_problems_and_counts_the_rest() -> None:
    entries = [json.dumps(json.loads(e)).encode() for e in _dump(MAX_LINE_PROBLEMS + 5)]
    problems = _problems(entries, _checkpoints(entries, (len(entries),)))
    assert len(problems) == MAX_LINE_PROBLEMS + 1
    assert problems[0].startswith("line 1: entry is not canonical JSON")
    assert problems[-1] == "... and 5 more problems in entries"


def test_a_checkpoint_is_required() -> None:
    assert verify_dump(_lines(_dump(3)), [], LOG_KEY.public_key).problems == [
        "no checkpoint given: nothing vouches for the dump"
    ]


def test_checkpoints_of_two_logs_are_not_mixed() -> None:
    entries = _dump(10)
    leaves = [merkle.leaf_hash(e) for e in entries]
    other = sign_checkpoint(Checkpoint("other.example/log", 10, merkle.root(leaves)), LOG_KEY, "other.example/log")
    problems = _problems(entries, [*_checkpoints(entries, (10,)), other])
    assert problems == ["checkpoints name different logs: other.example/log, vault.example.org/audit"]


def _write(tmp_path: Path, entries: list[bytes], checkpoints: list[str]) -> list[str]:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(_lines(entries)))
    args = ["--events", str(events)]
    for i, text in enumerate(checkpoints):
        path = tmp_path / f"cp{i}.txt"
        path.write_text(text, encoding="utf-8")
        args += ["--checkpoint", str(path)]
    return args


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.audit.verify", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_command_line_exit_codes(tmp_path: Path) -> None:
    entries = _dump()
    args = _write(tmp_path, entries, _checkpoints(entries))
    key = ["--key", vkey(ORIGIN, LOG_KEY.public_key)]

    good = _run([*args, *key])
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OK: the dump matches every checkpoint" in good.stdout

    entries[5] = entries[5].replace(b'"outcome":"allowed"', b'"outcome":"denied!"')
    (tmp_path / "events.jsonl").write_bytes(b"".join(_lines(entries)))
    bad = _run([*args, *key])
    assert bad.returncode == 1
    assert bad.stdout.count("PROBLEM: ") == 3
    assert "FAILED: 3 problem(s)" in bad.stdout

    unpinned = _run([*args, "--key", fingerprint(LOG_KEY.public_key)])
    assert unpinned.returncode == 2
    assert "never trusts a key shipped with data" in unpinned.stderr


def test_fingerprint_with_the_matching_public_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = _dump(20)
    args = _write(tmp_path, entries, _checkpoints(entries, (20,)))
    pinned = ["--key", fingerprint(LOG_KEY.public_key), "--public-key", base64.b64encode(LOG_KEY.public_key).decode()]
    assert main([*args, *pinned]) == 0
    forger = base64.b64encode(Signer.from_seed(bytes(32)).public_key).decode()
    assert main([*args, "--key", fingerprint(LOG_KEY.public_key), "--public-key", forger]) == 2
    assert "does not match the pinned fingerprint" in capsys.readouterr().err


def test_runs_without_rich(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    entries = _dump(20)
    args = _write(tmp_path, entries, _checkpoints(entries, (20,)))
    assert main([*args, "--key", vkey(ORIGIN, LOG_KEY.public_key)]) == 0


def test_progress_bar_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with _progress(100, stream) as advance:
        advance(60)
        advance(40)
    assert "hashing entries" in stream.getvalue()


def test_verifier_imports_nothing_of_the_service() -> None:
    probe = (
        "import sys, app.audit.verify\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'app', 'sqlalchemy', 'pydantic', 'fastapi', 'typer', 'starlette'})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "app",
        "app.audit",
        "app.audit.custody_proof",
        "app.audit.entries",
        "app.audit.log_proofs",
        "app.audit.merkle",
        "app.audit.note",
        "app.audit.verify",
        "app.crypto",
        "app.crypto.signing",
    ]


def _damaged_dump() -> list[bytes]:
    """A dump with faults on both sides of run boundaries: a gap, a repeat, unreadable and loose entries."""
    entries = _dump(300)
    entries[16] = json.dumps(json.loads(entries[16])).encode()  # first line of the second run of 16
    del entries[47]  # the gap falls on the first line of a run
    entries.insert(100, entries[99])  # a repeat
    entries[150] = b"\xff"  # unreadable: no seq, so the chain joins over it
    entries[200] = b'{"seq":200,"x":1.5}'
    return entries


@pytest.mark.parametrize("run_lines", [1, 16, 8192])
def test_checking_in_worker_processes_finds_the_same_as_checking_here(
    monkeypatch: pytest.MonkeyPatch, run_lines: int
) -> None:
    monkeypatch.setattr("app.audit.verify.BATCH_LINES", run_lines)
    entries = _damaged_dump()
    checkpoints = _checkpoints(entries, (len(entries),))
    here = verify_dump(_lines(entries), checkpoints, LOG_KEY.public_key)
    pooled = verify_dump(_lines(entries), checkpoints, LOG_KEY.public_key, workers=2)
    assert pooled.problems == here.problems
    assert (pooled.entries, pooled.root) == (here.entries, here.root)
    assert here.problems == [
        "line 17: entry is not canonical JSON (its bytes differ from the RFC 8785 form of its content)",
        "line 48: seq 48 follows seq 46: entries are missing, repeated or out of order",
        "line 101: seq 100 follows seq 100: entries are missing, repeated or out of order",
        "line 151: entry not valid UTF-8 JSON",
        "line 152: seq 151 follows seq 149: entries are missing, repeated or out of order",
        "line 201: entry holds a value other than strings, safe integers, booleans and nulls",
    ]


def test_worker_processes_keep_the_first_problems_and_count_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.audit.verify.BATCH_LINES", 256)
    entries = [json.dumps(json.loads(e)).encode() for e in _dump(MAX_LINE_PROBLEMS + 5)]
    checkpoints = _checkpoints(entries, (len(entries),))
    pooled = verify_dump(_lines(entries), checkpoints, LOG_KEY.public_key, workers=2)
    assert pooled.problems == verify_dump(_lines(entries), checkpoints, LOG_KEY.public_key).problems
    assert pooled.problems[-1] == "... and 5 more problems in entries"
