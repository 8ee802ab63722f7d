"""The pages of one's own account: the forced password change, the second-factor enrolment, and the
step-up (the second factor proven again before an action that needs it fresh)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.access import auth
from app.access.deps import RuntimeDep, set_session_cookie
from app.access.schemas import PasswordChange, SecondFactor, TotpCode
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.errors import ValidationFailed
from app.web import render
from app.web.deps import PageClient, PagePrincipal
from app.web.errors import PASSWORD, SECOND_FACTOR, STEP_UP, local_path, on_error
from app.web.forms import blank_to_none, parse

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Field = Annotated[str, Form()]


@router.get(PASSWORD)
@audited(AuditAction.ME_READ, "user")
def password_page(request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep) -> Response:
    me = auth.me(session, runtime, principal)
    return render.page(request, "password.html", {"forced": me.must_change_password})


@router.post(PASSWORD)
@audited(AuditAction.PASSWORD_CHANGE, "user")
def change_password(
    request: Request,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    client: PageClient,
    current_password: Field = "",
    new_password: Field = "",
    repeat_password: Field = "",
) -> Response:
    on_error(request, "password.html", forced=principal.must_change_password)
    data = parse(PasswordChange, current_password=current_password, new_password=new_password)
    if new_password != repeat_password:
        raise ValidationFailed("The two new passwords are not the same.", fields=["repeat_password"])
    outcome = auth.change_password(session, runtime, principal, data, client)
    assert outcome.session_secret is not None
    response = render.redirect(SECOND_FACTOR if outcome.me.must_enrol_totp else "/")
    set_session_cookie(response, runtime, outcome.session_secret)
    return response


@router.get(SECOND_FACTOR)
@audited(AuditAction.ME_READ, "user")
def second_factor_page(request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep) -> Response:
    me = auth.me(session, runtime, principal)
    return render.page(request, "second_factor.html", {"enrolled": me.totp_enabled, "enrolment": None})


@router.post(SECOND_FACTOR)
@audited(AuditAction.TOTP_ENROL, "user")
def start_enrolment(request: Request, principal: PagePrincipal, session: DbSession, runtime: RuntimeDep) -> Response:
    on_error(request, "second_factor.html", enrolled=True, enrolment=None)
    enrolment = auth.start_totp(session, runtime, principal)
    return render.page(request, "second_factor.html", {"enrolled": False, "enrolment": enrolment})


@router.post(f"{SECOND_FACTOR}/confirm")
@audited(AuditAction.TOTP_CONFIRM, "user")
def confirm_enrolment(
    request: Request,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    client: PageClient,
    code: Field = "",
) -> Response:
    on_error(request, "second_factor.html", enrolled=False, enrolment=None, retry=True)
    data = parse(TotpCode, code=code)
    codes, secret = auth.confirm_totp(session, runtime, principal, data.code, client)
    if secret is not None:
        request.state.session_secret = secret  # the page's forms carry the renewed session's token
    request.state.principal = replace(principal, must_enrol_totp=False)  # enrolled: the menu is offered
    response = render.page(request, "recovery_codes.html", {"codes": codes})
    if secret is not None:
        set_session_cookie(response, runtime, secret)
    return response


@router.post(STEP_UP)
@audited(AuditAction.AUTH_STEP_UP, "session")
def step_up(
    request: Request,
    principal: PagePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    client: PageClient,
    back: Field = "/",
    totp: Field = "",
    recovery_code: Field = "",
) -> Response:
    """The code from the authenticator app (or a recovery code) again: the session is renewed and marked
    fresh for five minutes, and the admin is sent back to the page they came from."""
    target = local_path(back)
    on_error(request, "step_up.html", back=target)
    data = parse(SecondFactor, totp=blank_to_none(totp), recovery_code=blank_to_none(recovery_code))
    _at, secret = auth.step_up(session, runtime, principal, data, client)
    response = render.redirect(target)
    if secret is not None:
        set_session_cookie(response, runtime, secret)
    return response
