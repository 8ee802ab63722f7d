"""Same-person groups: records a custodian decided, directly or through others, to be one person.

A "duplicate" decision merges the two people's groups, and every open review between members of
the merged group is closed as duplicate by inference, naming the decisions it rests on. A "not
duplicate" decision is never crossed: when one stands between the two groups, they stay apart and
every pair across them that nobody has decided is left open (or opened) for a custodian.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, or_, select, text
from sqlalchemy.orm import Session

from app.core.db import new_id
from app.people.models import DuplicateReview, SamePersonLink

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

OPEN, DUPLICATE, NOT_DUPLICATE = "open", "duplicate", "not_duplicate"
LOCK_CLASS = 0x0D0B  # the advisory-lock namespace of duplicate reviews


def serialise(session: Session) -> None:
    """Hold the duplicate-review lock until the transaction ends.

    Raising reviews, deciding them and merging groups read the groups and then write them; on
    PostgreSQL two workers doing that at once could link across a fresh "not duplicate" decision,
    or leave a review open between two people just linked. SQLite needs nothing: every
    transaction holds the write lock from BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(CAST(:c AS integer), 0)"), {"c": LOCK_CLASS})


def members(session: Session, person_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The person's group, the person alone when not linked to anyone."""
    group = session.scalar(select(SamePersonLink.group_id).where(SamePersonLink.person_id == person_id))
    if group is None:
        return frozenset({person_id})
    return frozenset(session.scalars(select(SamePersonLink.person_id).where(SamePersonLink.group_id == group)))


def _between(left: Iterable[uuid.UUID], right: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    left, right = list(left), list(right)
    return or_(
        and_(DuplicateReview.person_a.in_(left), DuplicateReview.person_b.in_(right)),
        and_(DuplicateReview.person_a.in_(right), DuplicateReview.person_b.in_(left)),
    )


Edges = dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]]


def decided_edges(session: Session, people: frozenset[uuid.UUID]) -> Edges:
    """Custodians' own "duplicate" decisions among these people (never inferred ones), as a graph."""
    rows = session.execute(
        select(DuplicateReview.id, DuplicateReview.person_a, DuplicateReview.person_b).where(
            DuplicateReview.status == DUPLICATE,
            DuplicateReview.inferred.is_(False),
            _between(people, people),
        )
    )
    edges: Edges = {}
    for review_id, a, b in rows:
        edges.setdefault(a, []).append((b, review_id))
        edges.setdefault(b, []).append((a, review_id))
    return edges


def path(edges: Edges, start: uuid.UUID, end: uuid.UUID) -> list[str]:
    """The decisions on a shortest chain of "duplicate" decisions from start to end, in order."""
    came_from: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == end:
            break
        for neighbour, review_id in sorted(edges.get(node, [])):
            if neighbour not in came_from:
                came_from[neighbour] = (node, review_id)
                queue.append(neighbour)
    steps: list[str] = []
    node = end
    while (step := came_from.get(node)) is not None:
        node, review_id = step
        steps.append(str(review_id))
    return steps[::-1]


def join(session: Session, decision: DuplicateReview, now: datetime) -> None:
    """After a "duplicate" decision: merge the two groups, or keep them apart across a "not duplicate"."""
    session.flush()
    left, right = members(session, decision.person_a), members(session, decision.person_b)
    blockers = sorted(
        str(review_id)
        for review_id in session.scalars(
            select(DuplicateReview.id).where(DuplicateReview.status == NOT_DUPLICATE, _between(left, right))
        )
    )
    if not blockers:
        _merge(session, left | right, now)
        _close_within(session, left | right, now)
        return
    decision.blocked_by = blockers
    edges = decided_edges(session, left | right)
    across = session.scalars(select(DuplicateReview).where(_between(left, right)))
    reviews = {(r.person_a, r.person_b): r for r in across}
    for p in sorted(left):
        for q in sorted(right):
            a, b = sorted((p, q))
            review = reviews.get((a, b))
            if review is None:
                review = DuplicateReview(
                    id=new_id(), person_a=a, person_b=b, created_at=now, status=OPEN, origin="blocked_link"
                )
                session.add(review)
            elif review.status != OPEN:
                continue
            review.linked_by = path(edges, a, b)
            review.blocked_by = blockers
    session.flush()


def _merge(session: Session, people: frozenset[uuid.UUID], now: datetime) -> None:
    rows = session.scalars(select(SamePersonLink).where(SamePersonLink.person_id.in_(people)))
    links = {link.person_id: link for link in rows}
    group = min((link.group_id for link in links.values()), default=None) or new_id()
    for person_id in sorted(people):
        link = links.get(person_id)
        if link is None:
            session.add(SamePersonLink(person_id=person_id, group_id=group, linked_at=now))
        elif link.group_id != group:
            link.group_id = group
            link.linked_at = now
    session.flush()


def _close_within(session: Session, group: frozenset[uuid.UUID], now: datetime) -> None:
    edges = decided_edges(session, group)
    still_open = select(DuplicateReview).where(DuplicateReview.status == OPEN, _between(group, group))
    for review in session.scalars(still_open):
        infer(review, edges, now)
    session.flush()


def infer(review: DuplicateReview, edges: Edges, now: datetime) -> None:
    """Close a review between two linked people as duplicate, naming the decisions that link them."""
    review.status = DUPLICATE
    review.inferred = True
    review.decided_by = None
    review.decided_at = now
    review.linked_by = path(edges, review.person_a, review.person_b)


_listeners: dict[str, Callable[..., None]] = {}


def listen(name: str, listener: Callable[[Session, Runtime, frozenset[uuid.UUID]], None]) -> None:
    """Be told when a "duplicate" decision merged two groups (exports: a recall when what left is now denied).

    Domains above people ``listen`` when imported (``app/models.py`` imports them), as with consent changes and
    erasure. A listener works in the decision's transaction, with every member of the merged group held
    (``app.people.records.hold``), and must not commit."""
    _listeners[name] = listener


def merged(session: Session, runtime: Runtime, group: frozenset[uuid.UUID]) -> None:
    """These people are now one group: tell every listener."""
    for name in sorted(_listeners):
        _listeners[name](session, runtime, group)
