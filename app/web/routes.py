"""The pages of logging in and out, the start page and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.access import auth, policy
from app.access.deps import ClientDep, RuntimeDep, clear_session_cookie, session_cookie, set_session_cookie
from app.access.schemas import LoginRequest
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.errors import Forbidden
from app.web import i18n, render
from app.web.deps import PagePrincipal
from app.web.errors import LOGIN, PASSWORD, SECOND_FACTOR, local_path, on_error
from app.web.forms import blank_to_none, parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Field = Annotated[str, Form()]
OptionalField = Annotated[str, Form()]
LANGUAGE = "/language"
PUBLIC_PAGES = frozenset({LOGIN, LANGUAGE, render.STATIC_URL})
"""The pages (and assets) anyone may reach; every other page needs a session. Tests walk the routes."""


def _refuse_without_token(request: Request, token: str) -> None:
    if not render.token_matches(request, token):
        raise Forbidden("missing or wrong form token", code="csrf")


@router.get("/login")
def login_page(request: Request, ended: bool = False, out: bool = False) -> Response:
    shown = {"ended": ended or render.session_ended(request), "out": out, "username": ""}
    return render.page(request, "login.html", shown)


@router.post("/login")
@audited(AuditAction.AUTH_LOGIN, "user", failed_action=AuditAction.AUTH_LOGIN_FAILED)
def login(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    client: ClientDep,
    csrf_token: Field = "",
    username: Field = "",
    password: Field = "",
    totp: OptionalField = "",
    recovery_code: OptionalField = "",
) -> Response:
    _refuse_without_token(request, csrf_token)
    on_error(request, "login.html", ended=False, out=False, username=username[:64])
    data = parse(
        LoginRequest,
        username=username,
        password=password,
        totp=blank_to_none(totp),
        recovery_code=blank_to_none(recovery_code),
    )
    outcome = auth.login(session, runtime, data, client, session_cookie(request, runtime))
    assert outcome.session_secret is not None
    target = PASSWORD if outcome.me.must_change_password else SECOND_FACTOR if outcome.me.must_enrol_totp else "/"
    response = render.redirect(target)
    set_session_cookie(response, runtime, outcome.session_secret)
    render.clear_ended(response, request)
    return response


@router.post("/logout")
@audited(AuditAction.AUTH_LOGOUT, "session")
def logout(request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep) -> Response:
    auth.logout(session, principal)
    response = render.redirect(f"{LOGIN}?out=1")
    clear_session_cookie(response, runtime)
    render.clear_ended(response, request)
    return response


@router.post(LANGUAGE)
def choose_language(request: Request, csrf_token: Field = "", language: Field = "", back: Field = "/") -> Response:
    _refuse_without_token(request, csrf_token)
    response = render.redirect(local_path(back))
    render.set_language(response, request, i18n.choose(language))
    return response


@router.get("/")
@audited(AuditAction.ME_READ, "user")
def home(request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep) -> Response:
    me = auth.me(session, runtime, principal)
    if me.must_change_password:
        return render.redirect(PASSWORD)
    if me.must_enrol_totp:
        return render.redirect(SECOND_FACTOR)
    return render.page(
        request,
        "home.html",
        {"me": me, "reads_cases": policy.allows(principal, policy.Action.CASE_READ)},
    )
