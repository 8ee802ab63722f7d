"""Every write on an erased person, or on what hangs from them (consent records, interviews, statements, uploads,
feedback tasks), is refused with a clear problem+json, 404 or 409, never a 500, and changes nothing: the
matrix world's two people are erased, then each route is sent with the body and the actor the access matrix
allows (tests/access/test_matrix.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.erasure import carry_out
from app.exports.models import DisclosureFeedback, RecallNotice
from app.interviews.models import FeedbackTask
from app.people.models import Person
from tests.access.test_matrix import MATRIX, SESSION_ACTORS
from tests.support.world import World, path_of, request

# The writes on a person's own records: the person, their consent, their interviews and what is in them.
WRITES = [
    ("PATCH", "/api/v1/people/{person_id}"),
    ("POST", "/api/v1/people/{person_id}/participation"),
    ("POST", "/api/v1/people/{person_id}/consents"),
    ("POST", "/api/v1/consents/{consent_id}/amend"),
    ("POST", "/api/v1/consents/{consent_id}/invalidate"),
    ("POST", "/api/v1/consents/{consent_id}/withdraw"),
    ("POST", "/api/v1/interviews/{interview_id}/reconfirm-consent"),
    ("POST", "/api/v1/people/{person_id}/interviews"),
    ("PATCH", "/api/v1/interviews/{interview_id}"),
    ("PUT", "/api/v1/interviews/{interview_id}/draft"),
    ("POST", "/api/v1/interviews/{interview_id}/statements"),
    ("POST", "/api/v1/interviews/{interview_id}/redactions"),
    ("POST", "/api/v1/interviews/{interview_id}/incidents"),
    ("PATCH", "/api/v1/feedback-tasks/{task_id}"),
    ("POST", "/api/v1/feedback-tasks/{task_id}/outcome"),
    ("POST", "/api/v1/interviews/{interview_id}/attachments"),
    ("POST", "/api/v1/interviews/{interview_id}/uploads"),
    ("PATCH", "/api/v1/uploads/{upload_id}"),
    ("POST", "/api/v1/people/{person_id}/legal-hold"),
    ("POST", "/api/v1/people/{person_id}/erase"),
]


def _erase_everyone(w: World) -> None:
    """Every person of the world's case (the one with consent and an interview, the one with a recording, the
    one with a recall notice and a disclosure to tell them of...) erased as the journal's re-application
    erases; the two-custodian route is tested in test_erasure.py."""
    with unit_of_work(w.app.state.sessionmaker) as s:
        people = list(s.scalars(select(Person).where(Person.case_id == w.case_id)))
        assert len(people) >= 3
        for person in people:
            carry_out.erase_person(
                s, w.app.state.runtime, person, erasure_id=None, origin="journal", requested_by=None, confirmed_by=None
            )


def _allowed(method: str, template: str) -> str:
    """The session actor the matrix lets make this write."""
    _, expected = MATRIX[(method, template)]
    return next(who for who in SESSION_ACTORS if 200 <= expected.get(who, 0) < 300)


@pytest.mark.parametrize(("method", "template"), WRITES, ids=lambda v: str(v))
def test_a_write_on_an_erased_person_is_a_clear_refusal(world: World, method: str, template: str) -> None:
    assert (method, template) in MATRIX
    _erase_everyone(world)
    body, _ = MATRIX[(method, template)]
    who = _allowed(method, template)
    with unit_of_work(world.app.state.sessionmaker) as s:
        before = s.scalar(select(func.count()).select_from(Person))
    r = request(world, who, method, path_of(template, world), body(world, who))
    assert r.status_code in (404, 409), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in r.text
    with unit_of_work(world.app.state.sessionmaker) as s:
        assert s.scalar(select(func.count()).select_from(Person)) == before


def test_an_erased_persons_open_tasks_close_and_their_recall_notices_stay(world: World) -> None:
    """The promises made to them and the disclosures to tell them of close (nobody can reach them: the channel
    was sealed under the erased key); the recall notices stay open until the recipients are told, and list
    only ids and the per-export code."""
    w = world
    with unit_of_work(w.app.state.sessionmaker) as s:
        promised = s.get(FeedbackTask, uuid.UUID(w.task_id))
        to_tell = s.get(DisclosureFeedback, uuid.UUID(w.disclosure_task_id))
        assert promised is not None
        assert to_tell is not None
        assert (promised.state, to_tell.state) == ("open", "open")
    _erase_everyone(w)
    with unit_of_work(w.app.state.sessionmaker) as s:
        task = s.get(FeedbackTask, uuid.UUID(w.task_id))
        assert task is not None
        assert (task.state, task.done_by) == ("done", None)
        told = s.get(DisclosureFeedback, uuid.UUID(w.disclosure_task_id))
        assert told is not None
        assert (told.state, told.closed_by) == ("not_contactable", None)
        recall = s.get(RecallNotice, uuid.UUID(w.recall_id))
        assert recall is not None
        assert recall.state == "open", recall.state
    listed = w.actors["custodian"].get("/api/v1/recalls")
    assert listed.status_code == 200, listed.text
    assert w.recall_id in listed.text
    assert "Grigoryan" not in listed.text  # the world's people's name
    sent = w.actors["custodian"].post(f"/api/v1/recalls/{w.recall_id}/sent")
    assert sent.status_code in (200, 409), sent.text  # kept actionable: never a 500
