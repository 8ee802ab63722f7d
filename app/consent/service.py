"""Participation consent: recorded before collection, versioned, sealed.

Every change is a new version; earlier versions stay. Age is computed from the
date of birth at each decision, so someone who turns 18 between two decisions
is an adult for the later one.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import changes, checks
from app.consent.checks import ADULT, age_on
from app.consent.models import ParticipationConsent
from app.consent.schemas import (
    FormRead,
    FormSummary,
    FormTextRead,
    Method,
    Minor,
    ParticipationCreate,
    ParticipationRead,
)
from app.consent.vocabulary import ConsentStatus, ParticipationDecision
from app.core.db import db_now, new_id
from app.core.errors import Conflict, Forbidden, ValidationFailed
from app.core.pagination import FIRST_PAGE, INT32, Page, PageRequest, in_memory, int_cursor, keyset
from app.keys.sealed import Place, open_json, seal_json
from app.people.models import Person
from app.people.records import hold_to_write, identity_of, person_row, person_to_write
from app.people.schemas import Identity

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

TABLE = "participation_consents"


def list_forms(runtime: Runtime, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[FormSummary]:
    policy.require(principal, policy.Action.FORMS_READ)
    items, cursor = in_memory(runtime.forms.summaries(), page)
    return Page[FormSummary](items=list(items), next_cursor=cursor)


def form_text(
    runtime: Runtime, principal: Principal, form_id: str, version: str, language: str, variant: str = "main"
) -> FormTextRead:
    policy.require(principal, policy.Action.FORMS_READ)
    return runtime.forms.text(form_id, version, language, variant)


def read_form(runtime: Runtime, principal: Principal, form_id: str, version: str) -> FormRead:
    policy.require(principal, policy.Action.FORMS_READ)
    return runtime.forms.whole(form_id, version)


_LATEST = (
    select(ParticipationConsent)
    .where(ParticipationConsent.person_id == bindparam("person_id"))
    .order_by(ParticipationConsent.version.desc())
    .limit(1)
)


def latest(session: Session, person_id: uuid.UUID) -> ParticipationConsent | None:
    return session.scalars(_LATEST, {"person_id": person_id}).first()


def latest_of_each(session: Session, person_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ParticipationConsent]:
    """``latest`` for many people in one query (each person's highest version)."""
    out: dict[uuid.UUID, ParticipationConsent] = {}
    for row in session.scalars(
        select(ParticipationConsent)
        .where(ParticipationConsent.person_id.in_(person_ids))
        .order_by(ParticipationConsent.person_id, ParticipationConsent.version.desc())
    ):
        out.setdefault(row.person_id, row)
    return out


@dataclass(frozen=True)
class Opened:
    """A participation consent version whose clear columns were checked against its sealed details."""

    row: ParticipationConsent
    details: dict[str, Any]


def latest_opened(session: Session, runtime: Runtime, person: Person) -> Opened | None:
    row = latest(session, person.id)
    return None if row is None else Opened(row, _details(session, runtime, person, row))


def opened_version(session: Session, runtime: Runtime, person: Person, row_id: uuid.UUID) -> Opened | None:
    """One version of the person's participation consent, checked against its sealed details."""
    row = session.get(ParticipationConsent, row_id)
    if row is None or row.person_id != person.id:
        return None
    return Opened(row, _details(session, runtime, person, row))


def allows(opened: Opened | None, decision: ParticipationDecision) -> bool:
    """Whether a consent version, as its sealed details confirm, agrees to this decision: given or renewed,
    with the decision stated yes. A deferred, refused or blocked record agrees to nothing."""
    if opened is None or ConsentStatus(opened.row.status) not in checks.AFFIRMATIVE:
        return False
    if opened.details.get("blocked_reason") is not None:
        return False
    decisions = opened.details.get("decisions") or {}
    return decisions.get(decision.value) is True


def require(
    session: Session,
    runtime: Runtime,
    person: Person,
    decision: ParticipationDecision,
    *more: ParticipationDecision,
    doing: str,
    fields: list[str] | None = None,
) -> Opened:
    """The person's latest participation consent, as its sealed details confirm, agrees to each decision;
    otherwise 403 ``consent_required`` naming the first one missing. Every use of a participation decision
    goes through here, so a refusal reads the same wherever it happens. The person's row is held until the
    transaction ends, so consent recorded meanwhile waits, and the write this guards is done under the
    decision read here."""
    hold_to_write(session, person.id)
    opened = latest_opened(session, runtime, person)
    for needed in (decision, *more):
        if opened is None or not allows(opened, needed):
            raise Forbidden(
                "%(doing)s needs the person's latest participation consent (given or renewed) to agree to "
                "%(decision)s; record consent that does first",
                fields=fields,
                params={"doing": doing, "decision": needed.value},
                code="consent_required",
                decision=needed.value,
            )
    if opened is None:  # unreachable: a missing record allows no decision
        raise AssertionError("consent checked without a record")
    return opened


def require_collection(
    session: Session, runtime: Runtime, person: Person, fields: list[str], identity: Identity | None
) -> None:
    """Identity and contact are stored only under a latest participation decision that allows collection,
    as its sealed details confirm; a child's identity only under one recorded with the minor section."""
    if not fields:
        return
    collecting = (ParticipationDecision.INTERVIEW_NOW, ParticipationDecision.STORAGE)
    opened = require(session, runtime, person, *collecting, doing="storing identity or contact", fields=fields)
    field = _minor_field(identity, opened.row.obtained_at.astimezone(UTC).date())
    if field is not None and not _recorded_for_a_minor(opened.details):
        raise Conflict(
            "this identity makes the person a minor when participation consent was given, and that consent was "
            "not recorded with the child's assent and a guardian's or social worker's consent: record it again",
            fields=[field],
            code="minor_consent_required",
        )


def _minor_field(identity: Identity | None, decided_on: date) -> str | None:
    """The identity field that makes the person a minor on the day of the decision, if any."""
    if identity is None:
        return None
    if identity.date_of_birth is not None:
        return "identity.date_of_birth" if age_on(identity.date_of_birth, decided_on) < ADULT else None
    # An age is stated today; a minor today was a minor at any earlier decision.
    if identity.age_years is not None and identity.age_years < ADULT:
        return "identity.age_years"
    return None


def _recorded_for_a_minor(details: dict[str, Any]) -> bool:
    """Whether the decision carries what a minor needs: the guardian text pinned, their assent, and a
    guardian's consent or, when the guardian has a conflict of interest, a social worker standing in."""
    if details.get("minor") is None or details.get("guardian_text_sha256") is None:
        return False
    minor = Minor.model_validate(details["minor"])
    if not minor.assent:
        return False
    if minor.guardian_conflict:
        return minor.social_worker is not None
    return minor.guardian is not None and minor.guardian.consent


def _age(session: Session, runtime: Runtime, person: Person, data: ParticipationCreate, on: date) -> int:
    identity = identity_of(session, runtime.keys, person)
    born = data.date_of_birth or (identity.date_of_birth if identity else None)
    if born is not None:
        return age_on(born, on)
    stated = data.age_years if data.age_years is not None else (identity.age_years if identity else None)
    if stated is None:
        raise ValidationFailed(
            "give a date of birth or an age, to know whether the person is a minor", fields=["date_of_birth"]
        )
    return stated


def record_participation(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, data: ParticipationCreate
) -> ParticipationRead:
    # A write that depends on the latest consent waits for this one, or this for it.
    person = person_to_write(session, principal, policy.Action.CONSENT_RECORD, person_id)
    form = checks.form_of(runtime.forms, data)
    now = db_now(session)
    obtained = data.obtained_at or now
    if not _recent(obtained, now):
        raise ValidationFailed(
            "obtained_at must be a time with a time zone, in the last %(n)s days",
            fields=["obtained_at"],
            params={"n": str(RECORDED_WITHIN.days)},
        )
    checks.read_after_written(form, data.language, obtained.astimezone(UTC).date())
    status = checks.status_of(data)
    age = _age(session, runtime, person, data, obtained.date())
    decisions = checks.decisions_of(data, form, status)
    asked = checks.teach_back_set(data, form)
    blocked = checks.check(data, form, status, decisions, age, obtained.date(), asked)
    allows = checks.allows_collection(status, decisions, blocked)
    version = (
        session.scalar(
            select(func.max(ParticipationConsent.version)).where(ParticipationConsent.person_id == person.id)
        )
        or 0
    ) + 1
    row_id = new_id()
    details = data.model_dump(
        mode="json", exclude={"form_id", "form_version", "language", "text_sha256", "method", "status", "obtained_at"}
    )
    # Only the decisions made are kept: one left open is absent, never a stored "no" or "yes".
    details |= {
        "decisions": decisions,
        "teach_back_set": asked,
        # What the person was read: the source text, or a translation signed off by then or not yet
        # (served in development mode only).
        "form_review": runtime.forms.review_on(form, data.language, obtained.astimezone(UTC).date()),
        "age_at_decision": age,
        "blocked_reason": blocked,
    }
    row = ParticipationConsent(
        id=row_id,
        person_id=person.id,
        version=version,
        status=status.value,
        allows_collection=allows,
        form_id=form.form_id,
        form_version=form.version,
        language=data.language,
        text_sha256=data.text_sha256,
        form_digest=form.digest,
        method=data.method.value,
        obtained_by=principal.user_id,
        obtained_at=obtained,
        recorded_at=now,
        details=b"",
    )
    row.details = seal_json(session, runtime.keys, place(person, row), details)
    session.add(row)
    session.flush()
    audit.touch(session, resource_id=row.id)
    changes.changed(session, runtime, person)  # a refusal of storage stops every use, past exports too
    return _read(session, runtime, person, row)


def place(person: Person, row: ParticipationConsent) -> Place:
    """The details are bound to the clear columns that decide access: the person's case, and the
    version, status, collection flag and time of this decision. Editing any of them in the database
    makes the details fail to open, and every decision based on them fails with it."""
    binding = {
        "allows_collection": "1" if row.allows_collection else "0",
        "case": person.case_id.hex,
        "obtained_at": _instant(row.obtained_at),
        "status": row.status,
        "version": str(row.version),
    }
    return Place(TABLE, "details", row.id, person.id, binding)


RECORDED_WITHIN = timedelta(days=365)
"""Consent taken on paper in the field is recorded later, but not years later: an older time is a mistake."""


def _recent(obtained: datetime, now: datetime) -> bool:
    if obtained.tzinfo is None:
        return False
    try:
        at = obtained.astimezone(UTC)
    except OverflowError:  # e.g. year 1 with a positive offset: no such instant in UTC
        return False
    return now - RECORDED_WITHIN <= at <= now + timedelta(minutes=5)


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _details(session: Session, runtime: Runtime, person: Person, row: ParticipationConsent) -> dict[str, Any]:
    details: dict[str, Any] = open_json(session, runtime.keys, place(person, row), row.details)
    return details


def code_word_matches(session: Session, runtime: Runtime, person: Person, given: str) -> bool:
    """Whether ``given`` is the withdrawal code word the person chose (in their latest participation consent
    that holds one). Compared in constant time, on digests of the folded words, so neither the word nor its
    length shows in the time taken; the word itself never leaves this function."""
    rows = session.scalars(
        select(ParticipationConsent)
        .where(ParticipationConsent.person_id == person.id)
        .order_by(ParticipationConsent.version.desc())
    )
    chosen = next((w for row in rows if (w := _details(session, runtime, person, row).get("withdrawal_code_word"))), "")
    same = hmac.compare_digest(_folded_digest(chosen), _folded_digest(given))
    return bool(chosen) and same


def drop_recontact(session: Session, runtime: Runtime, person: Person) -> int:
    """Retention: remove the re-contact details (channel, phone owner, safe times...) from every version of the
    person's participation consent, sealed again in place; the decisions and the withdrawal code word stay (only
    erasure removes the code word). The caller holds the person. Answers how many versions changed."""
    changed = 0
    for row in session.scalars(select(ParticipationConsent).where(ParticipationConsent.person_id == person.id)):
        details = _details(session, runtime, person, row)
        if details.get("recontact") is None:
            continue
        details["recontact"] = None
        row.details = seal_json(session, runtime.keys, place(person, row), details)
        changed += 1
    session.flush()
    return changed


def holds_recontact(session: Session, runtime: Runtime, person: Person) -> bool:
    """Whether any version of the person's participation consent still holds re-contact details."""
    rows = session.scalars(select(ParticipationConsent).where(ParticipationConsent.person_id == person.id))
    return any(_details(session, runtime, person, row).get("recontact") is not None for row in rows)


def _folded_digest(word: str) -> bytes:
    # Told aloud and typed by someone else: case, width and spacing do not matter.
    folded = " ".join(unicodedata.normalize("NFKC", word).casefold().split())
    return hashlib.sha256(folded.encode()).digest()


def reconsent_due(session: Session, opened: Opened | None, born: date | None) -> bool:
    """A decision taken as a child must be taken again by the adult, once they come of age."""
    if opened is None or born is None:
        return False
    age_then = opened.details.get("age_at_decision")
    return age_then is not None and age_then < ADULT <= age_on(born, db_now(session).date())


def _read(session: Session, runtime: Runtime, person: Person, row: ParticipationConsent) -> ParticipationRead:
    details = _details(session, runtime, person, row)
    # The code word is for verifying a withdrawal later; it is never read back.
    details["withdrawal_code_word"] = "set" if details.get("withdrawal_code_word") else None
    return ParticipationRead(
        id=row.id,
        person_id=row.person_id,
        version=row.version,
        status=ConsentStatus(row.status),
        allows_collection=row.allows_collection,
        blocked_reason=details.get("blocked_reason"),
        form_id=row.form_id,
        form_version=row.form_version,
        language=row.language,
        text_sha256=row.text_sha256,
        guardian_text_sha256=details.get("guardian_text_sha256"),
        method=Method(row.method),
        obtained_by=row.obtained_by,
        obtained_at=row.obtained_at,
        recorded_at=row.recorded_at,
        age_at_decision=details.get("age_at_decision"),
        details=details,
    )


def participation_history(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[ParticipationRead]:
    """Every version of a person's participation consent, oldest first."""
    person = person_row(session, principal, policy.Action.CONSENT_READ, person_id)
    audit.touch(session, resource_id=person.id)
    stmt = select(ParticipationConsent).where(ParticipationConsent.person_id == person.id)
    rows, cursor = keyset(session, stmt, ParticipationConsent.version, page, int_cursor(INT32), lambda r: r.version)
    return Page[ParticipationRead](items=[_read(session, runtime, person, r) for r in rows], next_cursor=cursor)
