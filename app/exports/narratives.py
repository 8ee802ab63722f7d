"""The narratives an export would send at ``deidentified``, the redaction each would use, and the custodians'
review of them.

At ``deidentified`` a statement's narrative leaves only as a redaction that a documenter prepared and every
approving custodian reviewed. ``outlook`` decides each person in scope as the build does: for a person whose one
level would be ``deidentified`` with the redactions' narrative category allowed, each of their interviews is asked
of ``decide()`` again with the interview as its source, and the latest confirmed statement version of each one
that may send its narrative is listed with its latest redaction (None: it has none yet, so its narrative will
not leave). Approving needs the approving custodian's review of each of those redactions for this export
(``unreviewed``); the approval that lets the export go pins them (``pin``), and the build sends a pinned
redaction only (``pinned``), never a later one.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.consent import history
from app.consent.categories import category_of
from app.consent.decision import decide
from app.consent.decision_inputs import ConsentHistory, DenyList
from app.consent.decision_inputs import Recipient as RecipientEntry
from app.consent.vocabulary import DisclosureLevel
from app.core.db import db_now, new_id
from app.exports.decisions import PersonDisclosure, levels_up_to
from app.exports.models import ExportRequest, RedactionPin, RedactionReview
from app.exports.scope import people_in_scope
from app.exports.service import disclosures
from app.interviews import reconfirm
from app.interviews.models import Interview, Redaction, StatementVersion
from app.people.models import Person
from app.recipients.models import Recipient

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

NARRATIVE = frozenset(
    c.value for name in ("text", "answers") if (c := category_of("redactions", "content", name)) is not None
)
"""The categories a redaction's narrative is of: it leaves only when one of them is allowed."""


@dataclass(frozen=True)
class NarrativeUse:
    """A statement version whose narrative would leave at ``deidentified``, and the redaction it would use."""

    person: Person
    interview: Interview
    statement: StatementVersion
    redaction: Redaction | None


@dataclass
class Outlook:
    """What an export would send now: people per level, people excluded, the grants relied on, the narratives."""

    in_scope: int = 0
    excluded: int = 0
    levels: Counter[DisclosureLevel] = field(default_factory=Counter)
    grant_ids: set[str] = field(default_factory=set)
    narratives: list[NarrativeUse] = field(default_factory=list)

    def redaction_ids(self) -> list[uuid.UUID]:
        return sorted({u.redaction.id for u in self.narratives if u.redaction is not None})


def latest_statement(session: Session, interview_id: uuid.UUID) -> StatementVersion | None:
    newest = select(func.max(StatementVersion.version)).where(StatementVersion.interview_id == interview_id)
    return session.scalars(
        select(StatementVersion).where(
            StatementVersion.interview_id == interview_id, StatementVersion.version == newest.scalar_subquery()
        )
    ).first()


def latest_redaction(session: Session, statement_id: uuid.UUID) -> Redaction | None:
    newest = select(func.max(Redaction.number)).where(Redaction.statement_version_id == statement_id)
    return session.scalars(
        select(Redaction).where(
            Redaction.statement_version_id == statement_id, Redaction.number == newest.scalar_subquery()
        )
    ).first()


def may_send(export: ExportRequest) -> bool:
    """Whether the request could send a narrative at ``deidentified`` at all (a narrative category wanted, and
    ``deidentified`` within its maximum)."""
    maximum = DisclosureLevel(export.max_disclosure_level)
    return bool(NARRATIVE & set(export.categories)) and DisclosureLevel.DEIDENTIFIED in levels_up_to(maximum)


def _narratives(
    session: Session,
    export: ExportRequest,
    person: Person,
    hist: ConsentHistory,
    entry: RecipientEntry,
    outcome: PersonDisclosure,
    now: datetime,
    deny: DenyList,
) -> Iterable[NarrativeUse]:
    wanted = NARRATIVE & set(outcome.categories)
    if outcome.level is not DisclosureLevel.DEIDENTIFIED or not wanted:
        return
    level = DisclosureLevel.DEIDENTIFIED.value
    interviews = session.scalars(
        select(Interview).where(Interview.person_id == person.id).order_by(Interview.id)
    ).all()  # fmt: skip
    for interview in interviews:
        source = reconfirm.source_of(session, interview)
        if not any(decide(hist, export.purpose, entry, c, level, now, deny, source).allowed for c in sorted(wanted)):
            continue
        statement = latest_statement(session, interview.id)
        if statement is not None:
            yield NarrativeUse(person, interview, statement, latest_redaction(session, statement.id))


def outlook(session: Session, runtime: Runtime, export: ExportRequest) -> Outlook:
    """What the export would send if built now, against the grants as they stand."""
    recipient = session.get(Recipient, export.recipient_id)
    assert recipient is not None  # a foreign key
    entry = history.recipient_of(recipient)
    maximum = DisclosureLevel(export.max_disclosure_level)
    ids = list(
        session.scalars(
            people_in_scope(
                [uuid.UUID(c) for c in export.case_ids],
                None if export.person_ids is None else [uuid.UUID(p) for p in export.person_ids],
                export.interviewed_from,
                export.interviewed_to,
            )
        )
    )
    seen = Outlook(in_scope=len(ids))
    now, deny = db_now(session), history.deny_list_of(session)
    for person, hist, outcome in disclosures(
        session, runtime, ids, export.purpose, entry, export.categories, maximum
    ):  # fmt: skip
        if outcome is None:
            seen.excluded += 1
            continue
        seen.levels[outcome.level] += 1
        seen.grant_ids.update(outcome.grant_ids)
        seen.narratives.extend(_narratives(session, export, person, hist, entry, outcome, now, deny))
    return seen


def record_reviews(session: Session, export_id: uuid.UUID, user_id: uuid.UUID, redactions: Sequence[uuid.UUID]) -> None:
    """A custodian was shown these redactions' text for this export."""
    now = db_now(session)
    for redaction_id in redactions:
        session.add(
            RedactionReview(
                id=new_id(), export_id=export_id, redaction_id=redaction_id, reviewed_by=user_id, reviewed_at=now
            )
        )
    session.flush()


def unreviewed(
    session: Session, export_id: uuid.UUID, user_id: uuid.UUID, redactions: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of ``redactions`` this custodian has not been shown for this export."""
    seen = set(
        session.scalars(
            select(RedactionReview.redaction_id).where(
                RedactionReview.export_id == export_id, RedactionReview.reviewed_by == user_id
            )
        )
    )
    return sorted(r for r in set(redactions) if r not in seen)


def pin(session: Session, export_id: uuid.UUID, seen: Outlook) -> None:
    """Fix, for the approved export, the redaction each of its narratives sends."""
    now = db_now(session)
    for use in seen.narratives:
        if use.redaction is not None:
            session.add(
                RedactionPin(
                    id=new_id(),
                    export_id=export_id,
                    statement_version_id=use.statement.id,
                    redaction_id=use.redaction.id,
                    pinned_at=now,
                )
            )
    session.flush()


def pinned(session: Session, export_id: uuid.UUID, statement_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Redaction]:
    """The redactions the approval pinned for these statement versions of the export, by one query: statement
    version id -> its redaction. A version with none sends no narrative."""
    if not statement_ids:
        return {}
    rows = session.execute(
        select(RedactionPin.statement_version_id, Redaction)
        .join(RedactionPin, RedactionPin.redaction_id == Redaction.id)
        .where(RedactionPin.export_id == export_id, RedactionPin.statement_version_id.in_(statement_ids))
    ).all()
    return {statement_id: redaction for statement_id, redaction in rows}
