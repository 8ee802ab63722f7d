"""Wire shapes of the recipient registry and the deny-list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import pycountry
from pydantic import AfterValidator, Field, StrictBool, StringConstraints

from app.confirmations.schemas import ConfirmationRead
from app.consent.vocabulary import RecipientClass
from app.core.schemas import Input, NonBlank, Output
from app.crypto.age import x25519_recipient

INTERNATIONAL = "international"
"""The jurisdiction of a body that answers to no one country (an international court, a UN body)."""

COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
"""ISO 3166-1 alpha-2, as the pycountry release installed carries it."""


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRIES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def _jurisdiction(value: str) -> str:
    if value.strip().lower() == INTERNATIONAL:
        return INTERNATIONAL
    try:
        return _country(value)
    except ValueError:
        raise ValueError(f'must be an ISO 3166-1 alpha-2 country code or "{INTERNATIONAL}"') from None


def _unique(values: list[str]) -> list[str]:
    if len({v.casefold() for v in values}) != len(values):
        raise ValueError("each name once")
    return values


def _age_key(value: str) -> str:
    return x25519_recipient(value)


CountryCode = Annotated[str, StringConstraints(max_length=8), AfterValidator(_country)]
Jurisdiction = Annotated[str, StringConstraints(max_length=16), AfterValidator(_jurisdiction)]
Name = Annotated[NonBlank, StringConstraints(strip_whitespace=True, max_length=200)]
Names = Annotated[list[Name], Field(min_length=1, max_length=20), AfterValidator(_unique)]
AgeRecipient = Annotated[str, StringConstraints(max_length=200), AfterValidator(_age_key)]
RecallContact = Annotated[NonBlank, StringConstraints(strip_whitespace=True, max_length=1000)]


class RecipientCreate(Input):
    recipient_class: RecipientClass
    jurisdiction: Jurisdiction
    """An ISO 3166-1 alpha-2 code (``AM``), or ``international``; ``national_authorities`` need a country."""
    names: Names
    """The name first, then the aliases it is known by."""
    age_recipient: AgeRecipient | None = None
    """An age X25519 recipient (``age1...``): bundles for it are encrypted to this key."""
    recall_contact: RecallContact
    """Whom to tell, and how, when a withdrawal touches something it received."""
    active: StrictBool = True
    """true or false: a string such as "yes" is refused, not read as true."""


class RecipientUpdate(Input):
    """Names, recall contact and whether it is active change at once; class, jurisdiction and
    age key (null removes it) wait for a second admin."""

    recipient_class: RecipientClass | None = None
    jurisdiction: Jurisdiction | None = None
    age_recipient: AgeRecipient | None = None
    names: Names | None = None
    recall_contact: RecallContact | None = None
    active: StrictBool | None = None


class RecipientRead(Output):
    id: uuid.UUID
    recipient_class: RecipientClass
    jurisdiction: str
    names: list[str]
    age_recipient: str | None
    recall_contact: str
    active: bool
    created_at: datetime
    updated_at: datetime


class RecipientChange(Output):
    """The recipient as it is now (none while its creation waits), and what waits for a second admin."""

    recipient: RecipientRead | None
    pending_confirmation: ConfirmationRead | None = None


class DenyListUpdate(Input):
    """The whole new deny-list: registered recipients and countries that must never receive anything."""

    recipient_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    jurisdictions: list[CountryCode] = Field(default_factory=list, max_length=300)


class DenyListRead(Output):
    version: int
    """0 before any list was set."""
    recipient_ids: list[uuid.UUID]
    jurisdictions: list[str]
    created_at: datetime | None
    requested_by: uuid.UUID | None
    confirmation_id: uuid.UUID | None


class DenyListChange(Output):
    deny_list: DenyListRead
    """The list in force: unchanged while the change waits for a second admin."""
    pending_confirmation: ConfirmationRead | None = None
