"""The custodian's review of an export waiting for a decision, and the documenters' queue of redactions that
waiting exports need.

A custodian who may decide the export (``export.approve``, never the one who asked) reads what it would send if
built now (``narratives.outlook``): people per level and people excluded (exact, unlike the requester's
preview: the custodian sees the records anyway), the grants relied on (ids), each narrative that would leave
at ``deidentified`` as its redacted text, and the statements whose narrative would leave but have no
redaction yet. Reading it in a browser session records a review of each redaction shown, by that custodian,
for that export: approving needs one for every redaction in use. Read with an API token it records nothing
(``policy.records_export_review``): a script is not a custodian seeing the redacted text.

A documenter on the case team sees which interviews' latest statement versions a waiting export needs as a
de-identified narrative and that have no redaction yet: ids, the person's pseudonym code and the exports'
ids, never content.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.principal import Principal
from app.audit import service as audit
from app.core.errors import Conflict, Forbidden
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset
from app.exports import narratives
from app.exports.models import ExportRequest
from app.exports.narratives import NarrativeUse
from app.exports.schemas import (
    ExportReviewRead,
    ExportStatus,
    NarrativeReview,
    NarrativeWaiting,
    RedactionNeeded,
)
from app.exports.service import exact
from app.interviews import service_redactions
from app.interviews.models import StatementVersion
from app.people.models import Person

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

WAITING = (ExportStatus.REQUESTED, ExportStatus.AWAITING_SECOND_APPROVAL)


def _waiting(use: NarrativeUse) -> NarrativeWaiting:
    return NarrativeWaiting(
        interview_id=use.interview.id,
        statement_version_id=use.statement.id,
        statement_version=use.statement.version,
        person_code=use.person.code,
    )


def review_export(session: Session, runtime: Runtime, principal: Principal, export_id: uuid.UUID) -> ExportReviewRead:
    """What the export would send now, for a custodian who may decide it; in a browser session, records their
    review of each redaction."""
    row = policy.load(session, principal, policy.Action.EXPORT_APPROVE, ExportRequest, export_id)
    audit.touch(session, resource_id=row.id)
    if row.requester_id == principal.user_id:
        raise Forbidden("a custodian who did not ask for this export reviews it", code="same_person")
    status = ExportStatus(row.status)
    if status not in WAITING:
        raise Conflict(
            "this export is %(export_status)s: it is not waiting for a decision",
            code="not_waiting",
            params={"export_status": status.value},
        )
    assert principal.user_id is not None  # a custodian, never the system
    seen = narratives.outlook(session, runtime, row)
    shown: list[NarrativeReview] = []
    without: list[NarrativeWaiting] = []
    for use in seen.narratives:
        if use.redaction is None:
            without.append(_waiting(use))
            continue
        content = service_redactions.redaction_for_review(session, runtime, principal, use.redaction)
        shown.append(
            NarrativeReview(
                **_waiting(use).model_dump(),
                redaction_id=use.redaction.id,
                redaction_number=use.redaction.number,
                text=content.text,
                answers=content.answers,
            )
        )
    recorded = policy.records_export_review(principal)
    if recorded:
        narratives.record_reviews(session, row.id, principal.user_id, seen.redaction_ids())
    return ExportReviewRead(
        export_id=row.id,
        status=status,
        purpose=row.purpose,
        counts=exact(seen.levels, seen.excluded, seen.in_scope),
        grant_ids=sorted(seen.grant_ids),
        narratives=shown,
        without_redaction=without,
        review_recorded=recorded,
    )


def waiting_redactions(
    session: Session, runtime: Runtime, principal: Principal, page: PageRequest = FIRST_PAGE
) -> Page[RedactionNeeded]:
    """For the caller's cases, the latest statement versions waiting exports would send as a de-identified
    narrative and that have no redaction yet, oldest first."""
    policy.require(principal, policy.Action.REDACTION_READ)
    needed: defaultdict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    exports = session.scalars(
        select(ExportRequest).where(ExportRequest.status.in_(WAITING)).order_by(ExportRequest.id)
    ).all()  # fmt: skip
    for export in exports:
        if not narratives.may_send(export):
            continue
        for use in narratives.outlook(session, runtime, export).narratives:
            if use.redaction is None:
                needed[use.statement.id].append(export.id)
    stmt = policy.scope(
        principal,
        policy.Action.REDACTION_READ,
        select(StatementVersion).where(StatementVersion.id.in_(needed)),
        StatementVersion.case_id,
    )
    stmt = stmt.join(Person, Person.id == StatementVersion.person_id).add_columns(Person.code)
    rows, cursor = keyset(session, stmt, StatementVersion.id, page, uuid.UUID, lambda r: r[0].id)
    items = [
        RedactionNeeded(
            interview_id=s.interview_id,
            statement_version_id=s.id,
            statement_version=s.version,
            person_code=code,
            case_id=s.case_id,
            export_ids=needed[s.id],
        )
        for s, code in rows
    ]
    return Page[RedactionNeeded](items=items, next_cursor=cursor)
