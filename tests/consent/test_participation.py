"""Participation consent through the HTTP API: deferrals, stated decisions, and the texts a minor's record pins."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.consent.published import publish
from app.core.config import Settings
from app.keys.store import Keys
from app.main import create_app
from tests.consent.test_forms import REPO_FORMS, edit_form
from tests.support.actors import Actor, now
from tests.support.consent import child_texts, documenter_team, identity, participation, person_in, text_hash

MINOR = {
    "assent": True,
    "guardian": {"name": "Guardian One", "relation": "mother", "consent": True},
    "best_interests_checked_by": "M. Hakobyan, child protection officer",
}


@pytest.fixture
def doc_and_person(app: FastAPI) -> tuple[Actor, str]:
    doc, case_id = documenter_team(app)
    return doc, person_in(doc, case_id)["id"]


def _record(doc: Actor, pid: str, body: dict[str, Any]) -> Any:
    return doc.post(f"/api/v1/people/{pid}/participation", json=body)


def _history(doc: Actor, pid: str) -> list[dict[str, Any]]:
    r = doc.get(f"/api/v1/people/{pid}/participation")
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()["items"]
    return result


def _child_born(app: FastAPI, years: int = 12) -> str:
    today = now(app).date()
    return today.replace(year=today.year - years).isoformat()


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def test_an_acute_distress_deferral_keeps_the_decisions_said_and_allows_nothing(
    app: FastAPI, doc_and_person: tuple[Actor, str]
) -> None:
    doc, pid = doc_and_person
    r = _record(doc, pid, participation(app, deferred_reason="acute_distress"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["allows_collection"]) == ("deferred", False)
    assert body["details"]["decisions"]["interview_now"] is True  # said in distress, kept, not acted on
    refused = doc.request("PATCH", f"/api/v1/people/{pid}", json=identity())
    assert (refused.status_code, refused.json()["code"]) == (403, "consent_required")
    assert (refused.json()["decision"], refused.json()["fields"]) == ("interview_now", ["identity"])


def test_time_to_think_needs_no_decisions_and_every_reader_copes(
    app: FastAPI, doc_and_person: tuple[Actor, str]
) -> None:
    doc, pid = doc_and_person
    thinking = _without(
        participation(app, deferred_reason="time_to_think", teach_back={}),
        "decisions",
        "retention",
        "withdrawal_code_word",
    )
    r = _record(doc, pid, thinking)
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["allows_collection"]) == ("deferred", False)
    assert r.json()["details"]["decisions"] == {}  # nothing decided, nothing stored as yes or no

    some = participation(app, status="deferred", deferred_reason="time_to_think", decisions={"referral": True})
    assert _record(doc, pid, some).status_code == 201
    history = _history(doc, pid)
    assert [h["details"]["decisions"] for h in history] == [{}, {"referral": True}]

    person = doc.get(f"/api/v1/people/{pid}")
    assert person.status_code == 200, person.text
    assert (person.json()["participation_status"], person.json()["reconsent_due"]) == ("deferred", False)
    case_id = person.json()["case_id"]
    assert doc.get(f"/api/v1/cases/{case_id}/people").json()["items"][0]["allows_collection"] is False
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()).status_code == 403

    confirmed = _record(doc, pid, participation(app))
    assert confirmed.json()["allows_collection"] is True
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()).status_code == 200


@pytest.mark.parametrize("left_out", ["all", "one", "null"])
def test_given_consent_needs_every_decision_stated(
    app: FastAPI, doc_and_person: tuple[Actor, str], left_out: str
) -> None:
    doc, pid = doc_and_person
    full = participation(app)["decisions"]
    decisions, fields = {
        "all": (None, ["decisions"]),
        "one": (_without(full, "photos"), ["decisions.photos"]),
        "null": ({**full, "storage": None, "notes": None}, ["decisions.notes", "decisions.storage"]),
    }[left_out]
    for status in ("given", "renewed", "refused"):
        r = _record(doc, pid, participation(app, status=status, decisions=decisions))
        assert r.status_code == 422, r.text
        assert r.json()["fields"] == fields
    assert _history(doc, pid) == []


def test_declining_is_an_answer(app: FastAPI, doc_and_person: tuple[Actor, str]) -> None:
    doc, pid = doc_and_person
    decisions = {**participation(app)["decisions"], "storage": False}
    r = _record(doc, pid, participation(app, decisions=decisions))
    assert r.status_code == 201, r.text
    assert (r.json()["details"]["decisions"]["storage"], r.json()["allows_collection"]) == (False, False)


def test_a_minors_record_pins_the_child_and_the_guardian_text(app: FastAPI, doc_and_person: tuple[Actor, str]) -> None:
    doc, pid = doc_and_person
    child = participation(app, date_of_birth=_child_born(app), minor=MINOR, **child_texts(app, "hy"))
    r = _record(doc, pid, child)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["text_sha256"] == text_hash(app, "hy", "child")
    assert body["guardian_text_sha256"] == text_hash(app, "hy", "guardian")
    assert body["allows_collection"] is True
    read = _history(doc, pid)[0]
    assert read["guardian_text_sha256"] == text_hash(app, "hy", "guardian")
    assert read["details"]["text_variant"] == "child"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"guardian_text_sha256": None}, "guardian_text_sha256"),
        ({"guardian_text_sha256": "ab" * 32}, "guardian_text_sha256"),
        ({"guardian_text_sha256": "main"}, "guardian_text_sha256"),  # the main text's hash
        ({"guardian_text_sha256": "other language"}, "guardian_text_sha256"),  # the guardian text in Russian
        ({"guardian_text_sha256": "x"}, "guardian_text_sha256"),  # not a hash at all
        ({"text_variant": "main", "text_sha256": "main"}, "text_variant"),
    ],
    ids=["missing", "wrong", "main text", "other language", "malformed", "main text for the child"],
)
def test_a_minors_consent_without_the_right_guardian_text_is_refused(
    app: FastAPI, doc_and_person: tuple[Actor, str], change: dict[str, Any], field: str
) -> None:
    doc, pid = doc_and_person
    named = {"main": text_hash(app, "hy", "main"), "other language": text_hash(app, "ru", "guardian")}
    change = {k: named.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    child = participation(app, date_of_birth=_child_born(app), minor=MINOR, **{**child_texts(app, "hy"), **change})
    r = _record(doc, pid, child)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == [field]
    assert "ab" * 32 not in r.text
    assert _history(doc, pid) == []


def test_a_minor_who_takes_time_to_think_need_not_have_heard_the_guardian_text(
    app: FastAPI, doc_and_person: tuple[Actor, str]
) -> None:
    doc, pid = doc_and_person
    thinking = _without(
        participation(app, deferred_reason="time_to_think", date_of_birth=_child_born(app), **child_texts(app)),
        "decisions",
        "guardian_text_sha256",
    )
    r = _record(doc, pid, thinking)
    assert r.status_code == 201, r.text
    assert r.json()["guardian_text_sha256"] is None
    wrong = _record(doc, pid, {**thinking, "guardian_text_sha256": "ab" * 32})
    assert wrong.json()["fields"] == ["guardian_text_sha256"]  # checked whenever it is sent


def test_an_adults_record_refuses_a_guardian_text(app: FastAPI, doc_and_person: tuple[Actor, str]) -> None:
    doc, pid = doc_and_person
    r = _record(doc, pid, participation(app, guardian_text_sha256=text_hash(app, "en", "guardian")))
    assert r.status_code == 422
    assert r.json()["fields"] == ["guardian_text_sha256"]
    adult = _record(doc, pid, participation(app))
    assert adult.json()["guardian_text_sha256"] is None


@pytest.mark.parametrize(
    "obtained_at",
    ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00-01:00", "2020-01-01T00:00:00-23:59", "2999-01-01T00:00:00Z"],
)
def test_a_consent_time_long_past_or_in_the_future_is_refused(
    app: FastAPI, doc_and_person: tuple[Actor, str], obtained_at: str
) -> None:
    doc, person = doc_and_person
    r = doc.post(f"/api/v1/people/{person}/participation", json={**participation(app), "obtained_at": obtained_at})
    assert r.status_code == 422
    assert r.json()["fields"] == ["obtained_at"]
    assert obtained_at not in r.text


# Teach-back sets and each version's own vocabulary


def test_a_child_is_asked_the_child_set_and_the_record_says_which_set_and_review(
    app: FastAPI, doc_and_person: tuple[Actor, str]
) -> None:
    doc, pid = doc_and_person
    child = participation(app, date_of_birth=_child_born(app), minor=MINOR, **child_texts(app, "ru", "v2"))
    r = _record(doc, pid, child)
    assert r.status_code == 201, r.text
    details = _history(doc, pid)[0]["details"]
    assert (details["teach_back_set"], details["form_review"]) == ("child", "unreviewed")


def test_an_adult_after_the_main_text_is_asked_the_adult_set(app: FastAPI, doc_and_person: tuple[Actor, str]) -> None:
    doc, pid = doc_and_person
    body = participation(app, form_version="v2", language="hy", text_sha256=text_hash(app, "hy", "main", "v2"))
    assert _record(doc, pid, body).status_code == 201
    assert _history(doc, pid)[0]["details"]["teach_back_set"] == "adult"


def test_a_child_set_missing_an_answer_names_the_set(app: FastAPI, doc_and_person: tuple[Actor, str]) -> None:
    doc, pid = doc_and_person
    teach_back = {"voluntariness": "pass", "recording": "re_explained"}
    body = participation(
        app, date_of_birth=_child_born(app), minor=MINOR, teach_back=teach_back, **child_texts(app, "hy", "v2")
    )
    r = _record(doc, pid, body)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == ["teach_back"]
    assert "missing from the child set: courts_and_defence, re_contact, risks, withdrawal_limits" in r.json()["detail"]


def test_the_child_set_is_asked_after_the_child_text_only(app: FastAPI, doc_and_person: tuple[Actor, str]) -> None:
    doc, pid = doc_and_person
    body = participation(app, form_version="v2", text_sha256=text_hash(app, "en", "main", "v2"), teach_back_set="child")
    r = _record(doc, pid, body)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == ["teach_back_set"]


def test_the_record_says_whether_the_text_read_was_the_source_or_a_translation_and_its_review(
    app: FastAPI, doc_and_person: tuple[Actor, str]
) -> None:
    doc, pid = doc_and_person
    english = participation(app, form_version="v2", text_sha256=text_hash(app, "en", "main", "v2"))
    armenian = participation(app, form_version="v2", language="hy", text_sha256=text_hash(app, "hy", "main", "v2"))
    assert _record(doc, pid, english).status_code == 201
    assert _record(doc, pid, armenian).status_code == 201
    assert [v["details"]["form_review"] for v in _history(doc, pid)] == ["source", "unreviewed"]


@contextmanager
def _v90(tmp_path: Path, settings: Settings, keys: Keys, change: Callable[[dict[str, Any]], None]) -> Iterator[FastAPI]:
    """An app serving a copy of the shipped forms plus standard/v90: v1 with ``change`` made and published."""
    root = tmp_path / "forms"
    shutil.copytree(REPO_FORMS, root)
    shutil.copytree(root / "standard" / "v1", root / "standard" / "v90")

    def edit(doc: dict[str, Any]) -> None:
        doc["version"] = "v90"
        change(doc)

    edit_form(root / "standard" / "v90", edit)
    publish(root, "standard", "v90")
    app = create_app(settings.model_copy(update={"forms_dir": root}), keys)
    try:
        with TestClient(app):
            yield app
    finally:
        app.state.engine.dispose()


def test_consent_cannot_be_dated_before_its_text_was_written(tmp_path: Path, settings: Settings, keys: Keys) -> None:
    """A version whose texts were written today: consent obtained under them yesterday is refused."""
    today = datetime.now(UTC).date()

    def written_today(doc: dict[str, Any]) -> None:
        for language in doc["languages"].values():
            language["changed"] = today.isoformat()

    with _v90(tmp_path, settings, keys, written_today) as app:
        doc, case_id = documenter_team(app)
        pid = person_in(doc, case_id)["id"]
        body = participation(app, form_version="v90", text_sha256=text_hash(app, "en", "main", "v90"))
        yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        r = _record(doc, pid, {**body, "obtained_at": yesterday})
        assert r.status_code == 422, r.text
        assert r.json()["fields"] == ["obtained_at"]
        assert f"({today.isoformat()})" in r.json()["detail"]
        assert _record(doc, pid, body).status_code == 201


def test_the_child_set_on_a_version_without_one_is_refused(app: FastAPI, doc_and_person: tuple[Actor, str]) -> None:
    doc, pid = doc_and_person
    r = _record(doc, pid, participation(app, teach_back_set="child"))
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == ["teach_back_set"]
    assert r.json()["detail"].endswith("its sets: adult")


def test_a_decision_the_version_does_not_ask_is_refused(tmp_path: Path, settings: Settings, keys: Keys) -> None:
    """Each version declares its own vocabulary: a version without the photos decision records none."""

    def without_photos(doc: dict[str, Any]) -> None:
        del doc["decisions"]["photos"]

    with _v90(tmp_path, settings, keys, without_photos) as app:
        doc, case_id = documenter_team(app)
        pid = person_in(doc, case_id)["id"]
        body = participation(app, form_version="v90")
        r = _record(doc, pid, body)
        assert r.status_code == 422, r.text
        assert r.json()["fields"] == ["decisions.photos"]
        assert "it asks: interview_now, notes, audio_recording, video_recording, storage" in r.json()["detail"]
        del body["decisions"]["photos"]
        assert _record(doc, pid, body).status_code == 201
