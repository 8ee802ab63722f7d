"""Errors on pages: a login page for a missing or ended session, the pending account step for a
restricted login, the form again with its error, or a plain error page. The API keeps problem+json."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.access.deps import clear_session_cookie, session_cookie
from app.core.errors import AppError, PayloadTooLarge, Unauthenticated, app_error, fill, http_error
from app.core.limits import too_large
from app.runtime import Runtime
from app.web import custodian, exports_page, interview_page, render
from app.web.messages import (
    ATTACHMENT_KINDS,
    DECISIONS,
    DOING,
    HOLD_STATES,
    REVIEW_STATUSES,
    TEACH_BACK_SETS,
    UNIQUE_FIELDS,
    _,
)

PLACE_WORDS: dict[str, dict[str, str]] = {
    "doing": DOING,
    "decision": DECISIONS,
    "categories": exports_page.CATEGORIES,
    "export_status": exports_page.STATUSES,
    "erasure_state": custodian.STATES,
    "hold_state": HOLD_STATES,
    "review_status": REVIEW_STATUSES,
    "teach_back_set": TEACH_BACK_SETS,
    "interview_state": interview_page.STATES,
    "interview_states": interview_page.STATES,
    "attachment_kind": ATTACHMENT_KINDS,
    "attachment_kinds": ATTACHMENT_KINDS,
    "recall_state": exports_page.RECALL_STATES,
    "unique_field": UNIQUE_FIELDS,
}
"""The words a refusal's places are filled with on a page, by place; a place not here keeps its value."""

REVIEW_FIRST = "review the redacted text this export would send (GET /api/v1/exports/%(id)s/review), then approve"
FIRST_REVIEWS = (
    "the custodian who approved first has not reviewed every redaction this export would now send: they review "
    "it (GET /api/v1/exports/%(id)s/review) before it can be approved"
)
RECONFIRM_FIRST = (
    "completing an interview needs the interviewee's end-of-interview reconfirmation of their use grants "
    "(POST /api/v1/interviews/{id}/reconfirm-consent); if they do not reconfirm, record stopped_by_interviewee"
)


@dataclass(frozen=True)
class PageWords:
    """A refusal said on pages in words of their own: where to go is a page (``href``, filled with the
    refusal's places), never an API path."""

    text: str
    href: str
    label: str


PAGE_WORDING: dict[str, PageWords] = {
    REVIEW_FIRST: PageWords(
        _("read what this export would send on its review page (reading it there records your review), then approve"),
        "/exports/%(id)s/review",
        _("Review this export"),
    ),
    FIRST_REVIEWS: PageWords(
        _(
            "the custodian who approved first has not reviewed every redaction this export would now send: they "
            "open its review page before it can be approved"
        ),
        "/exports/%(id)s/review",
        _("The review page"),
    ),
    RECONFIRM_FIRST: PageWords(
        _(
            "completing an interview needs the interviewee's end-of-interview reconfirmation of their use grants: "
            'record it under "Reconfirming the use grants"; if they do not reconfirm, choose "stopped by the '
            'interviewee" instead'
        ),
        "#reconfirm",
        _("Reconfirming the use grants"),
    ),
}
"""Refusals whose API message names an API path (useful to a script), said on pages in words, with a link to
the page (or the part of the page) where the user does what is missing."""

LOGIN = "/login"
PASSWORD = "/account/password"  # noqa: S105 - a path
SECOND_FACTOR = "/account/second-factor"
STEP_UP = "/account/step-up"
STEP_UP_FIRST = _("Confirm your second factor first (the code from your authenticator app), then try again.")
PENDING_STEP = {"password_change_required": PASSWORD, "totp_enrolment_required": SECOND_FACTOR}


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/static/"))


def local_path(back: str) -> str:
    """Only a path of this site, never another origin (an open redirect)."""
    return back if back.startswith("/") and not back.startswith("//") and "\\" not in back else "/"


def on_error(request: Request, template: str, **context: object) -> None:
    """The page to show again, with the error, when the service refuses this form."""
    request.state.page_on_error = (template, context)


async def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if not is_page(request):
        return await app_error(request, exc)
    runtime: Runtime = request.app.state.runtime
    again: tuple[str, dict[str, object]] | None = getattr(request.state, "page_on_error", None)
    if isinstance(exc, Unauthenticated) and again is None:
        # No session, or one that ended: to the login page, which says so when a session was presented, and
        # keeps saying so until the next login (the request that met the end may have been a script's fetch).
        presented = session_cookie(request, runtime) is not None
        ended = presented or render.session_ended(request)
        response = render.redirect(f"{LOGIN}?ended=1" if ended else LOGIN)
        if presented:
            clear_session_cookie(response, runtime)
            render.mark_ended(response, request)
        return response
    step = PENDING_STEP.get(str(exc.extra.get("code")))
    if step is not None and request.url.path != step:
        return render.redirect(step)
    if exc.extra.get("code") == "csrf":
        detail = render.gettext(request, "This form has expired. Go back, reload the page and try again.")
        return render.page(request, "error.html", {"detail": detail}, status_code=exc.status)
    link: dict[str, str] | None = None
    if exc.extra.get("code") == "step_up_required":
        detail = render.gettext(request, STEP_UP_FIRST)
    elif (words := PAGE_WORDING.get(exc.template)) is not None:
        detail = render.gettext(request, words.text)
        link = {"href": words.href % fill(exc.params), "label": render.gettext(request, words.label)}
    else:
        detail = translated(request, exc)
    template, context = again if again is not None else ("error.html", {})
    shown = render.page(
        request,
        template,
        {**context, "error": detail, "detail": detail, "error_fields": exc.fields, "error_link": link},
        status_code=exc.status,
    )
    shown.headers.update(exc.headers())  # Retry-After on a throttled form
    return shown


def translated(request: Request, exc: AppError) -> str:
    """The refusal in the page's language: its message translated, then its places filled in with words of
    that language (or their values: codes and numbers)."""
    if not exc.params:
        return render.gettext(request, exc.detail)

    def word(place: str, value: str) -> str:
        words = PLACE_WORDS.get(place, {})
        return render.gettext(request, words[value]) if value in words else value

    filled = {
        place: ", ".join(word(place, v) for v in value) if isinstance(value, list) else word(place, value)
        for place, value in exc.params.items()
    }
    try:
        return render.gettext(request, exc.template) % filled
    except (KeyError, ValueError, TypeError):  # a translation that lost a place: the message in English
        return exc.detail


async def page_not_found(request: Request, exc: Exception) -> Response:
    """An unknown page or a wrong method, in the pages' layout and headers."""
    assert isinstance(exc, StarletteHTTPException)
    if not is_page(request):
        return await http_error(request, exc)
    detail = render.gettext(request, "Not found")
    return render.page(request, "error.html", {"detail": detail}, status_code=exc.status_code)


TOO_LARGE = _(
    "Not stored: what this form sent is larger than the %(n)s bytes it accepts. Nothing was saved. Go back and send "
    "less, or a smaller file."
)


def too_large_page(request: Request, limit: int) -> Response:
    """A body over its limit. A browser's form post to a page (no script checked the size first) gets the error page
    in the visitor's language; anything else the problem. Answered before the body is read, the connection closed
    rather than the rest read (as ``too_large``); uses no session or database, which the request never reached."""
    if not (is_page(request) and "text/html" in request.headers.get("accept", "")):
        return too_large(request, limit)
    detail = render.gettext(request, TOO_LARGE) % {"n": limit}
    shown = render.page(request, "error.html", {"detail": detail}, status_code=PayloadTooLarge.status)
    shown.headers["connection"] = "close"
    return shown


def install(app: FastAPI) -> None:
    """After core's handlers: the same errors, answered as pages on page paths."""
    app.add_exception_handler(AppError, page_error)
    app.add_exception_handler(StarletteHTTPException, page_not_found)
