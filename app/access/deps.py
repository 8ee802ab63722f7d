"""Request dependencies: the runtime, the client, and the principal (resolved once)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from app.access import auth
from app.access.principal import Client, Principal
from app.audit.unit_of_work import DbSession
from app.core.config import Settings
from app.core.http import client_address
from app.core.uploads import take_leading_field
from app.runtime import Runtime

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
"""The form field that may carry the token in place of the header, on the attachment upload only."""


def cookie_name(settings: Settings) -> str:
    # Browsers drop a __Host- cookie that is not Secure, and development runs on plain http.
    return "testimony_session" if settings.development else "__Host-testimony_session"


# The dependencies that only read the request are ``async``: FastAPI runs a plain ``def`` dependency in the
# thread pool, and the hand-off to a thread and back cost each request more than the work itself.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_of(request: Request, runtime: Runtime) -> Client:
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers.get("x-forwarded-for"), runtime.settings.trusted_proxies)
    return Client(address=address, method=request.method, csrf_header=request.headers.get(CSRF_HEADER))


async def get_client(request: Request, runtime: RuntimeDep) -> Client:
    return client_of(request, runtime)


ClientDep = Annotated[Client, Depends(get_client)]


def session_cookie(request: Request, runtime: Runtime) -> str | None:
    return request.cookies.get(cookie_name(runtime.settings))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def get_principal(request: Request, session: DbSession, runtime: RuntimeDep, client: ClientDep) -> Principal:
    """Every non-public route depends on this; a test walks app.routes to prove it."""
    bearer = _bearer(request)
    cookie = None if bearer else session_cookie(request, runtime)
    principal = auth.resolve(session, runtime, bearer=bearer, cookie=cookie, client=client)
    request.state.principal = principal
    request.state.session_secret = cookie
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def _form_csrf_token(request: Request, runtime: RuntimeDep) -> str | None:
    """A session's form's leading ``csrf_token`` field, taken out of the body the route reads (``request_body``)."""
    return await leading_form_token(request, runtime, with_bearer=_bearer(request) is not None)


async def leading_form_token(request: Request, runtime: Runtime, *, with_bearer: bool = False) -> str | None:
    """A streamed form's leading ``csrf_token`` field when a session cookie came (and no bearer token), read
    from the body without the file behind it and taken out of the body the route reads (``request_body``).
    Never ``request.form()``, which would take in the whole file before the route runs."""
    body: AsyncIterator[bytes] = request.stream()
    token = None
    if not with_bearer and session_cookie(request, runtime):
        idle = runtime.settings.attachments.idle_seconds
        token, body = await take_leading_field(request.headers, body, CSRF_FIELD, idle_seconds=idle)
    request.state.body = body
    return token


async def get_form_principal(
    request: Request,
    form_token: Annotated[str | None, Depends(_form_csrf_token)],
    session: DbSession,
    runtime: RuntimeDep,
    client: ClientDep,
) -> Principal:
    """get_principal for the upload a plain HTML form posts, which cannot send the X-CSRF-Token header.

    With a session cookie and a ``multipart/form-data`` body, the form's first part may be the field
    ``csrf_token``: it is read from the stream (the file behind it is not) and taken out of the body.
    The header, when sent, decides alone; a token anywhere else in the form is no token (403 ``csrf``).
    Bearer tokens need neither. ``form_token`` comes before ``session``: dependencies are solved in
    order, so a slow client's first part is read before the request's transaction begins.
    """
    if client.csrf_header is None:
        client = dataclasses.replace(client, csrf_header=form_token)
    return await to_thread.run_sync(get_principal, request, session, runtime, client)


FormPrincipal = Annotated[Principal, Depends(get_form_principal)]


def request_body(request: Request) -> AsyncIterator[bytes]:
    """The body as the route should read it: after get_form_principal, without the field it took out."""
    body: AsyncIterator[bytes] | None = getattr(request.state, "body", None)
    return body if body is not None else request.stream()


def claimed_credential(session: Session, request: Request) -> str | None:
    """For the audit event of a request refused before it had an actor: what it presented."""
    runtime: Runtime = request.app.state.runtime
    bearer = _bearer(request)
    return auth.presented_credential(
        session, bearer=bearer, cookie=None if bearer else session_cookie(request, runtime)
    )


def set_session_cookie(response: Response, runtime: Runtime, secret: str) -> None:
    response.set_cookie(
        cookie_name(runtime.settings),
        secret,
        max_age=runtime.settings.session.absolute_hours * 3600,
        path="/",
        secure=not runtime.settings.development,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, runtime: Runtime) -> None:
    response.delete_cookie(
        cookie_name(runtime.settings),
        path="/",
        secure=not runtime.settings.development,
        httponly=True,
        samesite="strict",
    )
