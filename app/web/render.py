"""Rendering a page: the template in the visitor's language, the form token, and the page headers."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.access import policy
from app.access.credentials import csrf_matches, csrf_token
from app.access.deps import session_cookie
from app.access.principal import Principal
from app.runtime import Runtime
from app.web import exports_page, i18n

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_URL = "/static/web"
LANGUAGE_COOKIE = "testimony_lang"
FORM_COOKIE = "testimony_form"
"""A random value for the forms shown before login (login, language): the double-submit token.
Outside development it is ``__Host-`` prefixed, so that no sibling subdomain can plant one."""
CSRF_FIELD = "csrf_token"
ENDED_COOKIE = "testimony_ended"
"""Set, holding only "1", when a request finds its session ended and the session cookie is cleared; the
login page says the session ended while it is there, and logging in or out clears it. The first request
after the end may be one that cannot show the notice (the interview page's autosave, a script's fetch),
so the notice cannot depend on that request. ``__Host-`` prefixed outside development."""

# Pages load only their own stylesheet and script: no inline script or style, no other origin,
# no frame around them.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": PAGE_CSP,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


@cache
def _catalogs() -> dict[str, i18n.Catalog]:
    return i18n.load_catalogs()


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(_catalogs()[language].translations, newstyle=True)  # type: ignore[attr-defined]
    return env


def load() -> None:
    """Compile every catalog and read every template now, so that a broken one stops the start."""
    for language in i18n.LANGUAGES:
        env = environment(language)
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)


def language_of(request: Request) -> str:
    return i18n.choose(request.cookies.get(LANGUAGE_COOKIE))


def gettext(request: Request, message: str) -> str:
    """A message of the code (not a template) in the visitor's language."""
    return str(_catalogs()[language_of(request)].translations.gettext(message))


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _secure(request: Request) -> bool:
    return not _runtime(request).settings.development


def _form_cookie(request: Request) -> str:
    return f"__Host-{FORM_COOKIE}" if _secure(request) else FORM_COOKIE


def _ended_cookie(request: Request) -> str:
    return f"__Host-{ENDED_COOKIE}" if _secure(request) else ENDED_COOKIE


def session_ended(request: Request) -> bool:
    """Whether this browser's last session ended (rather than was logged out of) since its last login."""
    return request.cookies.get(_ended_cookie(request)) == "1"


def mark_ended(response: Response, request: Request) -> None:
    response.set_cookie(
        _ended_cookie(request),
        "1",
        max_age=_runtime(request).settings.session.absolute_hours * 3600,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_ended(response: Response, request: Request) -> None:
    if session_ended(request):
        response.delete_cookie(
            _ended_cookie(request), path="/", secure=_secure(request), httponly=True, samesite="strict"
        )


def form_token(request: Request) -> tuple[str, str | None]:
    """The token forms carry, and a new form cookie to set when there was none.

    Logged in, it is the session's CSRF token (derived from the session secret, as the API's header);
    before login it is the form cookie's value, which a cross-site page can neither read nor set.
    """
    secret = getattr(request.state, "session_secret", None)
    if secret and getattr(request.state, "principal", None) is not None:
        return csrf_token(secret), None
    existing = request.cookies.get(_form_cookie(request))
    if existing:
        return existing, None
    fresh = secrets.token_urlsafe(32)
    return fresh, fresh


def token_matches(request: Request, presented: str | None) -> bool:
    """The public forms' check: the field equals the form cookie (or, logged in, the session's
    token), compared in constant time on bytes."""
    if not presented:
        return False
    expected = request.cookies.get(_form_cookie(request))
    if expected and secrets.compare_digest(expected.encode(), presented.encode()):
        return True
    secret = session_cookie(request, _runtime(request))
    return secret is not None and csrf_matches(secret, presented)


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    language = language_of(request)
    token, new_cookie = form_token(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    body = (
        environment(language)
        .get_template(template)
        .render(
            **(context or {}),
            lang=language,
            languages=i18n.LANGUAGES,
            unreviewed=not _catalogs()[language].reviewed,
            csrf_field=CSRF_FIELD,
            csrf_token=token,
            static=STATIC_URL,
            signed_in=principal is not None,
            # A login that must first change its password or enrol sees only that step (and logout).
            restricted=principal is not None and (principal.must_change_password or principal.must_enrol_totp),
            administers=principal is not None and policy.allows(principal, policy.Action.USER_READ),
            # Admins and auditors are never on a case team: "My cases" would lead them only to refusals.
            has_cases=principal is not None and policy.may_join_team(principal.roles),
            export_links=exports_page.links(principal) if principal is not None else [],
            keeps=principal is not None and policy.allows(principal, policy.Action.ERASURE_MANAGE),  # custodians
            audits=principal is not None and policy.allows(principal, policy.Action.AUDIT_READ),
            current_path=request.url.path,
        )
    )
    response = HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)
    if new_cookie:
        response.set_cookie(
            _form_cookie(request), new_cookie, path="/", secure=_secure(request), httponly=True, samesite="strict"
        )
    return response


def redirect(url: str) -> RedirectResponse:
    """After a form: 303, so that reloading the next page never posts the form again."""
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def set_language(response: RedirectResponse, request: Request, language: str) -> None:
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
