"""The pages' principal: the session cookie only (never a bearer token), with the form's CSRF field."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.access import auth
from app.access.deps import RuntimeDep, client_of, leading_form_token, session_cookie
from app.access.principal import Client, Principal
from app.audit.unit_of_work import DbSession
from app.runtime import Runtime
from app.web.render import CSRF_FIELD

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def form_csrf(request: Request) -> str | None:
    """The form's hidden token field, on unsafe methods (Starlette keeps the parsed form for the route)."""
    if request.method not in UNSAFE:
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def get_page_client(
    request: Request, runtime: RuntimeDep, token: Annotated[str | None, Depends(form_csrf)]
) -> Client:
    """The API's client, with the form field where the API reads the X-CSRF-Token header: the same
    check in auth.resolve then refuses a form posted without the session's token."""
    base = client_of(request, runtime)
    return Client(address=base.address, method=request.method, csrf_header=token)


PageClient = Annotated[Client, Depends(get_page_client)]


def get_page_principal(request: Request, session: DbSession, runtime: RuntimeDep, client: PageClient) -> Principal:
    """Every page but the public ones depends on this (or, for a streamed form, on
    get_streamed_page_principal); tests walk the page routes to prove it."""
    return _resolve(request, session, runtime, client)


def _resolve(request: Request, session: Session, runtime: Runtime, client: Client) -> Principal:
    cookie = session_cookie(request, runtime)
    principal = auth.resolve(session, runtime, bearer=None, cookie=cookie, client=client)
    request.state.principal = principal
    request.state.session_secret = cookie
    return principal


PagePrincipal = Annotated[Principal, Depends(get_page_principal)]


async def leading_csrf(request: Request, runtime: RuntimeDep) -> str | None:
    """A streamed form's token: its first part, the field ``csrf_token`` (pages never take a bearer token)."""
    return await leading_form_token(request, runtime)


async def get_streamed_page_principal(
    request: Request,
    token: Annotated[str | None, Depends(leading_csrf)],
    session: DbSession,
    runtime: RuntimeDep,
) -> Principal:
    """get_page_principal for a form whose file is streamed to the service (the attachment upload): the same
    session-cookie check, with the form's leading token field where the API reads the X-CSRF-Token header.
    ``token`` comes before ``session``: the first part is read before the request's transaction begins."""
    base = client_of(request, runtime)
    client = Client(address=base.address, method=request.method, csrf_header=token)
    return await to_thread.run_sync(_resolve, request, session, runtime, client)


StreamedPagePrincipal = Annotated[Principal, Depends(get_streamed_page_principal)]


async def posted_fields(request: Request) -> dict[str, str]:
    """A posted form's text fields, one value each (a long form the route reads whole, such as the wizard)."""
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


async def posted_lists(request: Request) -> dict[str, list[str]]:
    """A posted form's fields with every value (a group of checkboxes)."""
    form = await request.form()
    found: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            found.setdefault(name, []).append(value)
    return found


Posted = Annotated[dict[str, str], Depends(posted_fields)]
Lists = Annotated[dict[str, list[str]], Depends(posted_lists)]
