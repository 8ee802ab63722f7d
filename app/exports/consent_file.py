"""A person's consent in a bundle: their ISO/IEC TS 27560 record, cut down to what the disclosure relied on.

For each current version of the person's use-consent records that holds a grant the ledger row names, the
27560 record is built as the API builds it (``app.consent.standard_record``) and filtered: only the grants
relied on, each naming only the categories that went; the personal data list of those categories; no
refusals, restricted recipients or parties (they are about others, or about what did not go); and the
events only at the named levels. At ``pseudonymous`` the person is named by their pseudonym, at
``deidentified`` by nothing. Every id left becomes the export's opaque id (``levels.pseudonymise``), so a
grant here has the same id as in the manifest's consent basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.consent import standard_record
from app.consent.registry import FormRegistry
from app.consent.vocabulary import DisclosureLevel
from app.exports import levels
from app.exports.levels import OpaqueIds
from app.people.models import Person


def consent_document(
    opened: Sequence[standard_record.Opened],
    forms: FormRegistry,
    person: Person,
    level: DisclosureLevel,
    grant_ids: Sequence[str],
    categories: Sequence[str],
    ids: OpaqueIds,
    pseudonym: str | None,
) -> dict[str, Any]:
    """The person's consent file: the filtered 27560 record of each current version whose grants were relied on."""
    relied = {g.lower() for g in grant_ids}
    went = set(categories)
    records = []
    for version in opened:  # the person's current versions (``app.consent.record_pages.opened_current``)
        built = standard_record.build(version, forms.get(version.row.form_id, version.row.form_version))
        doc = built.model_dump(mode="json")
        processing = []
        for item in doc["processing"]:
            if str(item["grant_id"]).lower() not in relied:
                continue
            item["pii_information"] = [t for t in item["pii_information"] if t["term"] in went]
            item["retention_period"] = {k: v for k, v in item["retention_period"].items() if k in went}
            processing.append(item)
        if not processing:
            continue
        metadata = doc["metadata"]
        metadata.pop("pii_principal_id", None)  # the person's code: named below, as the level allows
        kept: dict[str, Any] = {
            "metadata": metadata,
            "processing": processing,
            "personal_data": [p for p in doc["personal_data"] if p["pii_type"]["term"] in went],
        }
        if levels.is_named(level):
            kept["events"] = [_event(e, relied) for e in doc["events"]]
        records.append(kept)
    result: dict[str, Any] = levels.pseudonymise({"records": records}, ids)
    principal = pseudonym if pseudonym is not None else ids.of(person.id) if levels.is_named(level) else None
    if principal is not None:
        for kept_record in result["records"]:
            kept_record["metadata"]["pii_principal_id"] = principal
    return result


def _event(event: dict[str, Any], relied: set[str]) -> dict[str, Any]:
    named = event.get("grant_ids")
    if named is not None:
        event["grant_ids"] = [g for g in named if str(g).lower() in relied]
    return event
