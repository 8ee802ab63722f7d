"""The offline verifier refuses JSON nested deeper than its parser follows, clearly, never with a traceback."""

from __future__ import annotations

from pathlib import Path

from app.audit.note import vkey
from tests.audit.test_verify_offline import LOG_KEY, ORIGIN, _checkpoints, _dump, _run, _write

DEEP = "[" * 200_000 + "]" * 200_000
"""Nesting no verifier input has, deeper than the JSON parser can follow."""


def test_a_deeply_nested_chain_file_is_refused_as_a_usage_error_not_a_crash(tmp_path: Path) -> None:
    entries = _dump(20)
    args = _write(tmp_path, entries, _checkpoints(entries, (20,)))
    chain = tmp_path / "keys.json"
    chain.write_text(DEEP, encoding="ascii")
    key = ["--key", vkey(ORIGIN, LOG_KEY.public_key), "--chain", str(chain)]
    item = tmp_path / "item.bin"
    item.write_bytes(b"item")
    checkpoint = tmp_path / "cp0.txt"
    for run in (
        _run([*args, *key]),
        _run(["custody", str(checkpoint), str(item), *key]),
        _run(["checkpoint", str(checkpoint), *key]),
    ):
        assert run.returncode == 2, run.stdout + run.stderr
        assert f"error: --chain {chain} is not JSON a verifier accepts (too deeply nested)" in run.stderr
        assert "Traceback" not in run.stderr


def test_a_deeply_nested_custody_proof_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    proof = tmp_path / "proof.json"
    proof.write_text(DEEP, encoding="ascii")
    item = tmp_path / "item.bin"
    item.write_bytes(b"item")
    run = _run(["custody", str(proof), str(item), "--key", vkey(ORIGIN, LOG_KEY.public_key)])
    assert run.returncode == 1, run.stdout + run.stderr
    assert "it is not UTF-8 JSON a verifier accepts (too deeply nested)" in run.stdout
    assert "Traceback" not in run.stderr
