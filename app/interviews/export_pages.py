"""The interview rows of a page of people, for the export build: each kind read once, by an IN query.

``app.exports.material`` makes a record per person from their interviews, each interview's latest statement
version, its incidents, its reconfirmations (``reconfirm.source_from``) and its attachments. Read one person
at a time that was several queries a person, and a few more an interview; here a page costs a fixed number
of queries whatever its size. The rows are only read: each sealed value is still opened through its door
(``statement_for_export``, ``incident_for_export``, ``storage.attachment_facts``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.interviews.models import Attachment, Incident, Interview, InterviewReconfirmation, StatementVersion

_Row = TypeVar("_Row")


@dataclass(frozen=True)
class InterviewPage:
    """A page of people's interview rows, grouped: by person, then by interview, each list in id order."""

    interviews: dict[uuid.UUID, list[Interview]] = field(default_factory=dict)
    latest: dict[uuid.UUID, StatementVersion] = field(default_factory=dict)
    """Each interview's highest statement version."""
    incidents: dict[uuid.UUID, list[Incident]] = field(default_factory=dict)
    reconfirmations: dict[uuid.UUID, list[InterviewReconfirmation]] = field(default_factory=dict)
    attachments: dict[uuid.UUID, list[Attachment]] = field(default_factory=dict)

    def of(self, person_id: uuid.UUID) -> list[Interview]:
        return self.interviews.get(person_id, [])


def _grouped(rows: Sequence[_Row], key: str) -> dict[uuid.UUID, list[_Row]]:
    out: dict[uuid.UUID, list[_Row]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


def page_of(session: Session, person_ids: Sequence[uuid.UUID]) -> InterviewPage:
    """The interview rows of these people, by five queries."""
    if not person_ids:
        return InterviewPage()
    theirs = select(Interview.id).where(Interview.person_id.in_(person_ids))
    interviews = session.scalars(
        select(Interview).where(Interview.person_id.in_(person_ids)).order_by(Interview.id)
    ).all()  # fmt: skip
    highest = (
        select(StatementVersion.interview_id, func.max(StatementVersion.version).label("version"))
        .where(StatementVersion.interview_id.in_(theirs))
        .group_by(StatementVersion.interview_id)
        .subquery()
    )
    is_highest = and_(
        StatementVersion.interview_id == highest.c.interview_id, StatementVersion.version == highest.c.version
    )
    latest = session.scalars(select(StatementVersion).join(highest, is_highest)).all()
    incidents = session.scalars(select(Incident).where(Incident.interview_id.in_(theirs)).order_by(Incident.id)).all()
    reconfirmations = session.scalars(
        select(InterviewReconfirmation)
        .where(InterviewReconfirmation.interview_id.in_(theirs))
        .order_by(InterviewReconfirmation.id)
    ).all()
    attachments = session.scalars(
        select(Attachment).where(Attachment.interview_id.in_(theirs)).order_by(Attachment.id)
    ).all()  # fmt: skip
    return InterviewPage(
        interviews=_grouped(interviews, "person_id"),
        latest={s.interview_id: s for s in latest},
        incidents=_grouped(incidents, "interview_id"),
        reconfirmations=_grouped(reconfirmations, "interview_id"),
        attachments=_grouped(attachments, "interview_id"),
    )
