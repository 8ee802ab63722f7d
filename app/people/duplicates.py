"""The duplicate check: blind-index rows, review items for custodians, and their decisions.

A review says which name forms met and whether a year of birth was part of it, never the names.
The person who entered a record is never told of a match.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.models import User
from app.access.principal import Principal
from app.audit import service as audit
from app.cases.models import Case
from app.core.db import db_now, new_id
from app.core.errors import Conflict
from app.crypto.derive import Purpose as KeyPurpose
from app.people import links
from app.people.blind_index import blind_index, normalize_name
from app.people.models import BlindIndexEntry, DuplicateReview, Person
from app.people.records import hold
from app.people.schemas import (
    DecisionRef,
    DuplicateDecision,
    DuplicateReviewPage,
    DuplicateReviewRead,
    Identity,
    NameForm,
    NameMatch,
    ReviewPerson,
    ReviewStatus,
    UserRef,
)

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

MAX_PAGE = 200
FULL_NAME, OTHER_NAME = "full_name", "other_name"


@dataclass(frozen=True)
class _Key:
    key: str
    form: str
    number: int | None
    with_year: bool


def _index_keys(runtime: Runtime, identity: Identity) -> list[_Key]:
    key = runtime.derived_key(KeyPurpose.BLIND_INDEX)
    year = identity.date_of_birth.year if identity.date_of_birth else None
    forms: list[tuple[str, int | None, str]] = [(FULL_NAME, None, identity.full_name)]
    forms += [(OTHER_NAME, number, name) for number, name in enumerate(identity.other_names, start=1)]
    return [
        _Key(blind_index(key, name, year), form, number, year is not None)
        for form, number, name in forms
        if normalize_name(name)
    ]


def index(session: Session, runtime: Runtime, person: Person, identity: Identity) -> None:
    """Replace the person's blind-index rows; a match elsewhere raises a review item for custodians
    and says nothing to the person who entered the record."""
    for row in session.scalars(select(BlindIndexEntry).where(BlindIndexEntry.person_id == person.id)):
        session.delete(row)
    keys = _index_keys(runtime, identity)
    if not keys:
        session.flush()
        return
    # Before the rows go in and the matches are read: a record entered at the same moment elsewhere
    # is then seen, and the groups read below cannot change underneath.
    links.serialise(session)
    for k in keys:
        session.add(
            BlindIndexEntry(
                id=new_id(),
                person_id=person.id,
                key=k.key,
                name_form=k.form,
                name_number=k.number,
                with_year=k.with_year,
            )
        )
    session.flush()
    found = session.scalars(
        select(BlindIndexEntry).where(
            BlindIndexEntry.key.in_({k.key for k in keys}), BlindIndexEntry.person_id != person.id
        )
    ).all()
    matches: dict[uuid.UUID, set[tuple[object, ...]]] = {}
    for other in found:
        for mine in (k for k in keys if k.key == other.key):
            theirs = (other.name_form, other.name_number)
            ours = (mine.form, mine.number)
            a_side, b_side = (ours, theirs) if person.id < other.person_id else (theirs, ours)
            matches.setdefault(other.person_id, set()).add((*a_side, *b_side, mine.with_year))
    now = db_now(session)
    for other_id, found_forms in matches.items():
        a, b = sorted((person.id, other_id))
        exists = session.scalars(
            select(DuplicateReview.id).where(DuplicateReview.person_a == a, DuplicateReview.person_b == b)
        ).first()
        if exists is not None:
            continue  # a review keeps what matched when it was raised
        review = DuplicateReview(
            id=new_id(), person_a=a, person_b=b, created_at=now, status=links.OPEN, matches=_stored(found_forms)
        )
        group = links.members(session, a)
        if b in group:
            links.infer(review, links.decided_edges(session, group), now)
        session.add(review)
    session.flush()


def _stored(found: set[tuple[object, ...]]) -> list[dict[str, object]]:
    keys = ("a_form", "a_number", "b_form", "b_number", "same_year")
    rows = [dict(zip(keys, match, strict=True)) for match in found]
    return sorted(rows, key=lambda m: tuple(str(m[k]) for k in keys))


def list_reviews(
    session: Session,
    principal: Principal,
    *,
    status: ReviewStatus | None = None,
    cursor: uuid.UUID | None = None,
    limit: int = 50,
) -> DuplicateReviewPage:
    """Reviews oldest first (ids are time-ordered); ``cursor`` is the ``next_cursor`` of the previous page."""
    policy.require(principal, policy.Action.DUPLICATE_REVIEW)
    limit = max(1, min(limit, MAX_PAGE))
    stmt = select(DuplicateReview).order_by(DuplicateReview.id)
    if status is not None:
        stmt = stmt.where(DuplicateReview.status == status.value)
    if cursor is not None:
        stmt = stmt.where(DuplicateReview.id > cursor)
    rows = session.scalars(stmt.limit(limit + 1)).all()
    page = list(rows[:limit])
    return DuplicateReviewPage(reviews=_reads(session, page), next_cursor=page[-1].id if len(rows) > limit else None)


def decide(
    session: Session, runtime: Runtime, principal: Principal, review_id: uuid.UUID, data: DuplicateDecision
) -> DuplicateReviewRead:
    """A custodian's decision stands: a second one, even the same, is refused.

    A "duplicate" decision that merges two groups gives each member the other records' refusals and
    restrictions (``app.consent.history``), which can deny what an export already carried: the listeners of
    ``links.merged`` are told, with every member held. The people are held before the duplicate-review lock,
    as storing an identity holds the person before raising reviews, so the two never wait on each other."""
    policy.require(principal, policy.Action.DUPLICATE_REVIEW)  # before any lock is taken
    held = _hold_groups(session, review_id) if data.decision == links.DUPLICATE else frozenset()
    links.serialise(session)  # before the row lock, in the order raising reviews takes them
    row = policy.load(session, principal, policy.Action.DUPLICATE_REVIEW, DuplicateReview, review_id, lock=True)
    audit.touch(session, resource_id=row.id)
    if row.status != links.OPEN:
        raise Conflict("this review was already decided (%(review_status)s)", params={"review_status": row.status})
    now = db_now(session)
    row.status = data.decision
    row.decided_by = principal.user_id
    row.decided_at = now
    if data.decision == links.DUPLICATE:
        links.join(session, row, now)
        group = links.members(session, row.person_a)
        if row.person_b in group:  # merged (not kept apart by a "not duplicate" decision)
            for person in _people(session, group - held):  # joined the groups since they were held: rare
                hold(session, person)
            links.merged(session, runtime, group)
    session.flush()
    return _reads(session, [row])[0]


def _people(session: Session, ids: Iterable[uuid.UUID]) -> list[Person]:
    return [p for p in (session.get(Person, i) for i in sorted(ids)) if p is not None]


def _hold_groups(session: Session, review_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Hold, in id order, every member of the two groups the review would merge (as they stand now)."""
    review = session.get(DuplicateReview, review_id)
    if review is None:
        return frozenset()  # policy.load answers 404 next
    group = links.members(session, review.person_a) | links.members(session, review.person_b)
    for person in _people(session, group):
        hold(session, person)
    return group


def _reads(session: Session, rows: list[DuplicateReview]) -> list[DuplicateReviewRead]:
    """Review items with codes, case codes and who decided, loaded in a few queries for a whole page."""
    ref_ids = {uuid.UUID(i) for r in rows for i in (*(r.linked_by or ()), *(r.blocked_by or ()))}
    refs = {r.id: r for r in session.scalars(select(DuplicateReview).where(DuplicateReview.id.in_(ref_ids)))}
    everything = [*rows, *refs.values()]
    person_ids = {p for r in everything for p in (r.person_a, r.person_b)}
    codes = select(Person.id, Person.code, Case.code).join(Case, Case.id == Person.case_id)
    people = {
        pid: ReviewPerson(code=code, case_code=case_code)
        for pid, code, case_code in session.execute(codes.where(Person.id.in_(person_ids)))
    }
    user_ids = {r.decided_by for r in everything if r.decided_by is not None}
    users = {
        u.id: UserRef(id=u.id, username=u.username, display_name=u.display_name)
        for u in session.scalars(select(User).where(User.id.in_(user_ids)))
    }

    def decision(ref_id: str) -> DecisionRef | None:
        ref = refs.get(uuid.UUID(ref_id))
        if ref is None:  # its people were erased
            return None
        return DecisionRef(
            review_id=ref.id,
            person_a_code=people[ref.person_a].code,
            person_b_code=people[ref.person_b].code,
            status=ReviewStatus(ref.status),
            decided_by=users.get(ref.decided_by) if ref.decided_by else None,
            decided_at=ref.decided_at,
        )

    def decisions(ids: list[str] | None) -> list[DecisionRef]:
        return [d for d in map(decision, ids or ()) if d is not None]

    out = []
    for r in rows:
        matches = [_match(m) for m in r.matches or ()]
        out.append(
            DuplicateReviewRead(
                id=r.id,
                person_a=people[r.person_a],
                person_b=people[r.person_b],
                created_at=r.created_at,
                origin=r.origin,
                matches=matches,
                reason=_reason(r.origin, matches),
                status=ReviewStatus(r.status),
                inferred=r.inferred,
                decided_by=users.get(r.decided_by) if r.decided_by else None,
                decided_at=r.decided_at,
                linked_by=decisions(r.linked_by),
                blocked_by=decisions(r.blocked_by),
            )
        )
    return out


def _form(form: object, number: object) -> NameForm:
    if form == FULL_NAME:
        return NameForm(form="full_name", number=None)
    if form == OTHER_NAME and isinstance(number, int):
        return NameForm(form="other_name", number=number)
    return NameForm(form="unknown", number=None)  # indexed before name forms were kept


def _match(stored: dict[str, object]) -> NameMatch:
    return NameMatch(
        a=_form(stored["a_form"], stored["a_number"]),
        b=_form(stored["b_form"], stored["b_number"]),
        same_birth_year=bool(stored["same_year"]),
    )


def _words(form: NameForm, side: str) -> str:
    if form.form == "full_name":
        return f"full name of {side}"
    if form.form == "other_name":
        return f"other name #{form.number} of {side}"
    return f"a name of {side}"


def _reason(origin: str, matches: list[NameMatch]) -> str:
    if origin == "blocked_link":
        return "linked through duplicate decisions, kept apart by a not-duplicate decision"
    if not matches:
        return "name and birth year matched (raised before the forms that matched were recorded)"
    year = {True: "same birth year", False: "no birth year on either"}
    return "; ".join(f"{_words(m.a, 'A')} = {_words(m.b, 'B')}, {year[m.same_birth_year]}" for m in matches)
