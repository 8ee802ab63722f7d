"""HTTP adapters for logging in and out, one's own account, second factors and API tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from app.access import auth, tokens
from app.access.credentials import csrf_token
from app.access.deps import (
    ClientDep,
    CurrentPrincipal,
    RuntimeDep,
    clear_session_cookie,
    session_cookie,
    set_session_cookie,
)
from app.access.schemas import (
    LoginRequest,
    LoginResult,
    MeRead,
    PasswordChange,
    RecoveryCodes,
    SecondFactor,
    StepUpResult,
    TokenCreate,
    TokenCreated,
    TokenRead,
    TotpCode,
    TotpEnrolment,
)
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute, audited
from app.audit.vocabulary import AuditAction
from app.core.openapi import Problem
from app.core.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute)


def _rotated(response: Response, runtime: RuntimeDep, secret: str | None) -> str | None:
    if secret is None:
        return None
    set_session_cookie(response, runtime, secret)
    return csrf_token(secret)


@router.post(
    "/auth/login",
    response_model=LoginResult,
    tags=["auth"],
    responses={401: {"model": Problem, "description": "The username, password or second-factor code is not right"}},
)
@audited(AuditAction.AUTH_LOGIN, "user", failed_action=AuditAction.AUTH_LOGIN_FAILED)
def login(
    data: LoginRequest, request: Request, response: Response, session: DbSession, runtime: RuntimeDep, client: ClientDep
) -> LoginResult:
    outcome = auth.login(session, runtime, data, client, session_cookie(request, runtime))
    if outcome.session_secret is not None:
        set_session_cookie(response, runtime, outcome.session_secret)
    return LoginResult(user=outcome.me, token=outcome.token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
@audited(AuditAction.AUTH_LOGOUT, "session")
def logout(principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, response: Response) -> Response:
    auth.logout(session, principal)
    clear_session_cookie(response, runtime)
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


@router.post("/auth/step-up", response_model=StepUpResult, tags=["auth"])
@audited(AuditAction.AUTH_STEP_UP, "session")
def step_up(
    data: SecondFactor,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    client: ClientDep,
    response: Response,
) -> StepUpResult:
    at, secret = auth.step_up(session, runtime, principal, data, client)
    return StepUpResult(second_factor_at=at, csrf_token=_rotated(response, runtime, secret))


@router.get("/me", response_model=MeRead, tags=["me"])
@audited(AuditAction.ME_READ, "user")
def read_me(principal: CurrentPrincipal, request: Request, session: DbSession, runtime: RuntimeDep) -> MeRead:
    return auth.me(session, runtime, principal, request.state.session_secret)


@router.post("/me/password", response_model=MeRead, tags=["me"])
@audited(AuditAction.PASSWORD_CHANGE, "user")
def change_password(
    data: PasswordChange,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    client: ClientDep,
    response: Response,
) -> MeRead:
    outcome = auth.change_password(session, runtime, principal, data, client)
    if outcome.session_secret is not None:
        set_session_cookie(response, runtime, outcome.session_secret)
    return outcome.me


@router.post("/me/totp", response_model=TotpEnrolment, tags=["me"])
@audited(AuditAction.TOTP_ENROL, "user")
def start_totp(principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> TotpEnrolment:
    return auth.start_totp(session, runtime, principal)


@router.post("/me/totp/confirm", response_model=RecoveryCodes, tags=["me"])
@audited(AuditAction.TOTP_CONFIRM, "user")
def confirm_totp(
    data: TotpCode,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    client: ClientDep,
    response: Response,
) -> RecoveryCodes:
    codes, secret = auth.confirm_totp(session, runtime, principal, data.code, client)
    return RecoveryCodes(recovery_codes=codes, csrf_token=_rotated(response, runtime, secret))


@router.post("/auth/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED, tags=["auth"])
@audited(AuditAction.TOKEN_CREATE, "token")
def create_token(
    data: TokenCreate, principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, client: ClientDep
) -> TokenCreated:
    return tokens.create_token(session, runtime, principal, data, client)


@router.get("/auth/tokens", response_model=Page[TokenRead], tags=["auth"])
@audited(AuditAction.TOKEN_LIST, "token")
def list_tokens(principal: CurrentPrincipal, session: DbSession, page: PageQuery) -> Page[TokenRead]:
    return tokens.list_tokens(session, principal, page)


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
@audited(AuditAction.TOKEN_REVOKE, "token", id_param="token_id")
def revoke_token(token_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> None:
    tokens.revoke_token(session, principal, token_id)
