"""Cases and team membership. Adding a member needs a second admin."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import policy
from app.access.models import CaseMember, User
from app.access.principal import Principal
from app.access.roles import Role
from app.audit import service as audit
from app.cases.models import Case
from app.cases.schemas import CaseCreate, CaseRead, MemberAdd, MemberChange, MemberRead
from app.confirmations import service as confirmations
from app.confirmations.models import Confirmation
from app.core.db import db_now, new_id
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def team_member_problem(user: User | None) -> str | None:
    """Why this account cannot join a case team, or None."""
    if user is None or not user.active:
        return "no active user with that id"
    if not policy.may_join_team(frozenset(Role(r) for r in user.roles)):
        return "only documenters, legal and custodians join case teams"
    return None


def _member_subject(session: Session, row: Confirmation) -> confirmations.Subject:
    case = session.get(Case, row.target_id)
    return confirmations.Subject(user_id=uuid.UUID(str(row.payload["user_id"])), case_code=case.code if case else None)


def _apply_add_member(session: Session, row: Confirmation, now: datetime) -> str | None:
    user_id = uuid.UUID(str(row.payload["user_id"]))
    problem = team_member_problem(session.get(User, user_id))
    if problem:
        return problem
    if session.get(CaseMember, (row.target_id, user_id)) is None:
        session.add(CaseMember(case_id=row.target_id, user_id=user_id, added_at=now, added_by=row.requested_by))
    return None


ADD_MEMBER = confirmations.register(confirmations.Kind("case.add_member", _apply_add_member, _member_subject))


def create_case(session: Session, principal: Principal, data: CaseCreate) -> CaseRead:
    policy.require(principal, policy.Action.CASE_CREATE)
    if session.scalars(select(Case.id).where(Case.code == data.code)).first() is not None:
        raise Conflict("a case with that code exists", fields=["code"])
    case = Case(id=new_id(), code=data.code, title=data.title, created_at=db_now(session), created_by=principal.user_id)
    session.add(case)
    session.flush()
    audit.touch(session, resource_id=case.id, case_id=case.id)
    return CaseRead.model_validate(case)


def list_cases(session: Session, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[CaseRead]:
    """The cases the principal may see, by code."""
    stmt = policy.scope(principal, policy.Action.CASE_READ, select(Case), Case.id)
    rows, cursor = keyset(session, stmt, Case.code, page, str, lambda c: c.code)
    return Page[CaseRead](items=[CaseRead.model_validate(c) for c in rows], next_cursor=cursor)


def get_case(session: Session, principal: Principal, case_id: uuid.UUID) -> CaseRead:
    return CaseRead.model_validate(policy.load(session, principal, policy.Action.CASE_READ, Case, case_id))


def add_member(
    session: Session, runtime: Runtime, principal: Principal, case_id: uuid.UUID, data: MemberAdd
) -> MemberChange:
    """Ask for a second admin to confirm; the CLI operator adds at once."""
    # The case row is held, so one request per member waits even when two are asked at once.
    case = policy.load(session, principal, policy.Action.CASE_MEMBERS, Case, case_id, lock=True)
    policy.not_self(principal, data.user_id, "team memberships")
    audit.touch(session, resource_id=data.user_id)
    user = session.get(User, data.user_id)
    problem = team_member_problem(user)
    if problem or user is None:
        raise ValidationFailed(problem or "no such user", fields=["user_id"])
    if session.get(CaseMember, (case.id, user.id)) is not None:
        raise Conflict("already a member")
    if any(r.payload.get("user_id") == str(user.id) for r in confirmations.pending(session, ADD_MEMBER, case.id)):
        raise Conflict("a request to add this member is already waiting for a second admin")
    if policy.acts_at_once(principal):
        member = CaseMember(case_id=case.id, user_id=user.id, added_at=db_now(session), added_by=None)
        session.add(member)
        session.flush()
        return MemberChange(member=_member_read(member, user))
    asked = confirmations.request_confirmation(
        session, runtime, principal, ADD_MEMBER, case.id, {"user_id": str(user.id)}
    )
    return MemberChange(pending_confirmation=asked)


def remove_member(session: Session, principal: Principal, case_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Removal narrows access, so it needs no second person."""
    case = policy.load(session, principal, policy.Action.CASE_MEMBERS, Case, case_id)
    policy.not_self(principal, user_id, "team memberships")
    member = session.get(CaseMember, (case.id, user_id))
    if member is None:
        raise NotFound
    session.delete(member)
    session.flush()


def list_members(
    session: Session, principal: Principal, case_id: uuid.UUID, page: PageRequest = FIRST_PAGE
) -> Page[MemberRead]:
    """A case's team, by username."""
    case = policy.load(session, principal, policy.Action.CASE_MEMBERS, Case, case_id)
    stmt = select(CaseMember, User).join(User, User.id == CaseMember.user_id).where(CaseMember.case_id == case.id)
    rows, cursor = keyset(session, stmt, User.username, page, str, lambda row: row[1].username)
    return Page[MemberRead](items=[_member_read(member, user) for member, user in rows], next_cursor=cursor)


def _member_read(member: CaseMember, user: User) -> MemberRead:
    """Team lists show who people are, not only their ids."""
    return MemberRead(
        case_id=member.case_id,
        user_id=member.user_id,
        username=user.username,
        display_name=user.display_name,
        added_at=member.added_at,
    )


def case_id_by_code(session: Session, principal: Principal, code: str) -> uuid.UUID:
    stmt = policy.scope(principal, policy.Action.CASE_READ, select(Case.id).where(Case.code == code), Case.id)
    case_id = session.scalars(stmt).first()
    if case_id is None:
        raise NotFound(f"no case with code {code}")
    return case_id
