"""Reading a consent record in the standard structure, and the survivor's receipt: documenters on the
person's case team, audited like every read of a consent record.

The reference code is stored only as a keyed hash, so no page can print it by itself. It is told once, in
the answer that records the record; a printable receipt prints it when the caller sends it back in the
``Reference-Code`` header (never the URL) and it is this record's, and otherwise leaves a line to write it
on by hand. A person who chose no receipt gets none (409): they are told their code aloud when the record
is made.
"""

from __future__ import annotations

import hmac
import uuid
from typing import TYPE_CHECKING

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import reference, standard_record
from app.consent.grant_models import UseConsent
from app.consent.grant_schemas import GrantRead
from app.consent.receipt_texts import texts_for
from app.consent.record_schemas import ConsentRecord, Receipt, ReceiptPage, ReceiptRefusal, ReceiptUse
from app.consent.vocabulary import ReceiptOption
from app.core.errors import Conflict, ValidationFailed
from app.people.models import Person
from app.recipients.models import Recipient

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from app.consent.forms import ConsentForm
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

REFERENCE_HEADER = "Reference-Code"


def _opened(session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID) -> standard_record.Opened:
    row = policy.load(session, principal, policy.Action.CONSENT_READ, UseConsent, consent_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    person = session.get(Person, row.person_id)
    assert person is not None  # a foreign key
    return standard_record.open_version(session, runtime, person, row)


def _form(runtime: Runtime, row: UseConsent) -> ConsentForm | None:
    return runtime.forms.get(row.form_id, row.form_version)


def record(session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID) -> ConsentRecord:
    """The version in the structure of ISO/IEC TS 27560 (as W3C DPV maps it), with its chain's events."""
    opened = _opened(session, runtime, principal, consent_id)
    return standard_record.build(opened, _form(runtime, opened.row))


def receipt(session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID) -> Receipt:
    """The receipt's fields, whatever the person chose to take home: for tools, never handed out as such."""
    opened = _opened(session, runtime, principal, consent_id)
    return standard_record.receipt(opened, _form(runtime, opened.row))


def receipt_page(
    session: Session, runtime: Runtime, principal: Principal, consent_id: uuid.UUID, given_code: str | None
) -> ReceiptPage:
    """What the printable receipt shows, in the person's language: a card with the code alone, or their
    choices in plain words; 409 ``no_receipt`` when they chose to take nothing."""
    opened = _opened(session, runtime, principal, consent_id)
    if opened.read.receipt is ReceiptOption.NO_RECEIPT:
        raise Conflict(
            "the person chose to take nothing home: tell them their reference code aloud when the record is made "
            "(it is in that answer, and is never shown again)",
            fields=["receipt"],
            code="no_receipt",
        )
    code = None if given_code is None else _checked_code(session, runtime, opened.row, given_code)
    language, texts = texts_for(opened.row.language)
    form = _form(runtime, opened.row)
    words = Words(session, form, language)
    live = [g for g in opened.read.grants if not g.withdrawn]
    return ReceiptPage(
        language=language,
        kind="code_card" if opened.read.receipt is ReceiptOption.CODE_CARD else "printed_receipt",
        texts=dict(texts),
        date=opened.row.obtained_at.date().isoformat(),
        uses=[words.use(g, texts) for g in live],
        taken_back=[words.use(g, texts) for g in opened.read.grants if g.withdrawn],
        refusals=[
            ReceiptRefusal(
                purpose=words.purpose(r.purpose),
                recipients=words.recipient(r.recipient_class, r.recipient_id),
                categories=[words.category(c) for c in r.categories],
            )
            for r in opened.read.refusals
        ],
        reference_code=code,
    )


def _checked_code(session: Session, runtime: Runtime, row: UseConsent, given: str) -> str:
    """The code, grouped for printing, when it is this record's; 422 naming the header otherwise."""
    normalised = reference.normalise(given)
    first = session.get(UseConsent, row.chain_id)
    stored = None if first is None else first.reference_hash
    if normalised is None or stored is None:
        raise ValidationFailed("this is not the record's reference code", fields=[REFERENCE_HEADER])
    if not hmac.compare_digest(reference.code_hash(runtime, normalised).encode(), stored.encode()):
        raise ValidationFailed("this is not the record's reference code", fields=[REFERENCE_HEADER])
    return "-".join(normalised[i : i + reference.GROUP] for i in range(0, reference.LENGTH, reference.GROUP))


class Words:
    """The form's own labels, in the person's language (the source language where one is missing)."""

    def __init__(self, session: Session, form: ConsentForm | None, language: str) -> None:
        self.session = session
        self.form = form
        self.language = language

    def _label(self, labels: Mapping[str, str] | None, fallback: str) -> str:
        if labels is None:
            return fallback
        return labels.get(self.language) or labels.get("en") or fallback

    def purpose(self, purpose: str) -> str:
        entry = None if self.form is None else self.form.purposes.get(purpose)  # type: ignore[call-overload]
        return self._label(None if entry is None else entry.label, purpose)

    def category(self, category: str) -> str:
        labels = None if self.form is None else self.form.data_categories.get(category)  # type: ignore[call-overload]
        return self._label(labels, category)

    def recipient(self, recipient_class: str | None, recipient_id: uuid.UUID | None = None) -> str:
        if recipient_id is not None:
            found = self.session.get(Recipient, recipient_id)
            return found.names[0] if found is not None and found.names else str(recipient_id)
        if recipient_class is None:
            return ""
        labels = None if self.form is None else self.form.recipient_classes.get(recipient_class)  # type: ignore[call-overload]
        return self._label(labels, recipient_class)

    def level(self, level: str) -> str:
        labels = None if self.form is None else self.form.disclosure_levels.get(level)  # type: ignore[call-overload]
        return self._label(labels, level)

    def use(self, grant: GrantRead, texts: Mapping[str, str]) -> ReceiptUse:
        return ReceiptUse(
            purpose=self.purpose(grant.purpose),
            recipients=self.recipient(grant.recipient_class),
            jurisdictions=grant.jurisdictions,
            categories=[self.category(c) for c in grant.categories],
            level=self.level(grant.disclosure_level),
            until=texts["until_changed"] if grant.expires_at is None else grant.expires_at.date().isoformat(),
        )
