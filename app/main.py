"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from uvicorn.config import STARTUP_FAILURE

from app import __version__, health
from app.access import routes as access_routes
from app.access.deps import claimed_credential
from app.accounts import routes as account_routes
from app.audit import routes as audit_routes
from app.cases import routes as case_routes
from app.confirmations import routes as confirmation_routes
from app.consent import grant_routes
from app.consent import routes as consent_routes
from app.core import access_log
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.errors import ConfigError, install_error_handlers
from app.core.forwarding import refuse_spoofable_forwarding
from app.core.http import RequestContextMiddleware, database_busy, integrity_violation, transient_failure
from app.core.limits import BodyDeadline, install_body_limits
from app.core.openapi import describe_problems
from app.core.routing import index_by_prefix
from app.erasure import routes as erasure_routes
from app.exports import routes as export_routes
from app.exports import routes_downloads as download_routes
from app.exports import routes_report as report_routes
from app.exports import routes_review as export_review_routes
from app.interviews import guides
from app.interviews import routes as interview_routes
from app.interviews import routes_attachments as attachment_routes
from app.interviews import routes_redactions as redaction_routes
from app.interviews import routes_statements as statement_routes
from app.interviews.sweep import sweep
from app.keys import routes as key_routes
from app.keys.store import Keys, open_keys
from app.people import routes as people_routes
from app.recipients import routes as recipient_routes
from app.retention import routes as retention_routes
from app.runtime import Runtime
from app.web import errors as web_errors
from app.web import render as web_render
from app.web import routes as web_routes
from app.web import routes_account as web_account_routes
from app.web import routes_admin_cases as web_admin_case_routes
from app.web import routes_admin_confirmations as web_admin_confirmation_routes
from app.web import routes_admin_registry as web_admin_registry_routes
from app.web import routes_admin_users as web_admin_user_routes
from app.web import routes_audit as web_audit_routes
from app.web import routes_audit_proofs as web_audit_proof_routes
from app.web import routes_cases as web_case_routes
from app.web import routes_custodian as web_custodian_routes
from app.web import routes_custodian_erasure as web_custodian_erasure_routes
from app.web import routes_custodian_queues as web_custodian_queue_routes
from app.web import routes_export_review as web_export_review_routes
from app.web import routes_exports as web_export_routes
from app.web import routes_interview_records as web_interview_record_routes
from app.web import routes_interviews as web_interview_routes
from app.web import routes_people as web_people_routes

OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"
SWAGGER_STATIC = "/static/swagger"

# Every other route requires a principal; tests walk app.routes against this set.
PUBLIC_PATHS = frozenset(
    {"/api/v1/health", "/api/v1/auth/login", "/api/v1/keys/signing", OPENAPI_URL, DOCS_URL, SWAGGER_STATIC}
)


def create_app(settings: Settings | None = None, keys: Keys | None = None) -> FastAPI:
    """Build the service. Raises ConfigError, with what to do, if it must not start."""
    settings = settings or get_settings()
    settings.refuse_unready()
    if keys is None:
        keys = open_keys(settings)
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.database.busy_timeout_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Uploads a crash cut off, and renames it interrupted, are settled before the first request.
        await _sweep_once(app)
        sweeper = asyncio.create_task(_sweep_every(app, settings.attachments.sweep_every_minutes * 60))
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        engine.dispose()

    app = FastAPI(
        title="Testimony Vault",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL if settings.development else None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keys = keys
    app.state.runtime = Runtime(settings, keys)
    app.state.runtime.forms.forms  # noqa: B018 - load and validate every consent form now, not at first use
    guides.load_published(app.state.runtime.guides_root)  # and every interview guide
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.claimed_credential = claimed_credential

    install_error_handlers(app)
    web_errors.install(app)  # the same errors, as pages on the web interface's paths
    app.add_exception_handler(IntegrityError, integrity_violation)
    app.add_exception_handler(PoolTimeout, database_busy)
    app.add_exception_handler(OperationalError, transient_failure)
    install_body_limits(
        app,
        settings.body_limit,
        BodyDeadline(settings.limits.body_seconds, settings.limits.body_min_rate),
        refuse=web_errors.too_large_page,  # a browser's form post to a page gets the error page in its language
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(access_routes.router)
    app.include_router(account_routes.router)
    app.include_router(confirmation_routes.router)
    app.include_router(case_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(retention_routes.router)  # before /people/{person_id}: /people/reconsent-due
    app.include_router(people_routes.router)
    app.include_router(erasure_routes.router)
    app.include_router(consent_routes.router)
    app.include_router(grant_routes.router)
    app.include_router(interview_routes.router)
    app.include_router(attachment_routes.router)
    app.include_router(statement_routes.router)
    app.include_router(export_review_routes.router)  # before /redactions/{redaction_id}
    app.include_router(redaction_routes.router)
    app.include_router(recipient_routes.router)
    app.include_router(export_routes.router)
    app.include_router(download_routes.router)
    app.include_router(report_routes.router)
    app.include_router(key_routes.router)
    web_render.load()  # compile the pages' catalogs and read their templates now, not at first use
    app.include_router(web_routes.router)
    app.include_router(web_account_routes.router)
    app.include_router(web_case_routes.router)
    app.include_router(web_people_routes.router)
    app.include_router(web_interview_routes.router)
    app.include_router(web_interview_record_routes.router)
    app.include_router(web_admin_user_routes.router)
    app.include_router(web_admin_confirmation_routes.router)
    app.include_router(web_admin_case_routes.router)
    app.include_router(web_admin_registry_routes.router)
    # Export pages: legal requests and downloads, custodians' review and decisions, recalls, feedback tasks.
    app.include_router(web_export_routes.router)
    app.include_router(web_export_review_routes.router)
    # The custodian's pages: withdrawals, the data report, erasure and legal holds, and the queues.
    app.include_router(web_custodian_routes.router)
    app.include_router(web_custodian_erasure_routes.router)
    app.include_router(web_custodian_queue_routes.router)
    # The auditor's pages: the event log, its verification, checkpoints and proofs, the values to pin, the ledger.
    app.include_router(web_audit_routes.router)
    app.include_router(web_audit_proof_routes.router)
    app.mount(web_render.STATIC_URL, StaticFiles(directory=web_render.STATIC), name="web-static")
    describe_problems(app, PUBLIC_PATHS)
    if settings.development:
        _install_docs(app)
    index_by_prefix(app)  # last: every route is registered
    logging.getLogger("testimony").setLevel(logging.INFO)
    access_log.install()
    return app


def _sweep(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    sweep(app.state.sessionmaker, runtime.blobs, runtime.settings.attachments)


async def _sweep_once(app: FastAPI) -> None:
    try:
        await to_thread.run_sync(_sweep, app)
    except Exception as exc:  # a failed pass is tried again next time; never the message (it may hold a path)
        logging.getLogger("testimony.attachments").error("sweeper failed: %s", type(exc).__name__)


async def _sweep_every(app: FastAPI, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await _sweep_once(app)


def _install_docs(app: FastAPI) -> None:
    """The OpenAPI page, served from packaged assets (no CDN)."""
    app.mount(SWAGGER_STATIC, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs(_request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="Testimony Vault API",
            swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_STATIC}/favicon-32x32.png",
        )
        # The generated page starts Swagger UI with an inline script (development only).
        page.headers["content-security-policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; img-src 'self' data:"
        )
        return page


def app_factory() -> Any:
    """Entry point for ``uvicorn --factory app.main:app_factory``, in each worker."""
    try:
        settings = get_settings()
        refuse_spoofable_forwarding(settings.trusted_proxies, sys.argv)
        return create_app(settings)
    except ConfigError as exc:
        # uvicorn's status for a start that would fail the same way every time: its supervisor then
        # stops, instead of restarting workers for ever.
        print(exc, file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None
