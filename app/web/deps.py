"""The pages' principal: the session cookie only (never a bearer token), with the form's CSRF field."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.access import auth
from app.access.deps import RuntimeDep, client_of, session_cookie
from app.access.principal import Client, Principal
from app.audit.unit_of_work import DbSession
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
    """Every page but the public ones depends on this; tests walk the page routes to prove it."""
    cookie = session_cookie(request, runtime)
    principal = auth.resolve(session, runtime, bearer=None, cookie=cookie, client=client)
    request.state.principal = principal
    request.state.session_secret = cookie
    return principal


PagePrincipal = Annotated[Principal, Depends(get_page_principal)]


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
