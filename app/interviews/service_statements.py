"""An interview's draft and its confirmed statement versions.

The draft is one sealed slot per interview, overwritten by every save (autosave), never versioned. A
statement version is the draft of a named revision, read back to the interviewee and confirmed by them;
it is sealed, never changed, and committed to in the audit log (custody). A correction is a new version
with a reason. Both need the interview under way or ended normally (in progress, paused or completed),
and the person's latest participation consent agreeing to notes.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

import rfc8785
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.consent import service as consent
from app.consent.vocabulary import ParticipationDecision
from app.core.db import Prepared, core, db_now, db_time, new_id
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, int_cursor, keyset
from app.interviews import custody, guides, records
from app.interviews.models import Interview, InterviewDraft, StatementVersion
from app.interviews.schemas_statements import (
    Answer,
    AnswerRecord,
    DraftContent,
    DraftRead,
    DraftWrite,
    GuideQuestionRead,
    GuideRead,
    GuideRecord,
    GuideRef,
    StatementConfirm,
    StatementContent,
    StatementRead,
    StatementSummary,
)
from app.interviews.service import person_of
from app.interviews.vocabulary import AnswerState, InterviewState
from app.keys.sealed import Place, open_json, seal_json
from app.people.records import hold_to_write

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

DRAFTS = "interview_drafts"
STATEMENTS = "statement_versions"
CANONICAL_FORMAT = "testimony-statement/1"
INT32 = 2**31 - 1
RECORDING = frozenset({InterviewState.IN_PROGRESS, InterviewState.PAUSED, InterviewState.COMPLETED})
"""The states in which notes are saved and statements confirmed: not before the interview starts, and not
after the interviewee stopped it (a statement needs their confirmation, which a stopped interview does not ask)."""


def _draft_place(row: InterviewDraft | _Slot) -> Place:
    return Place(DRAFTS, "content", row.interview_id, row.person_id, {"case": row.case_id.hex})


def _statement_place(row: StatementVersion) -> Place:
    binding = {"case": row.case_id.hex, "interview": row.interview_id.hex, "version": str(row.version)}
    return Place(STATEMENTS, "content", row.id, row.person_id, binding)


def _draft_content(session: Session, runtime: Runtime, row: InterviewDraft) -> DraftContent:
    """The named door of drafts: a documenter on the case team reads the draft, or confirms it as a statement."""
    return DraftContent.model_validate(open_json(session, runtime.keys, _draft_place(row), row.content))


def _statement_content(session: Session, runtime: Runtime, row: StatementVersion) -> StatementContent:
    """The named door of statements: a documenter on the case team reads a confirmed statement version."""
    return StatementContent.model_validate(open_json(session, runtime.keys, _statement_place(row), row.content))


def redaction_source(session: Session, runtime: Runtime, row: StatementVersion) -> StatementContent:
    """The statement version a documenter on the case team redacts, opened through the statements' door to
    check that the redaction only removes (app/interviews/service_redactions.py); never returned whole."""
    return _statement_content(session, runtime, row)


def statement_for_export(session: Session, runtime: Runtime, row: StatementVersion) -> StatementContent:
    """A confirmed statement version for the export build (app/exports/material.py), opened through the
    statements' door; the build keeps only the fields of the categories decide() allowed."""
    return _statement_content(session, runtime, row)


def canonical_bytes(version: int, content: StatementContent) -> bytes:
    """The bytes a statement version's custody commitment binds (docs/auditing.md): RFC 8785 JSON of its
    content fields. No id, person, case or time: the signed checkpoint fixes when it existed."""
    return rfc8785.dumps(
        {
            "format": CANONICAL_FORMAT,
            "version": version,
            "guide": None if content.guide is None else content.guide.model_dump(mode="json"),
            "read_back_in": content.read_back_in,
            "confirmed_by_interviewee": content.confirmed_by_interviewee,
            "reason": content.reason,
            "text": content.text,
            "answers": [a.model_dump(mode="json") for a in content.answers],
        }
    )


def require_recording(session: Session, runtime: Runtime, interview: Interview, what: str) -> None:
    """The interview is under way or completed, and the person's latest consent agrees to notes. The state is
    read again with the interview's row held (after the person's, always in this order), so nothing is
    added after the interviewee stopped it."""

    def check(state: InterviewState) -> None:
        if state not in RECORDING:
            raise Conflict(
                "%(doing)s is added only while the interview is in progress or paused, or once it is completed",
                fields=["state"],
                params={"doing": what},
                code="interview_state",
            )

    check(records.state_of(interview))
    consent.require(session, runtime, person_of(session, interview), ParticipationDecision.NOTES, doing=what)
    check(records.held_state(session, interview))


def _answers(answers: list[Answer], asked: frozenset[str] | None) -> list[AnswerRecord]:
    """Each question once, and one of the guide's when there is a guide; text with ``answered`` and only
    with it."""
    seen: set[str] = set()
    for i, answer in enumerate(answers):
        if asked is not None and answer.question not in asked:
            raise ValidationFailed("answer only the questions of the guide named", fields=[f"answers.{i}.question"])
        if answer.question in seen:
            raise ValidationFailed("answer each question once", fields=[f"answers.{i}.question"])
        seen.add(answer.question)
        if answer.state is AnswerState.ANSWERED and answer.text is None:
            raise ValidationFailed("an answered question needs its text", fields=[f"answers.{i}.text"])
        if answer.state is not AnswerState.ANSWERED and answer.text is not None:
            raise ValidationFailed(
                "only an answered question has text: a declined or unasked one is kept as its state",
                fields=[f"answers.{i}.text"],
            )
    return [AnswerRecord(question=a.question, state=a.state, text=a.text) for a in answers]


def _guide(runtime: Runtime, ref: GuideRef) -> guides.Guide:
    """The named guide, served (422 naming ``guide`` when there is no such published guide)."""
    try:
        return guides.served(runtime.guides_root, ref.id, ref.version, development=runtime.settings.development)
    except NotFound:
        raise ValidationFailed("no such published interview guide", fields=["guide"]) from None


def read_guide(runtime: Runtime, principal: Principal, guide_id: str, version: str) -> GuideRead:
    """A published interview guide with its questions in every language."""
    policy.require(principal, policy.Action.INTERVIEW_READ)
    guide = guides.served(runtime.guides_root, guide_id, version, development=runtime.settings.development)
    return GuideRead(
        id=guide.id,
        version=guide.version,
        review=guide.review,
        languages=list(guide.languages),
        sha256=guide.sha256,
        questions=[GuideQuestionRead(id=q.id, text=q.text) for q in guide.questions],
    )


def _draft_read(row: InterviewDraft | _Slot, content: DraftContent) -> DraftRead:
    return DraftRead(
        interview_id=row.interview_id,
        revision=row.revision,
        saved_at=row.saved_at,
        saved_by=row.saved_by,
        guide=content.guide,
        text=content.text,
        answers=content.answers,
    )


_DRAFTS = cast(Table, InterviewDraft.__table__)
_HELD_DRAFT = Prepared(
    lambda clock: (
        select(_DRAFTS.c.revision, clock).where(_DRAFTS.c.interview_id == bindparam("interview_id")).with_for_update()
    )
)
_SAVE_FIELDS = ("revision", "saved_by", "saved_at", "content")
_UPDATE_DRAFT = (
    update(_DRAFTS)
    .where(_DRAFTS.c.interview_id == bindparam("held_id"))
    .values({name: bindparam(name) for name in _SAVE_FIELDS})
)
_INSERT_DRAFT = insert(_DRAFTS)


@dataclass(frozen=True)
class _Slot:
    """The draft slot as saved: the row's columns but its content, as plain values."""

    interview_id: uuid.UUID
    person_id: uuid.UUID
    case_id: uuid.UUID
    revision: int
    saved_by: uuid.UUID | None
    saved_at: datetime


def save_draft(
    session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID, data: DraftWrite
) -> DraftRead:
    """Autosave: the draft slot is replaced whole, under a row lock, and its revision raised. No version is made.

    The slot is read and written by prebuilt Core statements on the session's connection, not as an ORM row
    (loading it and the unit of work's flush cost a save more than the statements); nothing else in the request
    holds the draft as an object."""
    interview = policy.load(session, principal, policy.Action.INTERVIEW_UPDATE, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    hold_to_write(session, interview.person_id)
    require_recording(session, runtime, interview, "a draft of working notes")
    guide = None if data.guide is None else _guide(runtime, data.guide)
    content = DraftContent(
        guide=None if guide is None else GuideRecord(id=guide.id, version=guide.version),
        text=data.text,
        answers=_answers(data.answers, None if guide is None else guide.question_ids),
    )
    connection = core(session)  # what the ORM holds is flushed first, as it was when the slot was an ORM row
    # The clock is read with the row held, in the same statement: saves are timed in the order they hold it.
    held = connection.execute(_HELD_DRAFT(session), {"interview_id": interview.id}).first()
    if held is not None and held[0] >= INT32:
        raise Conflict("this draft has been saved too many times", fields=["revision"])
    slot = _Slot(
        interview_id=interview.id,
        person_id=interview.person_id,
        case_id=interview.case_id,
        revision=1 if held is None else held[0] + 1,
        saved_by=principal.user_id,
        saved_at=db_now(session) if held is None else db_time(session, held[1]),
    )
    values = {name: getattr(slot, name) for name in _SAVE_FIELDS[:-1]}
    values["content"] = seal_json(session, runtime.keys, _draft_place(slot), content.model_dump(mode="json"))
    if held is None:
        # Two first saves at once: the second is a 409 naming interview_id (the primary key), and saved again.
        # In a savepoint of its own, as the primary key's violation is no unique constraint the 409 mapping knows.
        try:
            with session.begin_nested():
                connection.execute(
                    _INSERT_DRAFT,
                    {**values, "interview_id": slot.interview_id, "person_id": slot.person_id, "case_id": slot.case_id},
                )
        except IntegrityError:
            taken: dict[str, str | list[str]] = {"unique_field": "interview id"}
            raise Conflict("that %(unique_field)s is already taken", fields=["interview_id"], params=taken) from None
    else:
        connection.execute(_UPDATE_DRAFT, {**values, "held_id": slot.interview_id})
    return _draft_read(slot, content)


def read_draft(session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID) -> DraftRead:
    """A documenter on the case team reads the draft: an audited door to plaintext."""
    interview = policy.load(session, principal, policy.Action.INTERVIEW_READ, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    row = session.get(InterviewDraft, interview.id)
    if row is None:
        raise NotFound("no draft has been saved for this interview")
    return _draft_read(row, _draft_content(session, runtime, row))


def confirm_statement(
    session: Session, runtime: Runtime, principal: Principal, interview_id: uuid.UUID, data: StatementConfirm
) -> StatementRead:
    """The draft of the named revision becomes the next statement version, and its custody commitment enters
    the log in the same unit of work."""
    interview = policy.load(session, principal, policy.Action.STATEMENT_CONFIRM, Interview, interview_id)
    audit.touch(session, case_id=interview.case_id)
    hold_to_write(session, interview.person_id)
    require_recording(session, runtime, interview, "a statement")
    draft = session.get(InterviewDraft, interview.id)
    if draft is None:
        raise Conflict("save the draft before confirming it", fields=["draft_revision"], code="no_draft")
    if draft.revision != data.draft_revision:
        raise Conflict(
            "the draft changed since it was read back; read it back again and confirm that",
            fields=["draft_revision"],
            code="stale_revision",
        )
    last = session.scalars(
        select(StatementVersion)
        .where(StatementVersion.interview_id == interview.id)
        .order_by(StatementVersion.version.desc())
        .limit(1)
    ).first()
    expected = (0 if last is None else last.version) + 1
    if data.version != expected:
        raise Conflict("the next version of this statement is %(n)s", fields=["version"], params={"n": str(expected)})
    if expected == 1 and data.reason is not None:
        raise ValidationFailed("the first version corrects nothing: leave reason out", fields=["reason"])
    if expected > 1 and data.reason is None:
        raise ValidationFailed("a correction says why it corrects the version before", fields=["reason"])
    drafted = _draft_content(session, runtime, draft)
    if last is not None and _same_words(drafted, _statement_content(session, runtime, last)):
        raise Conflict(
            "the draft says what version %(n)s says: correct the draft, read it back, and confirm that",
            fields=["draft_revision"],
            params={"n": str(last.version)},
            code="draft_unchanged",
        )
    content = StatementContent(
        guide=drafted.guide,
        text=drafted.text,
        answers=drafted.answers,
        read_back_in=data.read_back_in,
        confirmed_by_interviewee=data.confirmed_by_interviewee,
        reason=data.reason,
    )
    if content.text is None and not content.answers:
        raise Conflict("the draft is empty: there is nothing to confirm", fields=["draft_revision"], code="no_draft")
    row = StatementVersion(
        id=new_id(),
        interview_id=interview.id,
        person_id=interview.person_id,
        case_id=interview.case_id,
        version=expected,
        draft_revision=draft.revision,
        confirmed_at=db_now(session),
        recorded_by=principal.user_id,
        content=b"",
    )
    row.content = seal_json(session, runtime.keys, _statement_place(row), content.model_dump(mode="json"))
    session.add(row)
    session.flush()  # a version taken meanwhile is a 409 naming `version`, before anything is committed to
    audit.touch(session, resource_id=row.id)
    digest = hashlib.sha256(canonical_bytes(row.version, content)).digest()
    custody.commit(
        session,
        runtime,
        person_id=row.person_id,
        case_id=row.case_id,
        kind=custody.Kind.STATEMENT_VERSION,
        record_id=row.id,
        digest=digest,
    )
    return _statement_read(row, content)


def _same_words(drafted: DraftContent, confirmed: StatementContent) -> bool:
    """A correction corrects something: the text, an answer or the guide differs from the version before."""
    return (drafted.guide, drafted.text, drafted.answers) == (confirmed.guide, confirmed.text, confirmed.answers)


def _statement_read(row: StatementVersion, content: StatementContent) -> StatementRead:
    return StatementRead.model_validate(
        {
            **_summary(row).model_dump(),
            **content.model_dump(),
            "sha256": hashlib.sha256(canonical_bytes(row.version, content)).hexdigest(),
        }
    )


def _summary(row: StatementVersion) -> StatementSummary:
    return StatementSummary(
        id=row.id,
        interview_id=row.interview_id,
        version=row.version,
        draft_revision=row.draft_revision,
        confirmed_at=row.confirmed_at,
        recorded_by=row.recorded_by,
    )


def list_statements(
    session: Session, principal: Principal, interview_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[StatementSummary]:
    """An interview's statement versions, oldest first: metadata only, nothing opened."""
    interview = policy.load(session, principal, policy.Action.INTERVIEW_READ, Interview, interview_id)
    audit.touch(session, resource_id=interview.id, case_id=interview.case_id)
    stmt = policy.scope(
        principal,
        policy.Action.INTERVIEW_READ,
        select(StatementVersion).where(StatementVersion.interview_id == interview.id),
        StatementVersion.case_id,
    )
    rows, cursor = keyset(session, stmt, StatementVersion.version, page, int_cursor(INT32), lambda r: r.version)
    return Page[StatementSummary](items=[_summary(r) for r in rows], next_cursor=cursor)


def read_statement(session: Session, runtime: Runtime, principal: Principal, statement_id: uuid.UUID) -> StatementRead:
    """A documenter on the case team reads a statement version: an audited door to plaintext."""
    row = policy.load(session, principal, policy.Action.INTERVIEW_READ, StatementVersion, statement_id)
    audit.touch(session, resource_id=row.id, case_id=row.case_id)
    return _statement_read(row, _statement_content(session, runtime, row))


def statement_bytes(session: Session, runtime: Runtime, principal: Principal, statement_id: uuid.UUID) -> bytes:
    """The canonical bytes of a statement version, which `testimony custody proof --statement-out` writes
    beside its proof so that the standalone verifier can check the statement end to end."""
    row = policy.load(session, principal, policy.Action.CUSTODY_PROOF, StatementVersion, statement_id)
    return canonical_bytes(row.version, _statement_content(session, runtime, row))
