"""Offline verifier: does an audit dump match the checkpoints its log signed? Is an item the one a custody
proof commits to?

Run as `python -m app.audit.verify --events events.jsonl --checkpoint cp.txt --key KEY`, or
`python -m app.audit.verify custody PROOF ITEM --key KEY`, or `checkpoint|inclusion|consistency FILE --key KEY` for
one checkpoint, one event's inclusion proof or a consistency proof between two checkpoints. It imports only the
standard library, the entry format, the Merkle tree, the note format, the custody and log proof formats and the
signing recipe (plus rich for a progress bar when installed), so an auditor or a court can run it away from the
service with nothing but `cryptography` installed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import hashlib
import json
import multiprocessing
import os
import re
import sys
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from app.audit.custody_proof import KIND_NAMES, CustodyReport, verify_proof
from app.audit.entries import check_entry
from app.audit.log_proofs import ProofReport, open_checkpoint, verify_consistency_file, verify_inclusion_file
from app.audit.merkle import EMPTY_ROOT, TreeBuilder, leaf_hash
from app.audit.note import Checkpoint, NoteError, parse_note, parse_vkey, verify_checkpoint
from app.crypto.signing import ChainError, fingerprint, follow_chain, key_id

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# A systematic fault (a wrong export, a rewritten file) flags every line; past this, only count them.
MAX_LINE_PROBLEMS = 1000


@dataclass(frozen=True)
class CheckpointResult:
    """What one checkpoint says, once its signature has verified."""

    label: str
    checkpoint: Checkpoint


@dataclass
class Report:
    """The outcome: entries read, the dump's root, verified checkpoints and every problem found."""

    entries: int = 0
    root: bytes = EMPTY_ROOT
    checkpoints: list[CheckpointResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong, which includes at least one checkpoint vouching for the dump."""
        return not self.problems

    @property
    def uncovered(self) -> int:
        """Entries newer than the largest verified checkpoint: present, but not yet vouched for."""
        covered = max((c.checkpoint.size for c in self.checkpoints), default=0)
        return max(self.entries - covered, 0)


@dataclass
class _Batch:
    """What checking a run of consecutive lines found, by line within the run (counted from 0): its problems,
    its number of lines, and its first and last seq. The run's place in the dump is the joiner's to add."""

    lines: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    unlisted: int = 0
    first: tuple[int, int] | None = None  # (line, seq) of its first readable entry: the chain's joint
    last: int | None = None


def _check_lines(entries: Sequence[bytes]) -> _Batch:
    """Check each entry, and the seq chain inside the run; the chain into the run is the caller's to check."""
    batch = _Batch(lines=len(entries))
    problems = batch.problems
    previous: int | None = None
    for line, entry in enumerate(entries):
        seq, problem = check_entry(entry)
        if problem is not None:
            problems.append((line, f"entry {problem}"))
        if seq is None:
            continue
        if previous is None:
            batch.first = (line, seq)
        elif seq != previous + 1:
            problems.append((line, _chain_problem(seq, previous)))
        previous = seq
    batch.last = previous
    if len(problems) > MAX_LINE_PROBLEMS:
        batch.unlisted = len(problems) - MAX_LINE_PROBLEMS
        del problems[MAX_LINE_PROBLEMS:]
    return batch


def _chain_problem(seq: int, previous: int) -> str:
    return f"seq {seq} follows seq {previous}: entries are missing, repeated or out of order"


def _split_lines(data: bytes) -> list[bytes]:
    """The entries of consecutive whole lines, as iterating over a file gives them less their newlines: a
    final newline ends the last line and starts no other."""
    if not data:
        return []
    return (data[:-1] if data.endswith(b"\n") else data).split(b"\n")


def _check_range(path: str, start: int, end: int) -> _Batch:
    """Check the lines of bytes [start, end) of a dump file, read here: nothing but findings crosses processes."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    return _check_lines(_split_lines(data))


class _EntryChecker:
    """Joins the runs' findings in line order, keeping the first problems and counting the rest."""

    def __init__(self) -> None:
        self._listed: list[str] = []
        self._unlisted = 0
        self._previous_seq = -1
        self._lines = 0  # lines before the next run

    def _flag(self, problem: str) -> None:
        if len(self._listed) < MAX_LINE_PROBLEMS:
            self._listed.append(problem)
        else:
            self._unlisted += 1

    def join(self, batch: _Batch) -> None:
        found = list(batch.problems)
        if batch.first is not None:
            line, seq = batch.first
            if seq != self._previous_seq + 1:
                # After the line's own entry problem, before anything on a later line.
                at = bisect.bisect_right([n for n, _ in found], line)
                found.insert(at, (line, _chain_problem(seq, self._previous_seq)))
        for line, problem in found:
            self._flag(f"line {self._lines + line + 1}: {problem}")
        self._unlisted += batch.unlisted
        self._lines += batch.lines
        if batch.last is not None:
            self._previous_seq = batch.last

    def problems(self) -> list[str]:
        if not self._unlisted:
            return list(self._listed)
        return [*self._listed, f"... and {self._unlisted} more problems in entries"]


class _Tree:
    """The tree rebuilt over the entries in order, keeping the root at each size a checkpoint signed."""

    def __init__(self, sizes: Iterable[int]) -> None:
        self.builder = TreeBuilder()
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self._wanted = sorted(set(sizes))

    def extend(self, entries: Sequence[bytes]) -> None:
        builder = self.builder
        append, start = builder.append, builder.size
        done = 0
        # The roots wanted inside this run cut it into pieces hashed without a test per entry.
        at = bisect.bisect_right(self._wanted, start)
        while at < len(self._wanted) and self._wanted[at] <= start + len(entries):
            cut = self._wanted[at] - start
            for entry in entries[done:cut]:
                append(leaf_hash(entry))
            self.roots[builder.size] = builder.root()
            done, at = cut, at + 1
        for entry in entries[done:] if done else entries:
            append(leaf_hash(entry))


def _open_checkpoints(
    checkpoints: Sequence[str | bytes],
    labels: Sequence[str],
    keys: Sequence[bytes],
    key_name: str | None,
    report: Report,
) -> None:
    """Verify each checkpoint's signature by one of the trusted keys (the pinned key and those it vouches for,
    oldest first), then check that the keys follow each other in the log's order: a larger checkpoint signed by
    an older key than a smaller one was signed after that key was retired, and is refused."""
    signed_by: list[tuple[int, int, str]] = []
    for label, text in zip(labels, checkpoints, strict=True):
        try:
            # The origin only says which key name to look for; the pinned key decides.
            name = key_name if key_name is not None else parse_note(text)[0].origin
        except NoteError as exc:
            report.problems.append(f"{label}: rejected: {exc} (with the pinned key {fingerprint(keys[0])})")
            continue
        opened: tuple[int, Checkpoint] | None = None
        failure: NoteError | None = None
        for index in reversed(range(len(keys))):
            try:
                opened = index, verify_checkpoint(text, name, keys[index])
                break
            except NoteError as exc:
                failure = failure or exc
        if opened is None:
            chain = "" if len(keys) == 1 else f" or the {len(keys) - 1} later keys it vouches for"
            report.problems.append(f"{label}: rejected: {failure} (with the pinned key {fingerprint(keys[0])}{chain})")
            continue
        index, cp = opened
        signed_by.append((cp.size, index, label))
        report.checkpoints.append(CheckpointResult(label, cp))
    newest: tuple[int, str] | None = None
    for _size, index, label in sorted(signed_by):
        if newest is not None and index < newest[0]:
            report.problems.append(
                f"{label}: signed with key {key_id(keys[index])}, which {newest[1]} (a smaller tree) shows was "
                "already retired: a retired key signed it after the rotation"
            )
        if newest is None or index > newest[0]:
            newest = (index, label)
    origins = {c.checkpoint.origin for c in report.checkpoints}
    if len(origins) > 1:
        report.problems.append(f"checkpoints name different logs: {', '.join(sorted(origins))}")


def _start_report(
    checkpoints: Sequence[str | bytes], keys: Sequence[bytes], key_name: str | None, labels: Sequence[str] | None
) -> Report:
    report = Report()
    if not checkpoints:
        report.problems.append("no checkpoint given: nothing vouches for the dump")
    names = list(labels) if labels is not None else [f"checkpoint {i + 1}" for i in range(len(checkpoints))]
    _open_checkpoints(checkpoints, names, keys, key_name, report)
    return report


def _finish_report(report: Report, tree: _Tree, entries: _EntryChecker) -> Report:
    report.entries = tree.builder.size
    report.root = tree.builder.root()
    report.problems += entries.problems()
    for result in report.checkpoints:
        _compare(result, report.entries, tree.roots, report.problems)
    return report


def verify_dump(
    lines: Iterable[bytes],
    checkpoints: Sequence[str | bytes],
    public_key: bytes,
    key_name: str | None = None,
    *,
    labels: Sequence[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    chain: Sequence[bytes] = (),
) -> Report:
    """Check every entry, rebuild the tree in one pass, and compare it with each signed checkpoint.

    `chain` is the pinned key followed by the keys it vouches for (signing.follow_chain), oldest first: a
    checkpoint may be signed by any of them, in their order along the log. Empty: the pinned key alone.

    `lines` are the stored entry bytes, one per entry; a trailing newline on each is ignored. `key_name`
    defaults to each checkpoint's origin. `on_progress` receives, after each run of entries, their number
    and their length with a newline each, for progress display. With `workers` above 1, that many processes
    check the entries' form while this one hashes the tree: the findings are the same, in the same order.
    A dump in a file is verified faster by verify_file, whose checking processes read the file themselves.
    """
    report = _start_report(checkpoints, list(chain) or [public_key], key_name, labels)
    tree = _Tree(c.checkpoint.size for c in report.checkpoints)
    entries = _EntryChecker()
    with _checking(workers) as checker:
        for batch in _batches(lines):
            for done in checker.submit(tree.builder.size == 0, batch):
                entries.join(done)
            tree.extend(batch)
            if on_progress is not None:
                on_progress(len(batch), sum(map(len, batch)) + len(batch))
        for done in checker.finish():
            entries.join(done)
    return _finish_report(report, tree, entries)


# What one checking process reads and checks at a time; the hashing process reads the file in blocks this size.
RANGE_BYTES = 4 << 20


def verify_file(
    path: Path,
    checkpoints: Sequence[str | bytes],
    public_key: bytes,
    key_name: str | None = None,
    *,
    labels: Sequence[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    chain: Sequence[bytes] = (),
) -> Report:
    """verify_dump for a dump file, one entry a line: the same findings, in the same order.

    With `workers` above 1, this process reads the file and hashes the tree while that many processes each
    read and check ranges of whole lines of the same file, so no entry is copied between processes (a file of
    one range or less is checked here: starting the processes would cost more). The file must not change
    meanwhile: a change of its size or modification time between the start and the end is
    reported as a problem."""
    report = _start_report(checkpoints, list(chain) or [public_key], key_name, labels)
    tree = _Tree(c.checkpoint.size for c in report.checkpoints)
    entries = _EntryChecker()
    with path.open("rb") as fh:
        before = os.fstat(fh.fileno())
        if workers <= 1 or before.st_size <= RANGE_BYTES:
            for block in _blocks(fh):
                entries.join(_check_lines(block))
                tree.extend(block)
                if on_progress is not None:
                    on_progress(len(block), sum(map(len, block)) + len(block))
        else:
            with _range_pool(workers) as pool:
                # All ranges are queued first: the processes start and check while this one hashes.
                with _main_hidden():
                    futures = [pool.submit(_check_range, str(path), a, b) for a, b in _ranges(fh, before.st_size)]
                fh.seek(0)
                for block in _blocks(fh):
                    tree.extend(block)
                    if on_progress is not None:
                        on_progress(len(block), sum(map(len, block)) + len(block))
                for future in futures:
                    entries.join(future.result())
        after = os.stat(path)
    if (before.st_size, before.st_mtime_ns, before.st_ino) != (after.st_size, after.st_mtime_ns, after.st_ino):
        report.problems.append(f"{path.name} changed while it was verified: verify a copy nothing writes to")
    return _finish_report(report, tree, entries)


def _blocks(fh: BinaryIO) -> Iterator[list[bytes]]:
    """The file's entries, in runs of whole lines read RANGE_BYTES at a time."""
    rest = b""
    while block := fh.read(RANGE_BYTES):
        data = rest + block if rest else block
        cut = data.rfind(b"\n") + 1
        if cut:
            yield _split_lines(data[:cut])
        rest = data[cut:]
    if rest:
        yield [rest]


def _ranges(fh: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of about RANGE_BYTES covering the file, each ending just after a newline or at its end."""
    start = 0
    while start < size:
        fh.seek(start + RANGE_BYTES - 1)
        end = min(fh.tell() + len(fh.readline()), size) if start + RANGE_BYTES < size else size
        yield start, end
        start = end


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Around submitting work, which starts the checking processes: spawn runs the parent's main module again
    in each one (the whole service for `testimony`, every benchmark for `python -m bench`: seconds of CPU
    each) unless it is hidden. They need nothing of it, only this module, which they import by name."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@contextmanager
def _range_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    # spawn, not fork: the caller may hold database connections and threads a forked child would copy.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


BATCH_LINES = 8192


def _batches(lines: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The entries in runs of BATCH_LINES, each without its trailing newline."""
    batch: list[bytes] = []
    for raw in lines:
        batch.append(raw[:-1] if raw.endswith(b"\n") else raw)
        if len(batch) == BATCH_LINES:
            yield batch
            batch = []
    if batch:
        yield batch


class _Checker:
    """Checks runs of entries here, one after another; `submit` answers the runs finished, oldest first."""

    def submit(self, first: bool, batch: list[bytes]) -> list[_Batch]:
        return [_check_lines(batch)]

    def finish(self) -> list[_Batch]:
        return []


class _PoolChecker(_Checker):
    """Checks runs in worker processes, a bounded number in flight, handing findings back in line order.

    The first run is checked here and the processes start with the second, so a small log pays nothing
    for them.
    """

    def __init__(self, stack: ExitStack, workers: int) -> None:
        self._stack = stack
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._in_flight: deque[Future[_Batch]] = deque()

    def submit(self, first: bool, batch: list[bytes]) -> list[_Batch]:
        if first:
            return super().submit(first, batch)
        if self._pool is None:
            self._pool = self._stack.enter_context(_range_pool(self._workers))
        with _main_hidden():
            self._in_flight.append(self._pool.submit(_check_lines, batch))
        ready: list[_Batch] = []
        while self._in_flight and (len(self._in_flight) > 2 * self._workers or self._in_flight[0].done()):
            ready.append(self._in_flight.popleft().result())
        return ready

    def finish(self) -> list[_Batch]:
        ready = [future.result() for future in self._in_flight]
        self._in_flight.clear()
        return ready


@contextmanager
def _checking(workers: int) -> Iterator[_Checker]:
    """Where the entries' form is checked: in this process, or in `workers` processes beside it."""
    if workers <= 1:
        yield _Checker()
        return
    with ExitStack() as stack:
        yield _PoolChecker(stack, workers)


def _compare(result: CheckpointResult, entries: int, roots: dict[int, bytes], problems: list[str]) -> None:
    cp = result.checkpoint
    if cp.size > entries:
        problems.append(
            f"{result.label}: signed {cp.size} entries but the dump has only {entries}: entries were removed"
        )
    elif roots[cp.size] != cp.root_hash:
        problems.append(
            f"{result.label}: the first {cp.size} entries do not hash to the signed root: "
            "entries were changed, removed, inserted or reordered"
        )


def _read_public_key(key: str, public_key_b64: str | None, key_name: str | None) -> tuple[bytes, str | None]:
    """The pinned public key and key name from the command line; ValueError explains a usage mistake."""
    if _FINGERPRINT.fullmatch(key.lower()):
        if public_key_b64 is None:
            raise ValueError("a fingerprint needs --public-key; this verifier never trusts a key shipped with data")
        try:
            public_key = base64.b64decode(public_key_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("--public-key is not base64") from exc
        if len(public_key) != 32 or fingerprint(public_key) != key.lower():
            raise ValueError("--public-key does not match the pinned fingerprint")
        return public_key, key_name
    if public_key_b64 is not None:
        raise ValueError("--public-key goes with a fingerprint, not with a verifier key")
    try:
        name, public_key = parse_vkey(key)
    except NoteError as exc:
        raise ValueError(f"--key is neither a 64-hex-digit fingerprint nor a valid verifier key: {exc}") from exc
    if key_name is not None and key_name != name:
        raise ValueError(f"--key-name {key_name} differs from the verifier key's name {name}")
    return public_key, name


@contextmanager
def _progress(total: int, stream: TextIO) -> Iterator[Callable[[int], None]]:
    """A callback advancing a rich progress bar on a terminal; a no-op without rich or a terminal."""
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:  # rich is optional: the verifier must run with the standard library alone
        yield lambda _n: None
        return
    if not stream.isatty():
        yield lambda _n: None
        return
    with Progress(console=Console(file=stream), transient=True) as progress:
        task = progress.add_task("hashing entries", total=total)
        yield lambda n: progress.advance(task, n)


def _add_key_options(parser: argparse.ArgumentParser, key_name_help: str) -> None:
    parser.add_argument("--key", required=True, help="pinned key: C2SP verifier key, or 64-hex-digit fingerprint")
    parser.add_argument("--public-key", help="base64 Ed25519 public key, required with a fingerprint")
    parser.add_argument("--key-name", help=key_name_help)
    parser.add_argument(
        "--chain",
        type=Path,
        help="the published signing keys (GET /api/v1/keys/signing saved as a file): its key transitions are "
        "followed from the pinned key, each checked before its key is trusted",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app.audit.verify",
        description="Verify an audit log dump against signed checkpoints, using a key you pinned yourself.",
        epilog="To check a custody proof instead: python -m app.audit.verify custody --help; one checkpoint, an "
        "inclusion or a consistency proof file: python -m app.audit.verify checkpoint|inclusion|consistency --help",
    )
    parser.add_argument("--events", required=True, type=Path, help="JSONL dump: one stored entry per line")
    parser.add_argument("--checkpoint", required=True, action="append", type=Path, help="signed checkpoint note")
    _add_key_options(parser, "signer key name (default: each checkpoint's origin)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        help="processes checking the entries' form beside the hashing one (default: the number of cores)",
    )
    return parser


def default_jobs() -> int:
    """The cores this process may run on: each checks entries while the main process hashes."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _custody_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app.audit.verify custody",
        description="Check that an item is the one a custody proof commits to, in a log signed by a key you "
        "pinned yourself.",
    )
    parser.add_argument("proof", type=Path, metavar="PROOF", help="the proof file (testimony custody proof --out)")
    parser.add_argument(
        "item",
        metavar="ITEM",
        help="the item: an attachment's original file, or a file of a statement version's canonical bytes; "
        "- reads standard input",
    )
    parser.add_argument("--text", action="store_true", help="ITEM is the text itself, hashed as its UTF-8 bytes")
    _add_key_options(parser, "signer key name (default: the checkpoint's origin)")
    return parser


def _item_digest(item: str, as_text: bool) -> bytes:
    """SHA-256 of the item, read in chunks: an original may be gigabytes."""
    if as_text:
        return hashlib.sha256(item.encode("utf-8", errors="surrogateescape")).digest()
    digest = hashlib.sha256()
    with nullcontext(sys.stdin.buffer) if item == "-" else Path(item).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def custody_main(argv: Sequence[str]) -> int:
    """`custody PROOF ITEM --key KEY`: exit 0 when the proof holds, 1 when it does not, 2 for a usage error."""
    parser = _custody_parser()
    args = parser.parse_args(argv)
    try:
        public_key, key_name = _read_public_key(args.key, args.public_key, args.key_name)
        statements = read_chain_file(args.chain) if args.chain is not None else []
        raw = args.proof.read_bytes()
        digest = _item_digest(args.item, args.text)
    except (ValueError, OSError) as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    keys = _chain_or_report(public_key, statements)
    if keys is None:
        return EXIT_FAILED
    for key in reversed(keys):  # the newest key first; any key of the chain may have signed the checkpoint
        report = verify_proof(raw, digest, key, key_name)
        if report.ok:
            break
    return _print_custody(report, digest, public_key)


def _chain_or_report(public_key: bytes, statements: object) -> list[bytes] | None:
    """The pinned key and the keys it vouches for; None, after saying why, when the chain is refused."""
    try:
        return follow_chain(public_key, statements)
    except ChainError as exc:
        sys.stdout.write(f"PROBLEM: the key chain is refused: {exc}\nFAILED: 1 problem(s)\n")
        return None


def _print_custody(report: CustodyReport, digest: bytes, public_key: bytes) -> int:
    out = sys.stdout
    out.write(f"item sha256: {digest.hex()}\n")
    kind = KIND_NAMES.get(report.kind or "", "")
    if kind:
        out.write(f"kind: {kind}\n")
    if report.entry:
        out.write(f"entry: seq {report.entry['seq']}, committed at {report.entry['at']} (the log's clock)\n")
    out.write(f"pinned key fingerprint: {fingerprint(public_key)}\n")
    cp = report.checkpoint
    if cp is not None:
        out.write(f"signature ok: checkpoint ({cp.origin}, {cp.size} entries)\n")
    for problem in report.problems:
        out.write(f"PROBLEM: {problem}\n")
    if report.ok and cp is not None:
        out.write(
            f"OK: the item is the {kind} committed in entry {report.entry['seq']}, which the checkpoint of "
            f"{cp.size} entries signed by the pinned key includes\n"
        )
        return EXIT_OK
    out.write(f"FAILED: {len(report.problems)} problem(s)\n")
    return EXIT_FAILED


PROOF_KINDS = {
    "checkpoint": "Check that a checkpoint note is signed by the key you pinned.",
    "inclusion": "Check that one event is in a tree signed by the key you pinned.",
    "consistency": "Check that a signed tree extends an earlier one, both signed by your pinned key.",
}


def _check_checkpoint_file(
    raw: bytes, public_key: bytes, key_name: str | None, chain: Sequence[bytes] = ()
) -> ProofReport:
    report = ProofReport()
    cp = open_checkpoint(raw, public_key, key_name, "checkpoint", report.problems, chain)
    if cp is not None:
        report.checkpoints.append(cp)
    return report


def proof_main(kind: str, argv: Sequence[str]) -> int:
    """`checkpoint|inclusion|consistency FILE --key KEY`: exit 0 when it holds, 1 when not, 2 for a usage error."""
    parser = argparse.ArgumentParser(prog=f"python -m app.audit.verify {kind}", description=PROOF_KINDS[kind])
    parser.add_argument("file", type=Path, metavar="FILE", help=f"the {kind} file downloaded from the auditor's pages")
    _add_key_options(parser, "signer key name (default: the checkpoint's origin)")
    args = parser.parse_args(argv)
    try:
        public_key, key_name = _read_public_key(args.key, args.public_key, args.key_name)
        statements = read_chain_file(args.chain) if args.chain is not None else []
        raw = args.file.read_bytes()
    except (ValueError, OSError) as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    check = {
        "checkpoint": _check_checkpoint_file,
        "inclusion": verify_inclusion_file,
        "consistency": verify_consistency_file,
    }[kind]
    keys = _chain_or_report(public_key, statements)
    if keys is None:
        return EXIT_FAILED
    return _print_proof(kind, check(raw, public_key, key_name, keys), public_key)


def _print_proof(kind: str, report: ProofReport, public_key: bytes) -> int:
    out = sys.stdout
    out.write(f"pinned key fingerprint: {fingerprint(public_key)}\n")
    if report.entry:
        entry = report.entry
        out.write(f"entry: seq {entry.get('seq')}, {entry.get('action')} at {entry.get('at')} (the log's clock)\n")
    for cp in report.checkpoints:
        root = base64.b64encode(cp.root_hash).decode("ascii")
        out.write(f"signature ok: checkpoint ({cp.origin}, {cp.size} entries, root {root})\n")
    for problem in report.problems:
        out.write(f"PROBLEM: {problem}\n")
    if not report.ok or not report.checkpoints:
        out.write(f"FAILED: {len(report.problems)} problem(s)\n")
        return EXIT_FAILED
    last = report.checkpoints[-1]
    if kind == "inclusion":
        out.write(f"OK: event {report.entry['seq']} is in the tree of {last.size} entries signed by the pinned key\n")
    elif kind == "consistency":
        first = report.checkpoints[0]
        out.write(f"OK: the signed tree of {last.size} entries extends the signed tree of {first.size}\n")
    else:
        out.write(f"OK: the checkpoint of {last.size} entries is signed by the pinned key\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["custody"]:
        return custody_main(arguments[1:])
    if arguments[:1] and arguments[0] in PROOF_KINDS:
        return proof_main(arguments[0], arguments[1:])
    parser = _parser()
    args = parser.parse_args(arguments)
    try:
        public_key, key_name = _read_public_key(args.key, args.public_key, args.key_name)
        texts = [path.read_bytes() for path in args.checkpoint]
        statements = read_chain_file(args.chain) if args.chain is not None else []
        total = args.events.stat().st_size
    except (ValueError, OSError) as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    chain = _chain_or_report(public_key, statements)
    if chain is None:
        return EXIT_FAILED
    with _progress(total, sys.stderr) as advance:
        try:
            report = verify_file(
                args.events,
                texts,
                public_key,
                key_name,
                labels=[str(p) for p in args.checkpoint],
                on_progress=lambda _entries, length: advance(length),
                workers=args.jobs,
                chain=chain,
            )
        except OSError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_USAGE
    return _print(report, public_key)


def read_chain_file(path: Path) -> object:
    """The key transitions from a file: the published signing keys ({"transitions": [...]}) or the bare list.

    ValueError when it is not JSON of either shape; the statements themselves are checked when followed.
    """
    try:
        doc = json.loads(path.read_bytes())
    except RecursionError:  # nesting no key chain has: refused as the parser cannot follow it
        raise ValueError(f"--chain {path} is not JSON a verifier accepts (too deeply nested)") from None
    except ValueError as exc:
        raise ValueError(f"--chain {path} is not JSON") from exc
    statements = doc.get("transitions") if isinstance(doc, dict) else doc
    if not isinstance(statements, list):
        raise ValueError(f"--chain {path} holds no list of key transitions")
    return statements


def _print(report: Report, public_key: bytes) -> int:
    out = sys.stdout
    out.write(f"entries: {report.entries}\nroot: {base64.b64encode(report.root).decode('ascii')}\n")
    out.write(f"pinned key fingerprint: {fingerprint(public_key)}\n")
    for result in report.checkpoints:
        cp = result.checkpoint
        out.write(f"signature ok: {result.label} ({cp.origin}, {cp.size} entries)\n")
    for problem in report.problems:
        out.write(f"PROBLEM: {problem}\n")
    if report.ok:
        if report.uncovered:
            out.write(f"note: the last {report.uncovered} entries are newer than every checkpoint given\n")
        out.write("OK: the dump matches every checkpoint\n")
        return EXIT_OK
    out.write(f"FAILED: {len(report.problems)} problem(s)\n")
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
