"""The audited unit of work: one transaction per request, committed before the response, with
exactly one audit event as its last statement, or a denied or failed event when it fails.

Every router uses ``UnitOfWorkRoute`` and the ``DbSession`` dependency. It imports no domain:
the actor comes from ``request.state.principal`` (anything with the ``Acting`` shape), and the
credential a refused request presented from ``app.state.claimed_credential``, set by the app factory.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Annotated, Any, Protocol, TypeVar

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, Request, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.core.db import (
    FAILURE_HOOKS,
    WORK,
    begin_work,
    integrity_conflict,
    on_failure,
    rollback_and_record,
    settle,
    side_transaction,
)
from app.core.errors import AppError, ValidationFailed
from app.core.http import client_address
from app.core.json_body import parse_json_body, require_json_media_type
from app.crypto.derive import Purpose as DerivedPurpose
from app.crypto.derive import keyed_hash


class Acting(Protocol):
    """What the log needs of whoever acts (the access domain's Principal has this shape)."""

    @property
    def actor(self) -> str: ...

    @property
    def roles(self) -> frozenset[Any]: ...

    @property
    def session_id(self) -> uuid.UUID | None: ...

    @property
    def token_id(self) -> uuid.UUID | None: ...


@dataclass(frozen=True)
class AuditSpec:
    """What a route records: its action, resource type, and which path parameter names the resource."""

    action: AuditAction
    resource_type: str | None = None
    id_param: str | None = None
    failed_action: AuditAction | None = None


E = TypeVar("E", bound=Callable[..., Any])


def audited(
    action: AuditAction,
    resource_type: str | None = None,
    *,
    id_param: str | None = None,
    failed_action: AuditAction | None = None,
) -> Callable[[E], E]:
    """Mark an endpoint with the one audit event each of its requests records."""

    def mark(endpoint: E) -> E:
        endpoint.__audit__ = AuditSpec(action, resource_type, id_param, failed_action)  # type: ignore[attr-defined]
        return endpoint

    return mark


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. UnitOfWorkRoute commits it before the response is sent;
    this exit code (which FastAPI runs after the response) only cleans up.

    ``async``, with the clean-up alone in the thread pool: opening the session touches no connection
    (SQLAlchemy takes one at the first statement), so it runs on the event loop and saves each request
    a hand-off to a thread and back."""
    session: Session = request.app.state.sessionmaker()
    request.state.db_session = session
    spec: AuditSpec | None = getattr(request.state, "audit_spec", None)
    if spec is not None:
        audit.begin(session, _trail(request, spec))
    begin_work(session)
    try:
        yield session
    finally:
        # As FastAPI closes a plain generator dependency: shielded from the request's cancellation, and with a
        # limiter of its own, so that closing (which gives the connection back) never waits for a worker
        # thread that may itself be waiting for a connection.
        with CancelScope(shield=True):
            await to_thread.run_sync(_close, session, limiter=CapacityLimiter(1))


def _close(session: Session) -> None:
    if session.in_transaction():
        session.rollback()
    session.close()
    settle(session, committed=False)  # whatever _finish did not settle never committed


DbSession = Annotated[Session, Depends(get_session)]


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


_SLUG = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _resource_ref(value: object) -> str | None:
    """A path parameter as the log may hold it: an id or a short slug; anything else is not kept."""
    if value is None:
        return None
    as_uuid = _uuid(value)
    if as_uuid is not None:
        return str(as_uuid)
    return str(value) if _SLUG.fullmatch(str(value)) else None


def _trail(request: Request, spec: AuditSpec) -> audit.Trail:
    params = request.path_params
    resource_id = params.get(spec.id_param) if spec.id_param else None
    runtime = request.app.state.runtime
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers.get("x-forwarded-for"), runtime.settings.trusted_proxies)
    client = keyed_hash(runtime.derived_key(DerivedPurpose.CLIENT_ADDRESS), f"audit|{address}".encode()).hex()
    return audit.Trail(
        action=spec.action,
        resource_type=spec.resource_type,
        resource_id=_resource_ref(resource_id),
        case_id=_uuid(params["case_id"]) if "case_id" in params else None,
        request_id=str(getattr(request.state, "request_id", "")) or None,
        client=client,
        failed_action=spec.failed_action,
    )


ClaimResolver = Callable[[Session, Request], "str | None"]
"""Names the credential a request presented (session:<id> or token:<id>) when it was never
accepted as the actor: a forged cross-site request, a malformed body. Set by the app factory."""


def _with_actor(request: Request, session: Session, trail: audit.Trail) -> audit.Trail:
    principal: Acting | None = getattr(request.state, "principal", None)
    if trail.actor != "anonymous":
        return trail
    if principal is None:
        resolver: ClaimResolver | None = getattr(request.app.state, "claimed_credential", None)
        claimed = resolver(session, request) if resolver is not None else None
        return replace(trail, claimed_credential=claimed) if claimed else trail
    credential = (
        f"session:{principal.session_id}"
        if principal.session_id
        else f"token:{principal.token_id}"
        if principal.token_id
        else None
    )
    return replace(trail, actor=principal.actor, actor_roles=tuple(sorted(principal.roles)), credential=credential)


def _outcome(status: int) -> audit.Outcome:
    if status < 400:
        return audit.Outcome.ALLOWED
    if status in (401, 403, 404, 429):
        return audit.Outcome.DENIED
    return audit.Outcome.FAILED


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, IntegrityError):
        exc = integrity_conflict(exc) or exc
    if isinstance(exc, AppError):
        return exc.status
    if isinstance(exc, RequestValidationError):
        return 404 if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()) else 422
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    if isinstance(exc, PoolTimeout):
        return 503
    return 500


def _query_names(dependant: Dependant) -> set[str]:
    """Every query parameter an endpoint takes, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub_dependant in dependant.dependencies:
        names |= _query_names(sub_dependant)
    return names


class StrictJsonRequest(Request):
    """A request whose JSON body is read by app.core.json_body (no duplicate keys, no NaN, bounded
    numbers and depth) rather than by a lenient ``json.loads``."""

    async def json(self) -> Any:
        if not hasattr(self, "_strict_json"):
            self._strict_json = parse_json_body(await self.body())
        return self._strict_json


class UnitOfWorkRoute(APIRoute):
    """Commits the request's transaction after the endpoint returns and before the
    response leaves, with its audit event as the last statement; on failure, rolls
    back and records the denied or failed attempt in a transaction of its own."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        spec: AuditSpec | None = getattr(self.endpoint, "__audit__", None)
        known = _query_names(self.dependant)
        takes_json = self.body_field is not None and not isinstance(self.body_field.field_info, params.Form)

        async def run(request: Request) -> Response:
            if spec is not None:
                request.state.audit_spec = spec
            if takes_json:
                request = StrictJsonRequest(request.scope, request.receive)
            try:
                if not set(request.query_params) <= known:
                    # A filter this endpoint does not have would otherwise be ignored in silence,
                    # answering with more than the client asked for. The name is not echoed.
                    raise ValidationFailed("this endpoint takes no such query parameter", fields=["query"])
                if takes_json and await request.body():
                    # Read here, not in the framework's handler, so that a refusal is our own 415 or 422
                    # (the handler would answer a generic 400, or take another content type as bytes).
                    require_json_media_type(request.headers.get("content-type"))
                    await request.json()
                response = await handler(request)
            except BaseException as exc:
                await run_in_threadpool(_finish, request, spec, _status_of(exc))
                raise
            await run_in_threadpool(_finish, request, spec, response.status_code)
            return response

        return run


def _finish(request: Request, spec: AuditSpec | None, status: int) -> None:
    session: Session | None = getattr(request.state, "db_session", None)
    if session is None:
        if spec is None:
            return
        session = request.app.state.sessionmaker()
        request.state.db_session = session
        audit.begin(session, _trail(request, spec))
    trail = audit.current(session)
    if status == 503:
        # No connection of the pool was free: record the refusal on a connection of its own
        # rather than wait for the same pool again.
        session.info.pop(FAILURE_HOOKS, None)
        session.info.pop(WORK, None)
        session.rollback()
        settle(session, committed=False)
        if trail is not None:
            with side_transaction(session) as side:
                audit.append(side, _with_actor(request, side, trail), audit.Outcome.FAILED, status)
        return
    if status < 400:
        session.info.pop(FAILURE_HOOKS, None)
        try:
            if trail is not None:
                audit.append(session, _with_actor(request, session, trail), audit.Outcome.ALLOWED, status)
            session.commit()
        except Exception as exc:
            # The work is lost; the attempt is still recorded, in a transaction of its own.
            error = integrity_conflict(exc) if isinstance(exc, IntegrityError) else None
            failed_status = _status_of(error or exc)
            if trail is not None:
                on_failure(
                    session,
                    lambda s: audit.append(s, _with_actor(request, s, trail), audit.Outcome.FAILED, failed_status),
                )
            session.info.pop(WORK, None)  # a failed commit leaves no savepoint to return to
            rollback_and_record(session)
            if error is not None:
                raise error from None
            raise
        settle(session, committed=True)
        return
    if trail is not None:
        # Name the actor before any other hook runs (one may end the session that was presented).
        named: list[audit.Trail] = []
        on_failure(session, lambda s: named.append(_with_actor(request, s, trail)), first=True)
        on_failure(session, lambda s: audit.append(s, named[0], _outcome(status), status))
    rollback_and_record(session)
