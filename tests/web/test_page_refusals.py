"""Refusals that the services fill in with codes and numbers (app.core.errors.AppError ``params``) read whole
in the page's language: the message translated, its places in that language's words. The API keeps the
English message, filled in."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.access.passwords import MIN_LENGTH
from app.consent.vocabulary import ParticipationDecision
from app.erasure.schemas import ErasureState, HoldState
from app.exports.schemas import ExportStatus, RecallState
from app.interviews.filetypes import Kind
from app.interviews.vocabulary import InterviewState
from app.people.schemas import ReviewStatus
from app.web import catalogs, custodian, errors, exports_page, i18n, interview_page
from app.web.messages import (
    ATTACHMENT_KINDS,
    DECISIONS,
    FILLED_IN,
    HOLD_STATES,
    REFUSALS,
    REVIEW_STATUSES,
    TEACH_BACK_SETS,
)
from tests.support.actors import PASSWORD, Actor
from tests.support.consent import participation
from tests.support.exports import Desk, desk
from tests.support.interviews import consenting_person
from tests.support.pages import page_login, submit
from tests.support.world import World
from tests.web.test_interview_pages import _doc, _post, plan_fields

PLACE = re.compile(r"%\(([a-z_]+)\)s")


@pytest.mark.parametrize("language", sorted(i18n.LANGUAGES))
def test_every_translation_keeps_the_places_of_its_message(language: str) -> None:
    catalog = catalogs.read(language)
    with_places = [m for m in catalogs.extract() if PLACE.search(m)]
    assert set(FILLED_IN) | set(REFUSALS[:3]) <= set(with_places)
    for message in with_places:
        translated = catalog[message].string
        assert isinstance(translated, str)
        assert sorted(PLACE.findall(translated)) == sorted(PLACE.findall(message)), (language, message)


def test_the_words_cover_every_value_a_place_takes() -> None:
    assert set(DECISIONS) == {d.value for d in ParticipationDecision}
    assert set(HOLD_STATES) == {s.value for s in HoldState}
    assert set(REVIEW_STATUSES) == {s.value for s in ReviewStatus} - {ReviewStatus.OPEN.value}
    assert {s.value for s in ExportStatus} <= set(exports_page.STATUSES)
    assert {s.value for s in ErasureState} <= set(custodian.STATES)
    assert set(interview_page.STATES) == {s.value for s in InterviewState}
    assert set(ATTACHMENT_KINDS) == {k.value for k in Kind}
    assert set(exports_page.RECALL_STATES) == {s.value for s in RecallState}
    assert set(TEACH_BACK_SETS) == {"adult", "child"}


def _in(client: TestClient, language: str, back: str) -> None:
    switched = submit(client, back, "/language", {"language": language, "back": back})
    assert switched.status_code == 303


def test_an_interview_the_consent_does_not_allow_is_refused_in_armenian(world: World) -> None:
    doc = _doc(world)
    decisions = participation(world.app)["decisions"] | {"interview_now": False}
    person = consenting_person(doc, world.case_id, world.app, decisions=decisions)
    api = doc.post(
        f"/api/v1/people/{person}/interviews", json={"scheduled_at": "2030-01-01T10:00:00Z", "language": "hy"}
    )
    assert api.status_code == 403
    assert api.json()["detail"].startswith("an interview needs the person's latest participation consent")
    assert "to agree to interview_now;" in api.json()["detail"]
    _in(doc.client, "hy", f"/people/{person}/interviews")
    refused = _post(doc, f"/people/{person}/interviews", plan_fields())
    assert refused.status_code == 403, refused.text
    assert "Հարցազրույց պահանջում է, որ անձի վերջին մասնակցության համաձայնությունը" in refused.text
    assert "թույլատրի հարցազրույց հիմա" in refused.text
    assert "needs the person" not in refused.text
    assert "interview_now" not in refused.text


def _planned(world: World) -> tuple[Actor, str, str, str]:
    """A documenter's page session, a consenting person, and their planned interview with its revision."""
    doc = _doc(world)
    person = consenting_person(doc, world.case_id, world.app)
    made = _post(doc, f"/people/{person}/interviews", plan_fields())
    interview = made.headers["location"].rsplit("/", 1)[1]
    return doc, person, interview, str(doc.get(f"/api/v1/interviews/{interview}").json()["revision"])


def test_identity_below_a_named_level_is_refused_in_russian_naming_the_category(world: World) -> None:
    doc, person, interview, revision = _planned(world)
    assert _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": "start"}).status_code == 303
    _in(doc.client, "ru", f"/interviews/{interview}")
    fields = {
        "outcome": "first",
        "grant1_purpose": "un_fact_finding",
        "grant1_recipient_class": "un_investigative_bodies",
        "grant1_categories": ["identity", "narrative_general"],
        "grant1_disclosure_level": "pseudonymous",
        "witness_name": "Witness One",
        "witness_role": "field coordinator",
    }
    refused = _post(doc, f"/interviews/{interview}/reconfirm", fields)
    assert refused.status_code == 422, refused.text
    identity = catalogs.read("ru")["Identity"].string
    assert f"{identity} можно разрешить только на именном уровне" in refused.text
    assert "can be granted only" not in refused.text
    assert doc.get(f"/api/v1/people/{person}/consents").json()["items"] == []


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def test_a_hold_decided_already_is_refused_in_russian_with_its_state(app: FastAPI, d: Desk) -> None:
    person = d.person()
    first, second = (page_login(app, c.username, c.totp_secret, steps=1)[0] for c in d.custodians)
    hold = {"reason": "The Commission asked that these be kept.", "proceedings_reference": "CoI-2026/3"}
    assert submit(first, "/erasures", f"/people/{person}/legal-hold", hold).status_code == 303
    page = second.get("/erasures").text
    decision = re.search(r'action="(/legal-holds/[0-9a-f-]{36}/decision)"', page)
    assert decision is not None
    assert submit(second, "/erasures", decision.group(1), {"decision": "confirm"}).status_code == 303
    _in(second, "ru", "/erasures")
    again = submit(second, "/erasures", decision.group(1), {"decision": "confirm"})
    assert again.status_code == 409, again.text
    in_force = catalogs.read("ru")["in force"].string
    assert f"это правовое удержание: {in_force}; оно не ждёт решения" in again.text
    assert "not waiting for a decision" not in again.text


def test_a_state_move_the_interview_does_not_have_is_refused_in_russian_naming_the_states(world: World) -> None:
    doc, _person, interview, revision = _planned(world)
    api = doc.request(
        "PATCH", f"/api/v1/interviews/{interview}", json={"revision": int(revision), "state": "completed"}
    )
    assert api.status_code == 409
    assert api.json()["detail"] == (
        "that state change is not allowed; from planned the interview can go to: in_progress"
    )
    _in(doc.client, "ru", f"/interviews/{interview}")
    refused = _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": "complete"})
    assert refused.status_code == 409, refused.text
    ru = catalogs.read("ru")
    planned, in_progress = ru["planned"].string, ru["in progress"].string
    assert f"из состояния «{planned}» интервью может перейти в: {in_progress}" in refused.text
    assert "not allowed" not in refused.text
    assert "in_progress" not in refused.text


def test_a_short_new_password_is_refused_in_armenian_with_the_length(app: FastAPI, d: Desk) -> None:
    custodian_ = d.custodians[0]
    client = page_login(app, custodian_.username, custodian_.totp_secret, steps=1)[0]
    _in(client, "hy", "/account/password")
    fields = {"current_password": PASSWORD, "new_password": "short1", "repeat_password": "short1"}
    refused = submit(client, "/account/password", "/account/password", fields)
    assert refused.status_code == 422, refused.text
    assert f"օգտագործեք առնվազն {MIN_LENGTH} նիշ" in refused.text
    assert "use at least" not in refused.text


# --- every refusal a page can show is in the catalogs ---

APP = Path(__file__).parents[2] / "app"

UPLOADS = "files are uploaded through the API only; no page uploads one"
REDACTIONS = "redactions are written through the API only"
TOKENS = "API tokens and the X-CSRF-Token header are the API's; pages use a session and a form token"
REPLACED = "its code makes a page say it its own way (app/web/errors.py: csrf, step_up_required, PENDING_STEP)"
JSON = "JSON bodies are the API's; pages post forms"
CLI = "only the command line reaches it"
REWORDED = "it names an API path: pages say it in words of their own, with a link (app/web/errors.py PAGE_WORDING)"

API_ONLY: dict[str, str] = {
    "The token is not valid.": TOKENS,
    "missing or wrong X-CSRF-Token header": TOKENS,
    "this token is read-only": TOKENS,
    "missing or wrong form token": REPLACED,
    "start enrolment first (POST /api/v1/me/totp)": "the second-factor page starts enrolment before it asks for a code",
    "choose a new password first (POST /api/v1/me/password)": REPLACED,
    "enrol a second factor first (POST /api/v1/me/totp)": REPLACED,
    "this action needs a browser session with a fresh second factor": REPLACED,
    "confirm your second factor first (POST /api/v1/auth/step-up), then retry": REPLACED,
    "the command line cannot do this": CLI,
    "only a failed build of an approved export is run again": CLI,
    "no such user": "unreachable on pages: team_member_problem names a missing user first",
    "This endpoint takes a JSON body: send it with Content-Type: application/json.": JSON,
    "The request body is not UTF-8 text.": JSON,
    "The request body is not valid JSON.": JSON,
    "The request body names the same key twice in one object.": JSON,
    "The request body holds a number this service does not accept (NaN, infinity, or outside 64 bits).": JSON,
    "the person chose to take nothing home: tell them their reference code aloud when the record is made "
    "(it is in that answer, and is never shown again)": "consent receipts are read through the API only",
    "this is not the record's reference code": "consent receipts are read through the API only",
    "this feedback task is already done": "feedback tasks are done through the API; their pages only read them",
    "a data key already exists for this subject": "an invariant of the key store, never a user's doing",
    "no custody commitment for that record": "custody proofs are read through the API only",
    "attachments are added while the interview is in progress or paused": UPLOADS,
    "the file is empty": UPLOADS,
    "the upload changed meanwhile; try again": UPLOADS,
    "the interview changed during the upload; upload the file again": UPLOADS,
    "the body runs past the upload's declared length": UPLOADS,
    "the upload offset does not match; resume from the offset given": UPLOADS,
    "the file name must be a plain name: no folders, control or direction characters, or device names": UPLOADS,
    "a form field holds a NUL character": UPLOADS,
    "send a form with a file as multipart/form-data": UPLOADS,
    "the body ended before its declared length; nothing of this request was kept": UPLOADS,
    "the form carries no file": UPLOADS,
    "the form ended before its closing boundary; nothing of this request was kept": UPLOADS,
    "a file name must be sent as UTF-8": UPLOADS,
    "nothing arrived for too long; resume the upload": UPLOADS,
    "the connection ended before the file did; nothing of this request was kept": UPLOADS,
    "a form field is not UTF-8 text": UPLOADS,
    "the Content-Type header is malformed": UPLOADS,
    "the form has no usable boundary": UPLOADS,
    "a form part has no Content-Disposition": UPLOADS,
    "a form part is not a named form-data part": UPLOADS,
    "Content-Length is not a number": UPLOADS,
    "a form part's Content-Disposition is malformed": UPLOADS,
    "the form is malformed": UPLOADS,
    "the file must be the form's last part": UPLOADS,
    "the form has a field this upload does not take": UPLOADS,
    "the form has too many fields": UPLOADS,
    "the file part carries no file": UPLOADS,
    "a form field is too long": UPLOADS,
    "another transfer of this upload is in progress; try again shortly": UPLOADS,
    "the bytes sent at this offset differ from those received before; abandon this upload and start again": UPLOADS,
    "this statement has no free text to redact: leave text out": REDACTIONS,
    "give each answered question of the statement once, in the statement's order": REDACTIONS,
    "this redaction removes nothing from the statement: remove what must not leave, or send nothing": REDACTIONS,
    "no confirmed statement version of this interview has this id": REDACTIONS,
    "this statement version has been redacted too many times": REDACTIONS,
    errors.REVIEW_FIRST: REWORDED,
    errors.FIRST_REVIEWS: REWORDED,
    errors.RECONFIRM_FIRST: REWORDED,
}
"""Fixed refusals that are not in the pages' catalogs, each with why no page shows it."""

NOT_FIXED: dict[str, str] = {
    "app/access/policy.py: f'no one changes their own {what}'": "each `what` it is called with is in ADMIN_CHECKS",
    "app/access/policy.py: f'{what} needs a browser session'": REPLACED,
    "app/accounts/service.py: problem": "app.access.roles.incompatible's messages, in ADMIN_CHECKS",
    "app/accounts/service.py: f'no account named {username}'": CLI,
    "app/cases/service.py: problem": "app.cases.service.team_member_problem's messages, in ADMIN_CHECKS",
    "app/cases/service.py: f'no case with code {code}'": CLI,
    "app/confirmations/service.py: f'this request is {status.value}'": "each status but pending is in ADMIN_CHECKS",
    "app/core/json_body.py: f'The request body nests objects and arrays deeper than {MAX_DEPTH} levels.'": JSON,
    "app/interviews/storage.py: writer.received": UPLOADS,
    "app/access/throttle.py: <no message>": "TooManyRequests' own message, in SERVICE_MESSAGES",
    "app/core/errors.py: detail": "the base classes pass on the message they are given",
    "app/core/errors.py: self.detail": "the base classes pass on the message they are given",
}
"""Refusals whose message is not one fixed text (or none at all), each with why a page still reads it whole."""


def _refusal_classes(trees: dict[str, ast.Module]) -> set[str]:
    names = {"AppError"}
    while True:
        more = {
            node.name
            for tree in trees.values()
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any((b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")) in names for b in node.bases)
        }
        if more <= names:
            return names
        names |= more


def _resolve(expr: ast.expr, tree: ast.Module, depth: int = 0) -> tuple[set[str], list[ast.expr]]:
    """The fixed messages an expression can be, and the parts of it that are not fixed."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}, []
    parts: list[ast.expr] = []
    if isinstance(expr, ast.IfExp):
        parts = [expr.body, expr.orelse]
    elif isinstance(expr, ast.BoolOp):
        parts = list(expr.values)
    elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "_":
        parts = list(expr.args)
    elif isinstance(expr, ast.Name | ast.Subscript) and depth < 3:
        name = expr.id if isinstance(expr, ast.Name) else getattr(expr.value, "id", None)
        values = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ]
        if isinstance(expr, ast.Subscript):
            values = [v for d in values if isinstance(d, ast.Dict) for v in d.values]
        if values and all(not isinstance(v, ast.Call) or _is_marker(v) for v in values):
            parts = values
    if not parts:
        return set(), [expr]
    fixed: set[str] = set()
    loose: list[ast.expr] = []
    for part in parts:
        more, rest = _resolve(part, tree, depth + 1)
        fixed |= more
        loose += rest
    return fixed, loose


def _is_marker(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "_"


def refusals(sources: dict[str, str]) -> tuple[set[str], set[str]]:
    """Every fixed message the refusals of these modules write, and "path: expression" for each one that is
    not fixed ("<no message>" for a refusal written without one)."""
    trees = {path: ast.parse(source) for path, source in sources.items()}
    classes = _refusal_classes(trees)
    fixed: set[str] = set()
    loose: set[str] = set()
    for path, tree in trees.items():
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        inits = [  # super().__init__(message) in a refusal class's own __init__
            c
            for cls in ast.walk(tree)
            if isinstance(cls, ast.ClassDef) and cls.name in classes
            for c in ast.walk(cls)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "__init__"
        ]
        for call in calls:
            func = call.func
            named = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if named not in classes and call not in inits:
                continue
            skip = 1 if named in {"TooManyRequests", "TargetLocked"} else 0
            given = call.args[skip:] + [k.value for k in call.keywords if k.arg == "detail"]
            if not given:
                loose.add(f"{path}: <no message>")
                continue
            more, rest = _resolve(given[0], tree)
            fixed |= more
            loose |= {f"{path}: {ast.unparse(r)}" for r in rest}
    return fixed, loose


def _app_sources() -> dict[str, str]:
    root = APP.parent
    return {str(p.relative_to(root)): p.read_text() for p in sorted(APP.rglob("*.py"))}


def test_every_refusal_a_page_can_show_is_in_the_catalogs() -> None:
    fixed, loose = refusals(_app_sources())
    assert loose - set(NOT_FIXED) == set(), "write these as a fixed message, with params for codes and numbers"
    missing = fixed - catalogs.extract() - set(API_ONLY)
    assert missing == set(), "mark these in app/web/messages.py and translate them, or list them in API_ONLY"


def test_the_lists_of_exceptions_name_only_refusals_there_are() -> None:
    fixed, loose = refusals(_app_sources())
    assert set(API_ONLY) - fixed == set()
    assert set(API_ONLY) & catalogs.extract() == set()
    assert set(NOT_FIXED) - loose == set()


def test_a_refusal_built_from_input_or_missing_from_the_catalogs_is_caught() -> None:
    source = """
from app.core.errors import Conflict
class ExampleRefusal(Conflict):
    def __init__(self) -> None:
        super().__init__("a message no catalog holds")
LIMIT = "a limit only this example names"
def f(name: str, flag: bool) -> None:
    raise Conflict(f"{name} is taken")
def g(flag: bool) -> None:
    raise ExampleRefusal() if flag else Conflict(LIMIT)
"""
    sources = _app_sources()
    app_fixed, app_loose = refusals(sources)
    fixed, loose = refusals({**sources, "app/example.py": source})
    assert fixed - app_fixed == {"a message no catalog holds", "a limit only this example names"}
    assert loose - app_loose == {"app/example.py: f'{name} is taken'", "app/example.py: <no message>"}
    assert not (fixed - app_fixed) & catalogs.extract()


# --- refusals that name an API path are said in words on pages ---


def test_no_message_a_page_shows_names_an_api_path() -> None:
    for message in catalogs.extract():
        assert "/api/" not in message, message
    for language in i18n.LANGUAGES:
        for entry in catalogs.read(language):
            assert "/api/" not in str(entry.string), (language, entry.id)


def test_each_page_wording_stands_for_a_refusal_there_is_and_points_at_a_page() -> None:
    fixed, _loose = refusals(_app_sources())
    assert set(errors.PAGE_WORDING) <= fixed  # a service message changed without its page words would fall back
    wanted = catalogs.extract()
    for api_message, words in errors.PAGE_WORDING.items():
        assert "/api/" in api_message
        assert {words.text, words.label} <= wanted
        assert words.href.startswith(("/", "#"))
        assert not words.href.startswith(("//", "/api/"))


def test_approving_unreviewed_is_refused_in_armenian_with_a_link_to_the_review_page(app: FastAPI, d: Desk) -> None:
    from tests.exports.test_review import NARRATIVES
    from tests.support.exports import DEIDENTIFIED_NARRATIVE

    _, interview, statement = d.told(DEIDENTIFIED_NARRATIVE)
    d.redact(interview, statement)
    export = d.request(**NARRATIVES)["id"]
    api = d.custodians[0].post(f"/api/v1/exports/{export}/approve", json={"reason": "Within the purpose."})
    assert api.status_code == 409
    assert f"GET /api/v1/exports/{export}/review" in api.json()["detail"]  # a script is told the path
    client = page_login(app, d.custodians[0].username, d.custodians[0].totp_secret, steps=1)[0]
    _in(client, "hy", f"/exports/{export}")
    refused = submit(client, f"/exports/{export}", f"/exports/{export}/approve", {"reason": "Within the purpose."})
    assert refused.status_code == 409, refused.text
    hy = catalogs.read("hy")
    words = errors.PAGE_WORDING[errors.REVIEW_FIRST]
    assert hy[words.text].string in refused.text
    link = re.search(r'<a href="([^"]+)" id="error-link">([^<]+)</a>', refused.text)
    assert link is not None
    assert link.groups() == (f"/exports/{export}/review", hy[words.label].string)
    assert "/api/" not in refused.text
    assert "review the redacted text" not in refused.text


def test_completing_without_the_reconfirmation_is_refused_in_russian_pointing_at_it(world: World) -> None:
    doc, _person, interview, revision = _planned(world)
    assert _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": "start"}).status_code == 303
    revision = str(doc.get(f"/api/v1/interviews/{interview}").json()["revision"])
    _in(doc.client, "ru", f"/interviews/{interview}")
    refused = _post(doc, f"/interviews/{interview}/state", {"revision": revision, "move": "complete"})
    assert refused.status_code == 409, refused.text
    ru = catalogs.read("ru")
    words = errors.PAGE_WORDING[errors.RECONFIRM_FIRST]
    assert ru[words.text].string in refused.text
    assert "«Повторное подтверждение разрешений на использование»" in refused.text
    assert '<a href="#reconfirm" id="error-link">' in refused.text
    assert 'id="reconfirm"' in refused.text  # the part of this page the link leads to
    box = re.search(r'<div class="error" role="alert" id="form-error">.*?</div>', refused.text, re.S)
    assert box is not None
    assert "/api/" not in box.group(0)  # (the page's upload form posts to the API: files go there only)
    assert "stopped_by_interviewee" not in box.group(0)
