"""Redactions of confirmed statement versions: what a de-identified export may send of a testimony.

A documenter on the case team prepares a redacted version of a confirmed statement version: its free text
and answers with parts removed, never anything added (app/interviews/redaction_text.py). It is sealed under
the person's data key, bound to the interview, the statement version, the case and its number, and never
changed; a later redaction of the same version supersedes it, and both are kept. What was removed is never
stored. A custodian reviews the redacted text (``review_text``), never the statement, before approving an
export that sends it. Preparing one needs what confirming a statement needs: the interview under way or
completed, and the person's latest participation consent agreeing to notes.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import Label, exists, select
from sqlalchemy.orm import Session, aliased

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.cases.models import Case
from app.core.db import db_now, new_id
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.interviews import redaction_text, service_statements
from app.interviews.models import Interview, Redaction, StatementVersion
from app.interviews.schemas_redactions import (
    RedactedAnswerRecord,
    RedactionContent,
    RedactionCreate,
    RedactionRead,
    RedactionSummary,
    RedactionWaiting,
)
from app.interviews.schemas_statements import StatementContent
from app.interviews.vocabulary import AnswerState, InterviewState
from app.keys.sealed import Place, open_json, seal_json
from app.people.records import hold_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

REDACTIONS = "redactions"
INT32 = 2**31 - 1


def _place(row: Redaction) -> Place:
    binding = {
        "case": row.case_id.hex,
        "interview": row.interview_id.hex,
        "statement": row.statement_version_id.hex,
        "number": str(row.number),
    }
    return Place(REDACTIONS, "content", row.id, row.person_id, binding)


def _redaction_content(session: Session, runtime: Runtime, row: Redaction) -> RedactionContent:
    """The named door of redactions: a documenter on the case team reads a redaction, or prepares the next
    (compared with the current one); a custodian reviews the redacted text before approving an export."""
    return RedactionContent.model_validate(open_json(session, runtime.keys, _place(row), row.content))


def redaction_for_export(session: Session, runtime: Runtime, row: Redaction) -> RedactionContent:
    """A redaction for the export build (app/exports/material.py), opened through the redactions' door: at
    ``deidentified`` the narrative goes only as the redaction the approval pinned, which the custodians reviewed."""
    return _redaction_content(session, runtime, row)


def redaction_for_review(session: Session, runtime: Runtime, principal: Principal, row: Redaction) -> RedactionContent:
    """The redacted text an export would send, for the custodian reviewing that export before deciding it
    (app/exports/review.py, which records the review): the statement itself stays closed."""
    policy.require(principal, policy.Action.REDACTION_REVIEW)
    return _redaction_content(session, runtime, row)


def _part(original: str, redacted: str, field: str) -> tuple[str, bool]:
    """The redacted part as stored, and whether it removes anything (422 naming ``field`` if it adds)."""
    outcome = redaction_text.compare(original, redacted)
    if outcome is redaction_text.Outcome.ADDS:
        raise ValidationFailed(
            "a redaction only removes: every word it keeps must be the statement's, in the statement's order, "
            "and a removed part may be replaced by %(marker)s",
            fields=[field],
            params={"marker": redaction_text.MARKER},
            code="redaction_adds_words",
        )
    if outcome is redaction_text.Outcome.UNMARKED:
        raise ValidationFailed(
            "put the marker %(marker)s where each removed part was: kept words that were not next "
            "to each other in the statement must not read as if they were",
            fields=[field],
            params={"marker": redaction_text.MARKER},
            code="redaction_gap_unmarked",
        )
    return redaction_text.normalise(redacted), outcome is redaction_text.Outcome.REMOVES


def _redacted(statement: StatementContent, data: RedactionCreate) -> RedactionContent:
    """The statement's narrative with the parts the request removes taken out; 422 naming the field for a
    redaction that adds, or does not follow the statement's parts, 409 for one that removes nothing."""
    if statement.text is None and data.text is not None:
        raise ValidationFailed("this statement has no free text to redact: leave text out", fields=["text"])
    if statement.text is not None and data.text is None:
        raise ValidationFailed(
            "give the statement's text redacted (the marker %(marker)s alone removes all of it)",
            fields=["text"],
            params={"marker": redaction_text.MARKER},
        )
    answered = [a for a in statement.answers if a.state is AnswerState.ANSWERED and a.text is not None]
    if [a.question for a in data.answers] != [a.question for a in answered]:
        raise ValidationFailed(
            "give each answered question of the statement once, in the statement's order", fields=["answers"]
        )
    removes = False
    text = None
    if statement.text is not None and data.text is not None:
        text, removed = _part(statement.text, data.text, "text")
        removes |= removed
    answers = []
    for i, (given, source) in enumerate(zip(data.answers, answered, strict=True)):
        kept, removed = _part(source.text or "", given.text, f"answers.{i}.text")
        removes |= removed
        answers.append(RedactedAnswerRecord(question=given.question, text=kept))
    if not removes:
        raise Conflict(
            "this redaction removes nothing from the statement: remove what must not leave, or send nothing",
            fields=["text" if statement.text is not None else "answers"],
            code="redaction_unchanged",
        )
    return RedactionContent(text=text, answers=answers)


def _statement_of(session: Session, interview: Interview, statement_id: uuid.UUID) -> StatementVersion:
    """A confirmed statement version of this interview (422 naming ``statement_version_id`` otherwise: unknown,
    another interview's, or not one of the confirmed versions, which is all a statement version is)."""
    row = session.get(StatementVersion, statement_id)
    if row is None or row.interview_id != interview.id:
        raise ValidationFailed(
            "no confirmed statement version of this interview has this id", fields=["statement_version_id"]
        )
    return row


def prepare_redaction(
    session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID, data: RedactionCreate
) -> RedactionRead:
    """The next redaction of a confirmed statement version of the interview, superseding any before it."""
    interview = policy.load(session, principal, policy.Action.REDACTION_PREPARE, Interview, interview_id)
    audit.touch(session, case_id=interview.case_id)
    hold_to_write(session, interview.person_id)
    statement = _statement_of(session, interview, data.statement_version_id)
    # Holds the interview's row until the end: two redactions of one interview are numbered one after the other.
    service_statements.require_recording(session, runtime, interview, "a redaction")
    content = _redacted(service_statements.redaction_source(session, runtime, statement), data)
    last = session.scalars(
        select(Redaction)
        .where(Redaction.statement_version_id == statement.id)
        .order_by(Redaction.number.desc())
        .limit(1)
    ).first()
    if last is not None and _redaction_content(session, runtime, last) == content:
        raise Conflict(
            "redaction %(n)s of this statement version already says this",
            params={"n": str(last.number)},
            fields=["text" if content.text is not None else "answers"],
            code="redaction_repeated",
        )
    number = 1 if last is None else last.number + 1
    if number > INT32:
        raise Conflict("this statement version has been redacted too many times", fields=["statement_version_id"])
    row = Redaction(
        id=new_id(),
        statement_version_id=statement.id,
        interview_id=interview.id,
        person_id=interview.person_id,
        case_id=interview.case_id,
        number=number,
        prepared_by=principal.user_id,
        prepared_at=db_now(session),
        content=b"",
    )
    row.content = seal_json(session, runtime.keys, _place(row), content.model_dump(mode="json"))
    session.add(row)
    session.flush()  # a number taken meanwhile is a 409 naming `number`
    audit.touch(session, resource_id=row.id)
    return _read(row, statement.version, False, content)


def _summary(row: Redaction, statement_version: int, superseded: bool) -> RedactionSummary:
    return RedactionSummary(
        id=row.id,
        interview_id=row.interview_id,
        statement_version_id=row.statement_version_id,
        statement_version=statement_version,
        number=row.number,
        superseded=superseded,
        prepared_by=row.prepared_by,
        prepared_at=row.prepared_at,
    )


def _read(row: Redaction, statement_version: int, superseded: bool, content: RedactionContent) -> RedactionRead:
    return RedactionRead(
        **_summary(row, statement_version, superseded).model_dump(), text=content.text, answers=content.answers
    )


def _later() -> Label[bool]:
    """Whether a later redaction of the same statement version exists (correlated with ``Redaction``)."""
    newer = aliased(Redaction)
    return (
        exists()
        .where(newer.statement_version_id == Redaction.statement_version_id, newer.number > Redaction.number)
        .label("superseded")
    )


def list_redactions(
    session: Session, principal: Principal, interview_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[RedactionSummary]:
    """An interview's redactions, oldest first, the superseded ones included: metadata only, nothing opened."""
    interview = policy.load(session, principal, policy.Action.REDACTION_READ, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    redactions = policy.scope(
        principal,
        policy.Action.REDACTION_READ,
        select(Redaction).where(Redaction.interview_id == interview.id),
        Redaction.case_id,
    )
    stmt = redactions.join(StatementVersion, StatementVersion.id == Redaction.statement_version_id).add_columns(
        StatementVersion.version, _later()
    )
    rows, cursor = keyset(session, stmt, Redaction.id, page, uuid.UUID, lambda r: r[0].id)
    return Page[RedactionSummary](items=[_summary(r, v, bool(s)) for r, v, s in rows], next_cursor=cursor)


def _opened(session: Session, runtime: Runtime, row: Redaction) -> RedactionRead:
    version = session.scalars(select(StatementVersion.version).where(StatementVersion.id == row.statement_version_id))
    newer = exists().where(Redaction.statement_version_id == row.statement_version_id, Redaction.number > row.number)
    superseded = session.scalar(select(newer))
    return _read(row, version.one(), bool(superseded), _redaction_content(session, runtime, row))


def read_redaction(session: Session, runtime: Runtime, principal: Principal, redaction_id: uuid.UUID) -> RedactionRead:
    """A documenter on the case team reads a redaction: an audited door to plaintext."""
    row = policy.load(session, principal, policy.Action.REDACTION_READ, Redaction, redaction_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    return _opened(session, runtime, row)


def review_text(session: Session, runtime: Runtime, principal: Principal, redaction_id: uuid.UUID) -> RedactionRead:
    """A custodian reads the redacted text an export would send, to approve it: an audited door to the redacted
    text only. The statement itself stays closed to the custodian."""
    row = policy.load(session, principal, policy.Action.REDACTION_REVIEW, Redaction, redaction_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    return _opened(session, runtime, row)


def redaction_queue(session: Session, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[RedactionWaiting]:
    """For the caller's cases, the latest confirmed statement version of each completed interview that has no
    redaction yet: ids, version and the case's code, nothing opened."""
    later = aliased(StatementVersion)
    corrected = exists().where(
        later.interview_id == StatementVersion.interview_id, later.version > StatementVersion.version
    )
    waiting = policy.scope(
        principal,
        policy.Action.REDACTION_READ,
        select(StatementVersion)
        .join(Interview, Interview.id == StatementVersion.interview_id)
        .where(Interview.state == InterviewState.COMPLETED.value)
        .where(~corrected)
        .where(~exists().where(Redaction.statement_version_id == StatementVersion.id)),
        StatementVersion.case_id,
    )
    stmt = waiting.join(Case, Case.id == StatementVersion.case_id).add_columns(Case.code)
    rows, cursor = keyset(session, stmt, StatementVersion.id, page, uuid.UUID, lambda r: r[0].id)
    items = [
        RedactionWaiting(
            statement_version_id=s.id,
            interview_id=s.interview_id,
            statement_version=s.version,
            case_id=s.case_id,
            case_code=code,
            confirmed_at=s.confirmed_at,
        )
        for s, code in rows
    ]
    return Page[RedactionWaiting](items=items, next_cursor=cursor)
