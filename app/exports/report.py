"""The survivor's data report, and the disclosure ledger for auditors.

The report answers "where did my data go?" in the person's language (that of their latest participation
consent): what is kept about them by kind, each export they were in (the recipient's name, the purpose, the
date, the level, whether it went to proceedings, what was done to take it back), and what the organisation
still has to tell them. It names no staff member, no other person and no internal id, and is worded neutrally
like the consent receipt. Custodians on the person's case team, and ``testimony people report``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.consent import service as participation
from app.consent.receipts import Words
from app.core.db import db_now
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.exports import feedback
from app.exports.models import DisclosureEntry, DisclosureFeedback, ExportRequest, RecallNotice
from app.exports.report_schemas import DisclosureReport, LedgerRead, ReportExport, ReportTask
from app.exports.report_texts import REVIEWED, SOURCE, texts_for
from app.exports.schemas import FeedbackState, RecallState
from app.interviews.models import Attachment, Interview
from app.people.models import Person
from app.people.records import person_row
from app.recipients.models import Recipient
from app.retention.held import held

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def ledger(session: Session, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[LedgerRead]:
    """Every ledger row, oldest first: auditors prove what left without reading any of it."""
    stmt = policy.scope(principal, policy.Action.LEDGER_READ, select(DisclosureEntry))
    rows, cursor = keyset(session, stmt, DisclosureEntry.id, page, uuid.UUID, lambda r: r.id)
    return Page[LedgerRead](
        items=[
            LedgerRead(
                id=r.id,
                export_id=r.export_id,
                recipient_id=r.recipient_id,
                person_code=r.code,
                categories=r.categories,
                level=r.level,
                decided_at=r.decided_at,
                submitted_to_proceedings=r.submitted_to_proceedings,
            )
            for r in rows
        ],
        next_cursor=cursor,
    )


def report(
    session: Session, runtime: Runtime, principal: Principal, person_id: uuid.UUID, language: str | None = None
) -> DisclosureReport:
    person = person_row(session, principal, policy.Action.DISCLOSURE_REPORT, person_id)
    opened = participation.latest_opened(session, runtime, person)
    chosen, texts = texts_for(language or (opened.row.language if opened is not None else SOURCE))
    form = None if opened is None else runtime.forms.get(opened.row.form_id, opened.row.form_version)
    words = Words(session, form, chosen)
    return DisclosureReport(
        language=chosen,
        review="source" if chosen == SOURCE else "reviewed" if chosen in REVIEWED else "unreviewed",
        texts=dict(texts),
        date=db_now(session).date().isoformat(),
        held=_held(session, runtime, person, words, texts),
        exports=_exports(session, person, words, texts),
        pending=_pending(session, person, texts),
    )


def _held(session: Session, runtime: Runtime, person: Person, words: Words, texts: Mapping[str, str]) -> list[str]:
    """The kinds of data kept: the person's record by category, their interviews, and attachments by category."""
    kinds = [words.category(c) for c in sorted(held(session, runtime, person))]
    if session.scalar(select(exists().where(Interview.person_id == person.id))):
        kinds.append(texts["interviews"])
    stored = session.scalars(select(Attachment.category).where(Attachment.person_id == person.id).distinct())
    kinds += [words.category(c) for c in sorted(set(stored))]
    return kinds


def _exports(session: Session, person: Person, words: Words, texts: Mapping[str, str]) -> list[ReportExport]:
    rows = session.execute(
        select(DisclosureEntry, ExportRequest, Recipient, RecallNotice)
        .join(ExportRequest, ExportRequest.id == DisclosureEntry.export_id)
        .join(Recipient, Recipient.id == DisclosureEntry.recipient_id)
        .outerjoin(RecallNotice, RecallNotice.ledger_id == DisclosureEntry.id)
        .where(DisclosureEntry.person_id == person.id)
        .order_by(DisclosureEntry.decided_at, DisclosureEntry.id)
    ).all()
    return [
        ReportExport(
            recipient=recipient.names[0] if recipient.names else "",
            purpose=words.purpose(export.purpose),
            date=entry.decided_at.date().isoformat(),
            level=words.level(entry.level),
            categories=[words.category(c) for c in entry.categories],
            submitted_to_proceedings=entry.submitted_to_proceedings,
            recall=None if notice is None else _recall(notice, texts),
        )
        for entry, export, recipient, notice in rows
    ]


def _recall(notice: RecallNotice, texts: Mapping[str, str]) -> str:
    if notice.state == RecallState.ACKNOWLEDGED:
        return texts["recall_done"]
    if notice.state == RecallState.SENT and notice.sent_at is not None:
        return f"{texts['recall_sent']} {notice.sent_at.date().isoformat()}"
    return texts["recall_open"]


def _pending(session: Session, person: Person, texts: Mapping[str, str]) -> list[ReportTask]:
    tasks = session.scalars(
        select(DisclosureFeedback)
        .where(DisclosureFeedback.person_id == person.id, DisclosureFeedback.state == FeedbackState.OPEN)
        .order_by(DisclosureFeedback.due_on, DisclosureFeedback.id)
    )
    about = {feedback.APPROVAL: texts["pending_approval"], feedback.RECALL: texts["pending_recall"]}
    return [ReportTask(about=about[t.reason], by=t.due_on.isoformat()) for t in tasks]
