"""Admins make cases and their teams: the same services as /api/v1/cases. Adding a member waits for a
second admin (on the confirmations page); taking one off narrows access and happens at once."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.access import policy
from app.access.deps import RuntimeDep
from app.access.principal import Principal
from app.access.roles import Role
from app.accounts import service as accounts
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.cases import service as cases
from app.cases.schemas import CaseCreate, MemberAdd
from app.core.pagination import PageQuery, every_page
from app.web import admin, render
from app.web.deps import PagePrincipal, Posted
from app.web.errors import on_error
from app.web.forms import parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

CASES = "/admin/cases"
CASE = "/admin/cases/{case_id}"


def case_url(case_id: uuid.UUID, done: str = "") -> str:
    return admin.at(CASE.format(case_id=case_id), done)


def _cases(request: Request, session: Session, principal: Principal, page: PageQuery) -> dict[str, Any]:
    listed = cases.list_cases(session, principal, page)
    return admin.common(request, session, principal, CASES) | {
        "cases": listed.items,
        "next_cursor": listed.next_cursor,
        "manages": policy.allows(principal, policy.Action.CASE_CREATE),
        "values": {},
    }


@router.get(CASES)
@audited(AuditAction.CASE_LIST, "case")
def cases_page(request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery) -> Response:
    """Every case, and the form for a new one."""
    return render.page(request, "admin_cases.html", _cases(request, session, principal, page))


@router.post(CASES)
@audited(AuditAction.CASE_CREATE, "case")
def create_case(
    request: Request, principal: PagePrincipal, session: DbSession, page: PageQuery, values: Posted
) -> Response:
    kept = {k: values.get(k, "") for k in ("code", "title")}
    on_error(request, "admin_cases.html", **(_cases(request, session, principal, page) | {"values": kept}))
    data = parse(CaseCreate, code=kept["code"].strip(), title=kept["title"])
    case = cases.create_case(session, principal, data)
    return render.redirect(case_url(case.id, "created"))


def _team(request: Request, session: Session, principal: Principal, case_id: uuid.UUID) -> dict[str, Any]:
    members = every_page(lambda p: cases.list_members(session, principal, case_id, p))  # the role check first
    case = cases.get_case(session, principal, case_id)
    on_team = {m.user_id for m in members}
    # Those the team may take: active accounts of a role that joins teams (the service decides again).
    candidates = [
        u
        for u in every_page(lambda p: accounts.list_users(session, principal, p))
        if u.active and u.id not in on_team and policy.may_join_team(frozenset(Role(r) for r in u.roles))
    ]
    return admin.common(request, session, principal, case_url(case_id)) | {
        "case": case,
        "members": members,
        "candidates": candidates,
        "done": None,
    }


@router.get(CASE)
@audited(AuditAction.CASE_MEMBERS_READ, "case", id_param="case_id")
def case_page(
    request: Request, case_id: uuid.UUID, principal: PagePrincipal, session: DbSession, done: str = ""
) -> Response:
    """A case's team, with the forms to add and remove members."""
    context = _team(request, session, principal, case_id) | {"done": done or None}
    return render.page(request, "admin_case.html", context)


@router.post(f"{CASE}/members")
@audited(AuditAction.CASE_MEMBER_ADD, "user")
def add_member(
    request: Request,
    case_id: uuid.UUID,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    values: Posted,
) -> Response:
    """Asks a second admin to confirm the new member."""
    on_error(request, "admin_case.html", **_team(request, session, principal, case_id))
    data = parse(MemberAdd, user_id=values.get("user_id", ""))
    change = cases.add_member(session, runtime, principal, case_id, data)
    return render.redirect(case_url(case_id, "asked" if change.pending_confirmation else "added"))


@router.post(f"{CASE}/members/{{user_id}}/remove")
@audited(AuditAction.CASE_MEMBER_REMOVE, "user", id_param="user_id")
def remove_member(
    request: Request, case_id: uuid.UUID, user_id: uuid.UUID, principal: PagePrincipal, session: DbSession
) -> Response:
    on_error(request, "admin_case.html", **_team(request, session, principal, case_id))
    cases.remove_member(session, principal, case_id, user_id)
    return render.redirect(case_url(case_id, "removed"))
