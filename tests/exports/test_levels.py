"""Disclosure levels: the person's one level, field filtering through the table, pseudonyms, opaque ids and the
deidentified shape."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.consent.categories import FIELD_CATEGORIES
from app.consent.vocabulary import DISCLOSURE_MOST_PROTECTIVE_FIRST as LEVELS
from app.consent.vocabulary import DataCategory as C
from app.consent.vocabulary import DisclosureLevel as L
from app.exports.levels import (
    DEIDENTIFIED_FIELDS,
    RECENT_IDS,
    OpaqueIds,
    allowed_fields,
    deidentify,
    for_level,
    person_level,
    pseudonym,
    pseudonymise,
    to_month,
)

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
RANK = {level: rank for rank, level in enumerate(LEVELS)}  # 0 = aggregate_only, the most protective


# The one level ------------------------------------------------------------------------------------------


def test_the_person_gets_the_most_protective_level_any_allowed_category_allows() -> None:
    allowed = {C.NARRATIVE_GENERAL: L.NAMED_PUBLIC, C.DEMOGRAPHICS: L.PSEUDONYMOUS, C.HEALTH: L.NAMED_PROTECTED}
    assert person_level(allowed.values(), L.NAMED_PUBLIC) is L.PSEUDONYMOUS


def test_the_request_maximum_caps_the_level() -> None:
    assert person_level([L.NAMED_PUBLIC], L.DEIDENTIFIED) is L.DEIDENTIFIED
    assert person_level([L.AGGREGATE_ONLY], L.NAMED_PUBLIC) is L.AGGREGATE_ONLY


def test_no_allowed_category_means_no_level() -> None:
    assert person_level([], L.NAMED_PUBLIC) is None


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(list(C)), st.sampled_from(LEVELS), max_size=8), st.sampled_from(LEVELS))
def test_the_level_is_the_least_revealing_of_the_capped_levels(allowed: dict[C, L], maximum: L) -> None:
    level = person_level(allowed.values(), maximum)
    if not allowed:
        assert level is None
        return
    assert level is not None
    assert RANK[level] <= RANK[maximum]
    assert all(RANK[level] <= RANK[granted] for granted in allowed.values())
    assert RANK[level] == min(min(RANK[g], RANK[maximum]) for g in allowed.values())


# Field filtering ----------------------------------------------------------------------------------------

IDENTITY = {
    "full_name": "Amina K.",
    "other_names": ["Mina"],
    "date_of_birth": "1990-04-02",
    "age_years": 34,
    "sex_gender": "female",
    "languages": ["ar"],
    "place_of_origin": "Tawila",
    "not_in_the_table": "never leaves",
}


def test_only_fields_of_allowed_categories_leave() -> None:
    assert allowed_fields("people", "identity", IDENTITY, {C.DEMOGRAPHICS}) == {
        "sex_gender": "female",
        "languages": ["ar"],
    }


def test_a_field_the_table_does_not_know_never_leaves_whatever_is_allowed() -> None:
    everything = allowed_fields("people", "identity", IDENTITY, set(C))
    assert "not_in_the_table" not in everything
    assert set(everything) == set(IDENTITY) - {"not_in_the_table"}
    assert allowed_fields("unknown_table", "identity", IDENTITY, set(C)) == {}


def test_nested_parts_and_lists_of_records_are_filtered_part_by_part() -> None:
    details = {
        "place": "Camp 4, block 7",
        "checklist": {"private_setting": True, "justification": "first account", "incident_types": ["sexual_violence"]},
        "breaks": [{"started_at": "2026-01-02T10:00:00Z", "ended_at": None, "reason": "distressed"}],
        "referrals": [{"need": "medical", "contact": "clinic"}],
        "extra": {"private_setting": True},
    }
    assert allowed_fields("interviews", "details", details, {C.INTERVIEW_METADATA}) == {
        "checklist": {"private_setting": True},
        "breaks": [{"started_at": "2026-01-02T10:00:00Z", "ended_at": None}],
    }
    health = allowed_fields("interviews", "details", details, {C.HEALTH})
    assert health == {"breaks": [{"reason": "distressed"}], "referrals": [{"need": "medical", "contact": "clinic"}]}


def _documents() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    """A sealed document of some (table, column), holding a random part of the table's fields and unknown ones."""
    columns = sorted({(t, c) for (t, c, _) in FIELD_CATEGORIES})

    def build(column: tuple[str, str], picks: list[bool], unknown: list[str]) -> tuple[str, str, dict[str, Any]]:
        table, col = column
        paths = sorted(p for (t, c, p) in FIELD_CATEGORIES if (t, c) == column)
        doc: dict[str, Any] = {}
        for path, pick in zip(paths, picks, strict=False):
            if not pick:
                continue
            *parents, leaf = path.split(".")
            node = doc
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = f"value of {path}"
        for name in unknown:
            doc.setdefault(name, "unknown")
        return table, col, doc

    return st.builds(
        build,
        st.sampled_from(columns),
        st.lists(st.booleans(), min_size=30, max_size=30),
        st.lists(st.sampled_from(["secret", "notes", "gps", "id", "checklist_extra"]), max_size=3),
    )


def _leaves(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@settings(deadline=None)
@given(_documents(), st.sets(st.sampled_from(list(C))))
def test_exactly_the_mapped_fields_of_allowed_categories_leave(
    document: tuple[str, str, dict[str, Any]], allowed: set[C]
) -> None:
    table, column, doc = document
    expected = {
        path: value for path, value in _leaves(doc).items() if FIELD_CATEGORIES.get((table, column, path)) in allowed
    }
    assert _leaves(allowed_fields(table, column, doc, allowed)) == expected


# Pseudonymous -------------------------------------------------------------------------------------------

RECIPIENT_1, RECIPIENT_2 = uuid.uuid4(), uuid.uuid4()
PERSON = uuid.uuid4()


def test_a_pseudonym_is_stable_per_recipient_and_person() -> None:
    code = pseudonym(KEY_A, RECIPIENT_1, PERSON)
    assert code == pseudonym(KEY_A, RECIPIENT_1, PERSON)
    assert re.fullmatch(r"P(-[A-Z2-7]{4}){4}", code)
    assert code != pseudonym(KEY_A, RECIPIENT_2, PERSON)
    assert code != pseudonym(KEY_A, RECIPIENT_1, uuid.uuid4())
    assert code != pseudonym(KEY_B, RECIPIENT_1, PERSON)


def test_a_pseudonym_is_the_base32_of_the_whole_hmac_cut_to_four_groups() -> None:
    digest = hmac.new(KEY_A, b"testimony/export-pseudonym|" + RECIPIENT_1.bytes + PERSON.bytes, hashlib.sha256)
    text = base64.b32encode(digest.digest()).decode()
    assert pseudonym(KEY_A, RECIPIENT_1, PERSON) == "P-" + "-".join(text[i : i + 4] for i in range(0, 16, 4))


def test_opaque_ids_and_texts_stay_the_same_after_the_build_forgets_the_recent_ones() -> None:
    ids = OpaqueIds()
    first, text = uuid.uuid4(), f"see {uuid.uuid4()} and KX7-42QM"
    opaque, replaced = ids.of(first), ids.in_text(text)
    for _ in range(RECENT_IDS + 1):  # more than it remembers: both memories are emptied at least once
        ids.of(uuid.uuid4())
        ids.in_text(f"ref {uuid.uuid4()}")
    assert ids.of(first) == ids.of(str(first)) == opaque
    assert ids.in_text(text) == replaced
    assert "KX7-42QM" not in replaced
    assert replaced.startswith("see X-")


def test_a_value_equal_to_another_of_another_type_gets_its_own_opaque_id() -> None:
    ids = OpaqueIds()
    assert ids.of(1) != ids.of(True)  # 1 == True as dictionary keys: the remembered ids must not mix them
    assert ids.of(True) == ids.of("true")


def test_a_text_of_a_str_subclass_is_pseudonymised_by_its_text() -> None:
    value = uuid.uuid4()

    class Kind(enum.StrEnum):
        REF = f"ref {value}"

    ids = OpaqueIds()
    assert pseudonymise({"note": Kind.REF, "list": (Kind.REF,)}, ids) == {
        "note": f"ref {ids.of(value)}",
        "list": [f"ref {ids.of(value)}"],
    }


def test_opaque_ids_are_consistent_within_an_export_and_differ_between_exports() -> None:
    first, second = OpaqueIds(), OpaqueIds()
    value = uuid.uuid4()
    assert first.of(value) == first.of(str(value)) == first.of(str(value).upper())
    assert first.of(value) != second.of(value)
    assert str(value) not in first.of(value)


def _record(person: uuid.UUID) -> dict[str, Any]:
    """What the build might hold for one person: ids, grant ids, a receipt code, hashes, codes in free text."""
    grant = uuid.uuid4()
    return {
        "person_id": str(person),
        "person_code": "KX7-42QM",
        "grant_ids": [str(grant), str(uuid.uuid4())],
        "reference_code": "7Q2MZ-K4W9T-PX3RB-HV8N1",
        "interview": {
            "id": str(uuid.uuid4()),
            "checklist": {"completed_by": str(uuid.uuid4()), "private_setting": True},
            "feedback": [{"task_id": uuid.uuid4(), "promise": "a call in May"}],
        },
        "attachment": {"sha256": "ab" * 32, "size": 12345, "file_name": None},
        "statement": f"I told them on receipt {grant} and again to KX7-42QM; digest {'cd' * 32}.",
        "categories": ["narrative_general"],
    }


INTERNAL = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}|KX7-42QM|7Q2MZ-K4W9T", re.IGNORECASE
)


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {s for item in value.values() for s in _strings(item)}
    if isinstance(value, list):
        return {s for item in value for s in _strings(item)}
    return {value} if isinstance(value, str) else set()


def test_no_internal_id_grant_id_uuid_receipt_code_or_hash_leaves() -> None:
    record = _record(PERSON)
    out = pseudonymise(record, OpaqueIds())
    text = json.dumps(out)
    assert INTERNAL.findall(text) == []
    assert "12345" not in text  # the original's exact size fingerprints it like its hash
    assert out["interview"]["checklist"]["private_setting"] is True
    assert out["categories"] == ["narrative_general"]
    assert out["statement"].startswith("I told them on receipt X-")
    assert out["attachment"]["file_name"] is None


def test_references_between_records_survive_within_one_export() -> None:
    grant = str(uuid.uuid4())
    ids = OpaqueIds()
    one, two = pseudonymise({"grant_ids": [grant]}, ids), pseudonymise({"relied_on": f"grant {grant}"}, ids)
    assert two["relied_on"] == f"grant {one['grant_ids'][0]}"


def test_two_exports_of_the_same_people_to_different_recipients_share_no_value() -> None:
    people = [uuid.uuid4() for _ in range(5)]
    records = [_record(p) for p in people]

    def export(recipient: uuid.UUID) -> list[dict[str, Any]]:
        ids = OpaqueIds()
        return [
            {"code": pseudonym(KEY_A, recipient, p), **pseudonymise(r, ids)}
            for p, r in zip(people, records, strict=True)
        ]

    first, second = export(RECIPIENT_1), export(RECIPIENT_2)
    shared = _strings(first) & _strings(second)
    # What may be shared is content both may see, never an identifier.
    assert shared == {"narrative_general", "a call in May"}
    for bundle in (first, second):
        assert INTERNAL.findall(json.dumps(bundle)) == []


# Deidentified -------------------------------------------------------------------------------------------


def test_every_deidentified_field_is_a_structured_field_of_the_table() -> None:
    assert DEIDENTIFIED_FIELDS <= set(FIELD_CATEGORIES)
    never = {C.IDENTITY, C.CONTACT, C.CURRENT_LOCATION, C.ORIGIN_PLACE, C.THIRD_PARTY_INFO, C.ALLEGED_PERPETRATORS}
    assert {FIELD_CATEGORIES[f] for f in DEIDENTIFIED_FIELDS}.isdisjoint(never)


def test_deidentified_keeps_no_identifier_contact_place_or_free_text_and_coarsens_dates() -> None:
    everything = set(C)
    assert deidentify("people", "identity", IDENTITY, everything) == {"sex_gender": "female", "languages": ["ar"]}
    assert deidentify("people", "contact", {"channel": "phone", "value": "+249 91 234 5678"}, everything) == {}
    incident = {
        "date": {"start": "2023-05-17", "end": "2023-05-19"},
        "place": "the school in Tawila",
        "violation_types": ["sexual_violence"],
        "perpetrators": ["the commander of the unit"],
        "witnesses_description": "her neighbour Fatima",
    }
    assert deidentify("incidents", "details", incident, everything) == {
        "date": {"start": "2023-05", "end": "2023-05"},
        "violation_types": ["sexual_violence"],
    }
    details = {
        "place": "Camp 4, block 7",
        "checklist": {
            "private_setting": True,
            "completed_at": "2026-01-02T10:00:00+00:00",
            "completed_by": str(uuid.uuid4()),
            "justification": "she named the officer",
        },
        "reconfirmation": {"confirmed": True, "at": "2026-02-03T09:00:00Z", "consent_ids": [str(uuid.uuid4())]},
    }
    assert deidentify("interviews", "details", details, everything) == {
        "checklist": {"private_setting": True, "completed_at": "2026-01"},
        "reconfirmation": {"confirmed": True, "at": "2026-02"},
    }


def test_deidentified_still_keeps_only_allowed_categories() -> None:
    incident = {"date": {"start": "2023-05-17", "end": None}, "violation_types": ["torture"]}
    assert deidentify("incidents", "details", incident, {C.NARRATIVE_GENERAL}) == {
        "date": {"start": "2023-05", "end": None}
    }


def test_dates_coarsen_to_the_month_and_anything_else_becomes_nothing() -> None:
    assert to_month(date(2024, 3, 9)) == "2024-03"
    assert to_month(datetime(2024, 12, 31, 23, 59, tzinfo=UTC)) == "2024-12"
    assert to_month("2024-03-09T10:11:12.5+02:00") == "2024-03"
    assert to_month("2024-03") == "2024-03"
    assert to_month("the 9th of March") is None
    assert to_month(1710000000) is None


def test_each_level_shapes_a_document_and_aggregate_only_lets_none_out() -> None:
    ids, everything = OpaqueIds(), set(C)
    incident = {"date": {"start": "2023-05-17", "end": None}, "place": "the school", "violation_types": ["torture"]}
    named = for_level(L.NAMED_PUBLIC, "incidents", "details", incident, everything, ids)
    assert named == incident
    assert for_level(L.PSEUDONYMOUS, "incidents", "details", incident, everything, ids) == incident
    assert for_level(L.DEIDENTIFIED, "incidents", "details", incident, everything, ids) == {
        "date": {"start": "2023-05", "end": None},
        "violation_types": ["torture"],
    }
    assert for_level(L.AGGREGATE_ONLY, "incidents", "details", incident, everything, ids) is None
    completed_by = str(uuid.uuid4())
    details = {"checklist": {"completed_by": completed_by, "private_setting": False}}
    shaped = for_level(L.NAMED_PROTECTED, "interviews", "details", details, everything, ids)
    assert shaped == {"checklist": {"completed_by": ids.of(completed_by), "private_setting": False}}


def test_categories_may_come_as_the_plain_strings_a_request_stores() -> None:
    assert allowed_fields("people", "identity", IDENTITY, ["demographics"]) == {
        "sex_gender": "female",
        "languages": ["ar"],
    }
