"""Writing an export's bundle from its disclosure ledger: records, consent, exclusions, signed, encrypted, sealed.

Called once, in the build's last transaction, under the job's fencing token. One ``OpaqueIds`` stands for
every internal id in the bundle; the salt dies with the build. Per ledger row, the person's record is made by
``material.record_of`` (at ``aggregate_only``: only counted), their consent file by ``consent_file``, each
from rows read a page of people at a time (``material.page_of``, ``app.consent.record_pages``); both wait
on tapes (``spool.Tape``: sealed, in unnamed temp files) with a small summary per record (``Kept``), nothing
per record in memory. The
files go to ``Bundle`` (checksums, manifest, signature, README), then through ``age`` to the recipient's key
when the registry holds one, then sealed under the export's own data key into ``runtime.bundles``.

The bundle holds:

- ``records.jsonl``: one JSON record per person disclosed; ``records.csv``: the same, one row per record,
  one flat column per field (nested fields joined with '.', lists as JSON);
- ``redactions.json``: per record, its level and the categories included (never what was left out);
- ``attachments/<id>.<ext>``: each attachment sent, stripped of metadata unless the recipient keeps originals;
- ``exclusions.json``: one generic reason and how many people were not included (null when 1 to 4), and
  the same for attachments left out (a format that cannot be stripped is never sent unstripped);
- ``counts.json`` (when anyone is disclosed ``aggregate_only``): counts per category, suppressed;
- ``consent/<record>.json``: the person's 27560 record, filtered to the grants relied on;
- ``statements/<id>.json``: at the named levels, a statement version that went whole, as its canonical bytes;
- ``custody/<item>.proof.json``: the custody proof of each whole statement and attachment original at the
  named levels (``custody_files``); the manifest links each to its item, and lists those still waiting for a
  signed checkpoint under ``custody_pending``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import __version__
from app.consent import history, record_pages
from app.consent.decision_inputs import DenyList, Source
from app.consent.decision_inputs import Recipient as RecipientEntry
from app.consent.vocabulary import DisclosureLevel
from app.core.db import db_now
from app.crypto.derive import Purpose
from app.exports import deidentified, levels, strip, suppression
from app.exports.bundle import Bundle, Entry
from app.exports.consent_file import consent_document
from app.exports.custody_files import proof_name, proofs_bytes
from app.exports.decisions import CachedHistory, DecisionCache
from app.exports.encrypt import encrypt_to_age
from app.exports.files import LEFT_OUT, Files, Planned
from app.exports.levels import OpaqueIds
from app.exports.manifest import BundleInfo, CustodyLink, Pairs, Party, Readme, json_chunks
from app.exports.material import AllowedFor, Record, page_of, record_of
from app.exports.models import DisclosureEntry, ExportApproval, ExportRequest
from app.exports.spool import Tape
from app.exports.stored import StoredBundle, bundle_key, seal_bundle
from app.keys import datakeys, sealed
from app.people import erased
from app.people.models import Person
from app.recipients.models import Recipient

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

EXCLUDED_REASON = "not included under the consent given, or not within the request"
"""The one reason given for everyone left out: a reason per person could tell what they refused."""
SMALL = 5
"""Counts of people left out below this (but above zero) are written as null."""
PAGE = 200
"""People read per page while writing: their rows, data keys, histories, interview rows and consent versions
by a fixed number of queries."""
CUSTODY_PENDING = "no signed checkpoint of the audit log covered these items' custody commitments yet"
README = Readme(
    terms=(
        "Use these records only for the purpose named above, keep them confidential, and do not pass them on. "
        "Each record may be used only as its consent file in consent/ allows."
    ),
    recall=(
        "If you receive a recall notice for this bundle, stop using the records it names at once, delete them "
        "and every copy, and confirm to the sender what you did."
    ),
    contact="the custodians of the organisation that sent you this bundle",
)


class Ledger(Protocol):
    """What the writer reads of a ledger row."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def person_id(self) -> uuid.UUID: ...
    @property
    def level(self) -> str: ...
    @property
    def categories(self) -> list[str]: ...
    @property
    def grant_ids(self) -> list[str]: ...


def _ledger_order(session: Session, export_id: uuid.UUID, tape: Tape) -> None:
    """The export's ledger row ids onto ``tape``, a page of ids (16 bytes each) per item, in the order of the
    rows' codes: random, made for each row of each export (``build.decide_batch``), so two bundles of the same
    people for different recipients cannot be lined up by position; sorted by the database, streamed here."""
    ids = session.scalars(
        select(DisclosureEntry.id)
        .where(DisclosureEntry.export_id == export_id)
        .order_by(DisclosureEntry.code, DisclosureEntry.id)
        .execution_options(yield_per=PAGE)
    )
    for part in ids.partitions():
        tape.append(b"".join(ledger_id.bytes for ledger_id in part))


def _ledger_pages(session: Session, order: Tape) -> Iterator[list[Ledger]]:
    """The ledger rows a page at a time, in ``order``'s order, as plain rows (no ORM object)."""
    for item in order:
        wanted = [uuid.UUID(bytes=item[at : at + 16]) for at in range(0, len(item), 16)]
        rows = session.execute(
            select(
                DisclosureEntry.id,
                DisclosureEntry.person_id,
                DisclosureEntry.level,
                DisclosureEntry.categories,
                DisclosureEntry.grant_ids,
            ).where(DisclosureEntry.id.in_(wanted))
        )
        found: dict[uuid.UUID, Ledger] = {row.id: row for row in rows}
        yield [found[ledger_id] for ledger_id in wanted if ledger_id in found]


@dataclass(frozen=True)
class Kept:
    """What the writer keeps of a record once its document is on a tape (one line of the ``kept`` tape): what
    later entries, the check, the ledger and the manifest need, never the document itself."""

    record_id: str
    ledger_id: uuid.UUID
    level: DisclosureLevel
    categories: tuple[str, ...]
    attachments: tuple[tuple[str, uuid.UUID], ...]
    """Each attachment's file name and attachment id."""
    statements: tuple[tuple[str, uuid.UUID], ...]
    """Each whole statement version's file name (its bytes on the ``wholes`` tape) and its statement version id."""
    quasi: deidentified.Quasi | None
    """The quasi-identifiers of a ``deidentified`` record (``deidentified.check``)."""
    basis: dict[str, Any]
    """Its line of the manifest's consent basis."""

    def encode(self) -> bytes:
        quasi = None if self.quasi is None else [list(self.quasi.months), self.quasi.sex]
        attachments = [[n, i.hex] for n, i in self.attachments]
        statements = [[n, i.hex] for n, i in self.statements]
        fields: list[Any] = [self.record_id, self.ledger_id.hex, self.level.value, self.categories]
        fields += [attachments, statements, quasi, self.basis]
        return json.dumps(fields, ensure_ascii=False).encode("utf-8")

    @classmethod
    def decode(cls, line: bytes) -> Kept:
        record_id, ledger_id, level, categories, attachments, statements, quasi, basis = json.loads(line)
        return cls(
            record_id,
            uuid.UUID(ledger_id),
            DisclosureLevel(level),
            tuple(categories),
            tuple((n, uuid.UUID(i)) for n, i in attachments),
            tuple((n, uuid.UUID(i)) for n, i in statements),
            None if quasi is None else deidentified.Quasi(tuple(quasi[0]), quasi[1]),
            basis,
        )


@dataclass(frozen=True)
class Written:
    stored: StoredBundle
    manifest_sha256: str
    encrypted: bool
    records: int
    """How many records the bundle holds (each one's ledger row now has its record id)."""


def _flat(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flat(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif value is None:
        out[prefix] = ""
    elif isinstance(value, str):
        out[prefix] = _inert(value)
    else:
        out[prefix] = str(value).lower() if isinstance(value, bool) else str(value)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula: a text cell starting so gets a leading apostrophe."""


def _inert(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs (records.jsonl keeps every value exactly)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def records_csv(records: Sequence[Record]) -> bytes:
    """One row per record, one flat column per field of any record (the first three always first)."""
    return b"".join(records_csv_chunks(records))


def records_csv_chunks(records: Sequence[Record], rows_per_chunk: int = 256) -> Iterator[bytes]:
    """``records_csv`` as it is written: the columns found first, then the rows a few at a time, so the CSV
    is never whole in memory."""
    columns: set[str] = set()
    for r in records:
        row: dict[str, str] = {}
        _flat(r.document, "", row)
        columns.update(row)
    return _csv_chunks((r.document for r in records), columns, rows_per_chunk)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8") + b"\n"


def _allowed_for(
    cached: CachedHistory, export: ExportRequest, entry: RecipientEntry, deny: DenyList, row: Ledger
) -> AllowedFor:
    def allowed(source: Source) -> list[str]:
        return [c for c in row.categories if cached.decide(export.purpose, entry, c, row.level, deny, source).allowed]

    return allowed


class _Tapes:
    """The build's tapes (``spool.Tape``: sealed, in unnamed temp files), closed together."""

    def __init__(self) -> None:
        self.order, self.kept, self.documents, self.consents, self.wholes, self.finals = (Tape() for _ in range(6))

    def close(self) -> None:
        for tape in (self.order, self.kept, self.documents, self.consents, self.wholes, self.finals):
            tape.close()


def write(session: Session, runtime: Runtime, export: ExportRequest, excluded: int) -> Written:
    """Write and seal the export's bundle from its ledger; set each kept ledger row's record id; what was stored.

    Records go in the order of their ledger rows' codes (random per row and export: ``_ledger_order``), never
    of person ids or of when they were decided, so two bundles of the same people for different recipients
    cannot be lined up by position. People are read a page at a time (``PAGE``): their rows, data keys and
    histories by a fixed number of queries per page; ``decide()`` is asked through this build's own
    ``DecisionCache``. Whatever grows with the records waits on tapes (``spool.Tape``: sealed, in unnamed temp
    files), not in memory: the page order, each record's document, consent file, whole statement versions
    and summary (``Kept``: with its line of the manifest's consent basis), and the final documents for
    records.csv. What stays in memory is a page, a count per kind of ``deidentified`` record (the
    quasi-identifier check), the CSV's columns and the attachments to send. The tapes are gone when this
    returns.
    """
    tapes = _Tapes()
    try:
        return _write(session, runtime, export, excluded, tapes)
    finally:
        tapes.close()


def _write(session: Session, runtime: Runtime, export: ExportRequest, excluded: int, tapes: _Tapes) -> Written:
    recipient = session.get(Recipient, export.recipient_id)
    assert recipient is not None  # a foreign key
    ids = OpaqueIds()
    cache = DecisionCache()  # this bundle's only
    entry = history.recipient_of(recipient)
    deny = history.deny_list_of(session)
    now = db_now(session)
    export_key = runtime.derived_key(Purpose.EXPORT_PSEUDONYM)
    aggregate: Counter[str] = Counter()
    kinds: Counter[deidentified.Quasi] = Counter()
    planned: list[Planned] = []
    named = False
    _ledger_order(session, export.id, tapes.order)
    for page in _ledger_pages(session, tapes.order):
        wanted = [r.person_id for r in page]
        gone = erased.erased_among(session, wanted)  # erased since they were decided: nothing of them opens
        people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(wanted))) if p.id not in gone}
        keys = datakeys.loaded(session, list(people))  # kept for the page: data_key finds them in the session
        disclosed = [
            people[r.person_id]
            for r in page
            if r.person_id in people and DisclosureLevel(r.level) is not DisclosureLevel.AGGREGATE_ONLY
        ]
        with sealed.opening_once(session):  # each consent version and participation consent opened once a page
            histories = history.histories_of(session, runtime, disclosed)
            consent_versions = record_pages.opened_current(session, runtime, disclosed, now)
        material = page_of(session, export.id, [p.id for p in disclosed])
        for row in page:
            person = people.get(row.person_id)
            if person is None:  # erased since it was decided
                continue
            level = DisclosureLevel(row.level)
            if level is DisclosureLevel.AGGREGATE_ONLY:
                aggregate.update(row.categories)
                continue
            allowed = _allowed_for(cache.view(histories[person.id], now), export, entry, deny, row)
            pseudonym = (
                levels.pseudonym(export_key, export.recipient_id, person.id)
                if level is DisclosureLevel.PSEUDONYMOUS
                else None
            )
            record = record_of(session, runtime, person, level, row.categories, allowed, ids, pseudonym, material)
            consent = consent_document(
                consent_versions[person.id], runtime.forms, person, level, row.grant_ids, record.categories, ids,
                pseudonym,
            )  # fmt: skip
            tapes.consents.append(_line(consent))
            kept = _taped(record, row, ids, tapes)
            if kept.quasi is not None:
                kinds[kept.quasi] += 1
            planned.extend(record.attachments)
            named = named or bool(kept.statements) or levels.is_named(level)
        datakeys.forget(session, list(people))  # the page's unwrapped keys go with the page
        del keys, people, disclosed, histories, consent_versions, material  # the session holds no row it is not given

    dropped, shown = deidentified.check(kinds)
    excluded += sum(kinds[kind] for kind in dropped)
    del kinds

    def going() -> Iterator[Kept]:
        """Each record the bundle holds, in its order (those the quasi-identifier check dropped left out)."""
        for line in tapes.kept:
            k = Kept.decode(line)
            if k.quasi is None or k.quasi not in dropped:
                yield k

    if dropped and planned:  # the attachments of a record the check dropped are not sent
        gone_files = {
            n for line in tapes.kept for k in [Kept.decode(line)] if k.quasi in dropped for n, _ in k.attachments
        }
        planned = [a for a in planned if a.name not in gone_files]
    files = Files(session, runtime, planned, strip.keeps_original(recipient.recipient_class))
    del planned

    links: list[CustodyLink] = []
    unproved: list[str] = []
    columns: set[str] = set()
    records = 0

    def documents() -> Iterator[bytes]:
        """Each record's final document as its records.jsonl line, also onto ``finals`` for records.csv; each
        ledger row's record id set a page of rows at a time."""
        nonlocal records
        placed: list[dict[str, Any]] = []
        for line, raw in zip(tapes.kept, tapes.documents, strict=True):
            k = Kept.decode(line)
            if k.quasi is not None and k.quasi in dropped:
                continue
            document = json.loads(raw)
            if k.quasi is not None and (coarsened := shown.get(k.quasi)) is not None:
                deidentified.apply(document, coarsened)
            _drop_files(document, files.left_out)
            flat: dict[str, str] = {}
            _flat(document, "", flat)
            columns.update(flat)
            final = _line(document)
            tapes.finals.append(final)
            records += 1
            placed.append({"id": k.ledger_id, "record_id": k.record_id})
            if len(placed) >= PAGE:
                session.execute(update(DisclosureEntry), placed)
                placed = []
            yield final
        if placed:
            session.execute(update(DisclosureEntry), placed)

    def final_documents() -> Iterator[dict[str, Any]]:
        for line in tapes.finals:
            yield json.loads(line)

    def taped(tape: Tape) -> Iterator[tuple[Kept, bytes]]:
        for line, data in zip(tapes.kept, tape, strict=True):
            k = Kept.decode(line)
            if k.quasi is None or k.quasi not in dropped:
                yield k, data

    def entries() -> Iterator[Entry]:
        yield from files.entries()  # first: a file left out is then left out of its record too
        if named:  # whole statement versions go at the named levels only
            wholes = iter(tapes.wholes)
            for line in tapes.kept:
                k = Kept.decode(line)
                for name, _ in k.statements:
                    data = next(wholes)
                    if k.quasi is None or k.quasi not in dropped:
                        yield Entry(name, [data])
        yield Entry("records.jsonl", documents())
        yield Entry("records.csv", _csv_chunks(final_documents(), columns))
        yield Entry(
            "redactions.json",
            json_chunks(
                Pairs((k.record_id, {"level": k.level.value, "categories": list(k.categories)}) for k in going()), 0
            ),
        )
        exclusions: dict[str, Any] = {"reason": EXCLUDED_REASON, "count": _shown(excluded)}
        if files.left_out:
            exclusions["files"] = {"reason": LEFT_OUT, "count": _shown(len(files.left_out))}
        yield Entry("exclusions.json", [_json(exclusions)])
        if aggregate:
            counted = suppression.suppress_list(dict(sorted(aggregate.items())))
            counts = {"categories": dict(zip(counted.labels, counted.counts, strict=True)), "total": counted.total}
            yield Entry("counts.json", [_json(counts)])
        for k, consent in taped(tapes.consents):
            yield Entry(f"consent/{k.record_id}.json", [consent])
        if not named:
            return
        items = _custody_items(going(), files)
        while page := list(itertools.islice(items, PAGE)):  # the proofs of a page of items read at once
            proofs = proofs_bytes(session, runtime, [committed for _, committed in page])
            for item, committed in page:
                proof = proofs[committed]
                if proof is None:
                    unproved.append(item)
                    continue
                name = proof_name(item)
                yield Entry(name, [proof])
                links.append(CustodyLink(name, item))

    approvers = session.scalars(
        select(ExportApproval.decided_by)
        .where(ExportApproval.export_id == export.id, ExportApproval.decision == "approve")
        .order_by(ExportApproval.decided_at)
    ).all()

    keyring = runtime.keys.for_signing()  # a rotation elsewhere is picked up here, without a restart
    chain = keyring.transitions()

    def info() -> BundleInfo:
        extra: dict[str, Any] = {}
        if unproved:
            extra["custody_pending"] = {"reason": CUSTODY_PENDING, "items": sorted(unproved)}
        if chain:  # how a recipient who pinned an earlier key reaches the one that signs this bundle
            extra["key_chain"] = chain
        return BundleInfo(
            export_id=ids.of(export.id),
            purpose=export.purpose,
            recipient={"name": recipient.names[0] if recipient.names else None, "class": recipient.recipient_class},
            requester=Party("legal", ids.of(export.requester_id)),
            approvers=[Party("custodian", ids.of(u)) for u in approvers],
            built_at=now,
            software_version=__version__,
            consent_basis=Pairs((k.record_id, k.basis) for k in going()),
            custody=tuple(links),
            extra=extra,
        )

    bundle = Bundle(entries(), info, keyring.signer, README)
    chunks: Iterator[bytes] = bundle.chunks()
    if recipient.age_recipient:
        chunks = encrypt_to_age(chunks, recipient.age_recipient)
    runtime.bundles.remove(export.id.hex)  # one an attempt that died after sealing left behind; we hold the fence
    stored = seal_bundle(runtime.bundles, export.id, bundle_key(session, runtime.keys, export.id), chunks)
    return Written(stored, bundle.result.manifest_sha256, bool(recipient.age_recipient), records)


def _taped(record: Record, row: Ledger, ids: OpaqueIds, tapes: _Tapes) -> Kept:
    """Put the record's document and whole statement versions on their tapes, and its summary on ``kept``."""
    tapes.documents.append(json.dumps(record.document, ensure_ascii=False).encode("utf-8"))
    for whole in record.statements:
        tapes.wholes.append(whole.data)
    kept = Kept(
        record.record_id,
        row.id,
        record.level,
        record.categories,
        tuple((planned.name, planned.row.id) for planned in record.attachments),
        tuple((whole.name, whole.statement_id) for whole in record.statements),
        deidentified.quasi_of(record.document) if record.level is DisclosureLevel.DEIDENTIFIED else None,
        {
            "level": record.level.value,
            "categories": list(record.categories),
            "grants": sorted(ids.of(g) for g in row.grant_ids),
            "consent": f"consent/{record.record_id}.json",
        },
    )
    tapes.kept.append(kept.encode())
    return kept


def _csv_chunks(documents: Iterable[dict[str, Any]], columns: set[str], rows_per_chunk: int = 256) -> Iterator[bytes]:
    """records.csv from the final documents, the columns of every one known (``records_csv_chunks``' layout)."""
    first = ["record", "level", "pseudonym"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=first + sorted(columns - set(first)), restval="", lineterminator="\r\n")
    writer.writeheader()
    for n, document in enumerate(documents, 1):
        row: dict[str, str] = {}
        _flat(document, "", row)
        writer.writerow(row)
        if n % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def _line(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"


def _shown(count: int) -> int | None:
    return None if 0 < count < SMALL else count


def _drop_files(document: dict[str, Any], left_out: set[str]) -> None:
    if not left_out:
        return
    for interview in document.get("interviews", []):
        if "attachments" in interview:
            interview["attachments"] = [a for a in interview["attachments"] if a["file"] not in left_out]
            if not interview["attachments"]:
                del interview["attachments"]


def _custody_items(records: Iterable[Kept], files: Files) -> Iterator[tuple[str, uuid.UUID]]:
    """The bundle files that may carry a custody proof, with the record each proves: whole statement versions
    and attachment originals, at the named levels only."""
    for r in records:
        if not levels.is_named(r.level):
            continue
        yield from r.statements
        if files.originals:
            for name, attachment_id in r.attachments:
                if name not in files.left_out:
                    yield name, attachment_id
