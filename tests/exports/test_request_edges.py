"""Requests that name the person in other ways than ``identity`` need two custodians, and a filter date at
the end of the calendar is answered, never a 500."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.support.consent import grant
from tests.support.exports import Desk, desk


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def test_named_contact_or_identity_documents_need_two_custodians(d: Desk) -> None:
    """Contact details and identity documents at a named level identify the person as surely as identity."""
    for categories in (["contact", "narrative_general"], ["identity_documents", "narrative_general"]):
        made = d.request(categories=categories, max_disclosure_level="named_protected")
        assert made["approvals_needed"] == 2, categories
    made = d.request(categories=["narrative_general"], max_disclosure_level="named_protected")
    assert made["approvals_needed"] == 1


def test_the_last_day_of_the_calendar_is_answered_not_a_500(d: Desk) -> None:
    d.person(grant())
    made = d.legal.post("/api/v1/exports", json=d.body(filters={"interviewed_to": "9999-12-31"}))
    assert made.status_code == 201, made.text


def test_a_request_of_someone_taken_off_the_team_is_not_approved(d: Desk) -> None:
    """Who asked is who downloads: a lawyer taken off the case meanwhile gets nothing of it."""
    d.person(grant())
    made = d.request()
    removed = d.admin.request("DELETE", f"/api/v1/cases/{d.case_id}/members/{d.legal.user_id}")
    assert removed.status_code == 204, removed.text
    assert d.legal.post("/api/v1/exports", json=d.body()).status_code == 404
    refused = d.approve(made["id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "requester_not_entitled"), refused.text
    rejected = d.custodians[0].post(f"/api/v1/exports/{made['id']}/reject", json={"reason": "Off the case."})
    assert rejected.status_code == 200, rejected.text
