"""Checking a use-consent record's grants, refusals, restrictions and retention before it is stored.

Each refusal is a 422 naming the field; nothing is stored. Terms must be ones the form version read to the
person declares; restrictions and refusals may name only registered recipients (or, for restrictions,
jurisdictions): free text never reaches a decision.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.consent.decision_inputs import INTERNATIONAL
from app.consent.forms import ConsentForm
from app.consent.grant_schemas import GrantContents, GrantIn, RefusalIn
from app.consent.registry import allowed
from app.consent.vocabulary import DataCategory, DisclosureLevel, RecipientClass, is_more_protective
from app.core.db import new_id
from app.core.errors import ValidationFailed
from app.recipients.models import Recipient
from app.recipients.schemas import COUNTRIES

NAMED = frozenset({DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED})
IDENTITY_CATEGORIES = frozenset({DataCategory.IDENTITY, DataCategory.CONTACT})
"""Categories that identify the person: a grant of them below a named level would be a contradiction."""
_YEARS = re.compile(r"P([1-9][0-9]?)Y")


@dataclass(frozen=True)
class Checked:
    """A record's decisions as they are sealed: plain JSON values, grant ids assigned."""

    grants: list[dict[str, Any]]
    refusals: list[dict[str, Any]]
    restrictions: dict[str, list[str]]
    retention: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "grants": self.grants,
            "refusals": self.refusals,
            "restrictions": self.restrictions,
            "retention": self.retention,
        }


def years(period: str) -> int:
    match = _YEARS.fullmatch(period)
    if match is None:
        raise ValueError(period)
    return int(match.group(1))


def shorter(a: str | None, b: str | None) -> str | None:
    """Of two retention periods, the shorter; when only one applies, that one."""
    if a is None or b is None:
        return a or b
    return a if years(a) <= years(b) else b


def check(
    session: Session,
    form: ConsentForm,
    data: GrantContents,
    now: datetime,
    earlier: list[dict[str, Any]] | None = None,
    withdrawn: Mapping[str, dict[str, Any]] | None = None,
) -> Checked:
    """The record's decisions, checked; ``earlier`` holds the grants of the version amended, if any, and
    ``withdrawn`` its chain's grants withdrawn by name, by id.

    A grant that names an earlier one continues it: unchanged, it keeps its id; lowered, it gets a new one.
    So a withdrawn grant may not be continued at all (its lowered copy would carry a new id no withdrawal
    names, and allow again what the person took back), each earlier grant is continued at most once, and a
    new grant of the same record may not give again what a withdrawn one gave (the same purpose and
    recipient class, a category in common): only a new record, from a new conversation, grants again.
    """
    withdrawn = withdrawn or {}
    previous = {g["id"]: g for g in earlier or []}
    grants: list[dict[str, Any]] = []
    named: set[str] = set()
    for i, grant in enumerate(data.grants):
        stored = _grant(form, grant, f"grants.{i}")
        if grant.id is not None:
            continued = str(grant.id)
            before = previous.get(continued)
            if before is None:
                message = (
                    "this id names no grant of the version amended; leave id out for a new grant"
                    if earlier is not None
                    else "this id names no grant of a new record; leave id out for a new grant"
                )
                raise ValidationFailed(message, fields=[f"grants.{i}.id"])
            if continued in withdrawn:
                raise ValidationFailed(
                    "this grant was withdrawn: leave it out of the new version (withdrawal cannot be undone here; "
                    "the person can grant again in a new consent record)",
                    fields=[f"grants.{i}.id"],
                )
            if continued in named:
                raise ValidationFailed("each earlier grant may be continued once", fields=[f"grants.{i}.id"])
            named.add(continued)
            if _same(before, stored):
                grants.append(before)
                continue
        else:
            _not_withdrawn(stored, withdrawn.values(), f"grants.{i}")
        _future(grant, now, f"grants.{i}.expires_at")
        grants.append({"id": str(new_id()), **stored})
    refusals = [_refusal(session, form, r, f"refusals.{i}") for i, r in enumerate(data.refusals)]
    return Checked(grants, refusals, restrictions(session, data.restrictions), _retention(form, data))


def _not_withdrawn(stored: dict[str, Any], withdrawn: Iterable[dict[str, Any]], at: str) -> None:
    for gone in withdrawn:
        if (
            gone["purpose"] == stored["purpose"]
            and gone["recipient_class"] == stored["recipient_class"]
            and set(gone["categories"]) & set(stored["categories"])
        ):
            raise ValidationFailed(
                "the person withdrew this use in this record; an amendment cannot give it again (a new consent "
                "record, from a new conversation, can)",
                fields=[at],
            )


def _same(before: dict[str, Any], stored: dict[str, Any]) -> bool:
    return {k: v for k, v in before.items() if k != "id"} == stored


def _declared(form: ConsentForm, field: str, value: str, terms: Any) -> None:
    if value not in terms:
        raise ValidationFailed(
            "the form version read does not declare this term; it declares: %(terms)s",
            fields=[field],
            params={"terms": allowed(terms)},
        )


def _grant(form: ConsentForm, grant: GrantIn, at: str) -> dict[str, Any]:
    _declared(form, f"{at}.purpose", grant.purpose, form.purposes)
    _declared(form, f"{at}.recipient_class", grant.recipient_class, form.recipient_classes)
    for j, category in enumerate(grant.categories):
        _declared(form, f"{at}.categories.{j}", category, form.data_categories)
    _declared(form, f"{at}.disclosure_level", grant.disclosure_level, form.disclosure_levels)
    identifying = sorted(c.value for c in IDENTITY_CATEGORIES if c in grant.categories)
    if identifying and grant.disclosure_level not in NAMED:
        raise ValidationFailed(
            "%(categories)s can be granted only at a named level (named_public or named_protected); "
            "grant the other categories in a grant of their own",
            fields=[f"{at}.disclosure_level"],
            params={"categories": identifying},
        )
    jurisdictions = None if grant.jurisdictions is None else sorted(set(grant.jurisdictions))
    if grant.recipient_class is RecipientClass.NATIONAL_AUTHORITIES:
        if jurisdictions is None:
            raise ValidationFailed(
                "a grant to national authorities names the countries allowed", fields=[f"{at}.jurisdictions"]
            )
        if INTERNATIONAL in jurisdictions:
            raise ValidationFailed(
                "national authorities belong to a country: name countries only", fields=[f"{at}.jurisdictions"]
            )
    return {
        "purpose": grant.purpose.value,
        "recipient_class": grant.recipient_class.value,
        "jurisdictions": jurisdictions,
        "categories": sorted({c.value for c in grant.categories}),
        "disclosure_level": grant.disclosure_level.value,
        "expires_at": None if grant.expires_at is None else _instant(grant.expires_at, f"{at}.expires_at"),
    }


def _instant(at: datetime, field: str) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed("give a time with a time zone", fields=[field])
    try:
        return at.astimezone(UTC).isoformat()
    except OverflowError:
        raise ValidationFailed("no such instant in UTC", fields=[field]) from None


def _future(grant: GrantIn, now: datetime, field: str) -> None:
    if grant.expires_at is not None and datetime.fromisoformat(_instant(grant.expires_at, field)) <= now:
        raise ValidationFailed("a grant expires in the future", fields=[field])


def _refusal(session: Session, form: ConsentForm, refusal: RefusalIn, at: str) -> dict[str, Any]:
    _declared(form, f"{at}.purpose", refusal.purpose, form.purposes)
    if (refusal.recipient_class is None) == (refusal.recipient_id is None):
        raise ValidationFailed(
            "a refusal names either a recipient class or one registered recipient", fields=[f"{at}.recipient_class"]
        )
    if refusal.recipient_class is not None:
        _declared(form, f"{at}.recipient_class", refusal.recipient_class, form.recipient_classes)
    if refusal.recipient_id is not None and session.get(Recipient, refusal.recipient_id) is None:
        raise ValidationFailed("no registered recipient has this id", fields=[f"{at}.recipient_id"])
    return {
        "purpose": refusal.purpose.value,
        "categories": sorted({c.value for c in refusal.categories}),
        "recipient_class": None if refusal.recipient_class is None else refusal.recipient_class.value,
        "recipient_id": None if refusal.recipient_id is None else str(refusal.recipient_id),
    }


def restrictions(session: Session, given: list[str]) -> dict[str, list[str]]:
    """Registered recipients' ids and jurisdictions; anything else, free text above all, is refused. A
    recipient made inactive may still be named: a restriction protects, and must outlive a recipient being
    switched off and on again."""
    ids: dict[uuid.UUID, str] = {}
    jurisdictions: set[str] = set()
    for i, value in enumerate(given):
        field = f"restrictions.{i}"
        if value == INTERNATIONAL or value in COUNTRIES:
            jurisdictions.add(value)
            continue
        try:
            ids[uuid.UUID(value)] = field
        except ValueError:
            raise ValidationFailed(
                "a restriction is a registered recipient's id or a jurisdiction (an ISO 3166-1 alpha-2 code in "
                'capitals, or "international"); free text cannot be enforced',
                fields=[field],
            ) from None
    if ids:
        known = set(session.scalars(select(Recipient.id).where(Recipient.id.in_(ids))))
        missing = [field for recipient_id, field in ids.items() if recipient_id not in known]
        if missing:
            raise ValidationFailed("no registered recipient has this id", fields=missing)
    return {"recipient_ids": sorted(str(i) for i in ids), "jurisdictions": sorted(jurisdictions)}


def _retention(form: ConsentForm, data: GrantContents) -> dict[str, str]:
    for category in data.retention:
        _declared(form, f"retention.{category.value}", category, form.data_categories)
    return {category.value: period for category, period in sorted(data.retention.items())}


def narrowing(before: dict[str, Any], after: Checked, data: GrantContents) -> None:
    """A narrowing only removes or lowers: every grant continues one of the version's (``id``) within it,
    and no refusal, restriction or shorter retention is dropped. 422 naming the field that widens."""
    grants = {g["id"]: g for g in before["grants"]}
    for i, grant in enumerate(data.grants):
        old = grants.get(str(grant.id)) if grant.id is not None else None
        if old is None:
            raise ValidationFailed(
                "a narrowing may only keep or lower the grants there are: name the grant this one narrows",
                fields=[f"grants.{i}.id"],
            )
        field = _widens(old, after.grants[i])
        if field is not None:
            raise ValidationFailed(
                "a narrowing may only remove or lower what the grant allows, never widen it",
                fields=[f"grants.{i}.{field}"],
            )
    if any(r not in after.refusals for r in before["refusals"]):
        raise ValidationFailed("a narrowing keeps every refusal", fields=["refusals"])
    for kind in ("recipient_ids", "jurisdictions"):
        if not set(before["restrictions"][kind]) <= set(after.restrictions[kind]):
            raise ValidationFailed("a narrowing keeps every restriction", fields=["restrictions"])
    for category, period in before["retention"].items():
        now = after.retention.get(category)
        if now is None or years(now) > years(period):
            raise ValidationFailed("a narrowing may only shorten a retention period", fields=[f"retention.{category}"])


def _widens(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The field in which ``new`` allows more than ``old``, if any."""
    if new["purpose"] != old["purpose"]:
        return "purpose"
    if new["recipient_class"] != old["recipient_class"]:
        return "recipient_class"
    if not set(new["categories"]) <= set(old["categories"]):
        return "categories"
    if is_more_protective(DisclosureLevel(old["disclosure_level"]), DisclosureLevel(new["disclosure_level"])):
        return "disclosure_level"
    if old["jurisdictions"] is not None and (
        new["jurisdictions"] is None or not set(new["jurisdictions"]) <= set(old["jurisdictions"])
    ):
        return "jurisdictions"
    if old["expires_at"] is not None and (
        new["expires_at"] is None
        or datetime.fromisoformat(new["expires_at"]) > datetime.fromisoformat(old["expires_at"])
    ):
        return "expires_at"
    return None
