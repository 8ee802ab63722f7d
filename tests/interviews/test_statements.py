"""Drafts and statements through the real app: autosave overwrites one slot and never makes a version;
a statement version is the draft read back and confirmed, never changed; a correction is a new version
with a reason; declined answers stay declined; bad input stores nothing; canaries stay sealed; a
statement's custody proof verifies with the standalone verifier."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi import FastAPI
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings
from app.core.db import unit_of_work
from app.interviews.models import InterviewDraft, StatementVersion
from app.keys.store import Keys
from app.main import create_app
from tests.conftest import production
from tests.interviews.test_custody import _verify, _vkey
from tests.people.test_sealing import _raw_storage
from tests.support.actors import Actor
from tests.support.consent import documenter_team
from tests.support.database import ProvisionedDatabase
from tests.support.interviews import WITHOUT_NOTES, checklist, consenting_person, new_interview, patch

MARK = "q7Wx"
REPO = Path(__file__).resolve().parents[2]


def canary(field: str) -> str:
    return f"{field}-Հովհաննիսյան-{MARK}"


def _started(app: FastAPI, doc: Actor, case: str, **consent: Any) -> dict[str, Any]:
    pid = consenting_person(doc, case, app, **consent)
    interview = new_interview(doc, pid, checklist=checklist())
    r = patch(doc, interview, state="in_progress")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _save(doc: Actor, interview_id: str, body: dict[str, Any]) -> Any:
    return doc.request("PUT", f"/api/v1/interviews/{interview_id}/draft", json=body)


def _confirm(doc: Actor, interview_id: str, version: int, draft_revision: int, **more: Any) -> Any:
    body = {
        "version": version,
        "draft_revision": draft_revision,
        "confirmed_by_interviewee": True,
        "read_back_in": "hy",
        **more,
    }
    return doc.post(f"/api/v1/interviews/{interview_id}/statements", json=body)


def _counts(app: FastAPI) -> tuple[int, int]:
    with unit_of_work(app.state.sessionmaker) as s:
        drafts = s.scalar(select(func.count()).select_from(InterviewDraft)) or 0
        versions = s.scalar(select(func.count()).select_from(StatementVersion)) or 0
        return drafts, versions


ANSWERS = [
    {"question": "background", "state": "answered", "text": "A teacher from Hadrut."},
    {"question": "harm", "state": "declined"},
    {"question": "witnesses", "state": "not_asked"},
]


def test_autosave_overwrites_the_one_draft_and_never_makes_a_version(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    interview = _started(app, doc, case)
    iid = interview["id"]
    assert doc.get(f"/api/v1/interviews/{iid}/draft").status_code == 404
    for n, notes in enumerate(["We left", "We left at night", "We left at night, on foot"], start=1):
        r = _save(doc, iid, {"text": notes, "answers": ANSWERS})
        assert r.status_code == 200, r.text
        assert r.json()["revision"] == n
    read = doc.get(f"/api/v1/interviews/{iid}/draft").json()
    assert (read["text"], read["revision"]) == ("We left at night, on foot", 3)
    assert read["answers"][1] == {"question": "harm", "state": "declined", "text": None}
    assert doc.get(f"/api/v1/interviews/{iid}/statements").json()["items"] == []
    assert _counts(app) == (1, 0)


def test_a_confirmed_statement_is_kept_and_a_correction_is_a_new_version_with_a_reason(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    assert _save(doc, iid, {"text": "On 3 October we were taken.", "answers": ANSWERS}).status_code == 200
    first = _confirm(doc, iid, 1, 1)
    assert first.status_code == 201, first.text
    v1 = first.json()
    assert (v1["version"], v1["draft_revision"], v1["confirmed_by_interviewee"], v1["reason"]) == (1, 1, True, None)
    assert v1["recorded_by"] == str(doc.user_id)
    assert v1["answers"][1]["state"] == "declined"  # kept as declined, never as an empty answer
    assert v1["sha256"] == hashlib.sha256(_canonical(v1)).hexdigest()

    # The same draft again is not a new version; a correction needs the draft changed and a reason.
    assert _confirm(doc, iid, 1, 1).json()["fields"] == ["version"]
    unchanged = _confirm(doc, iid, 2, 1, reason="Nothing was changed.")
    assert (unchanged.status_code, unchanged.json()["code"], unchanged.json()["fields"]) == (
        409,
        "draft_unchanged",
        ["draft_revision"],
    )
    # Saved again with the same words is no correction either.
    assert _save(doc, iid, {"text": "On 3 October we were taken.", "answers": ANSWERS}).json()["revision"] == 2
    assert _confirm(doc, iid, 2, 2, reason="Nothing was changed.").json()["code"] == "draft_unchanged"
    assert _save(doc, iid, {"text": "On 4 October we were taken.", "answers": ANSWERS}).status_code == 200
    stale = _confirm(doc, iid, 2, 1, reason="The date was wrong.")
    assert (stale.status_code, stale.json()["fields"]) == (409, ["draft_revision"])
    no_reason = _confirm(doc, iid, 2, 3)
    assert (no_reason.status_code, no_reason.json()["fields"]) == (422, ["reason"])
    second = _confirm(doc, iid, 2, 3, reason="The date was wrong.")
    assert second.status_code == 201, second.text
    assert (second.json()["version"], second.json()["reason"]) == (2, "The date was wrong.")

    listed = doc.get(f"/api/v1/interviews/{iid}/statements").json()["items"]
    assert [s["version"] for s in listed] == [1, 2]
    assert all("text" not in s for s in listed)  # metadata only
    again = doc.get(f"/api/v1/statements/{v1['id']}").json()
    assert again == v1  # the first version, as confirmed
    # No route changes or removes a version.
    for method in ("PUT", "PATCH", "DELETE"):
        assert doc.request(method, f"/api/v1/statements/{v1['id']}", json={}).status_code == 405


def _canonical(read: dict[str, Any]) -> bytes:
    return rfc8785.dumps(
        {
            "format": "testimony-statement/1",
            "version": read["version"],
            "guide": read["guide"],
            "read_back_in": read["read_back_in"],
            "confirmed_by_interviewee": read["confirmed_by_interviewee"],
            "reason": read["reason"],
            "text": read["text"],
            "answers": read["answers"],
        }
    )


def test_statement_versions_cannot_be_changed_in_the_database(app: FastAPI, database: ProvisionedDatabase) -> None:
    if not database.is_postgres:
        pytest.skip("the application role's rights are PostgreSQL's")
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    assert _save(doc, iid, {"text": "kept"}).status_code == 200
    assert _confirm(doc, iid, 1, 1).status_code == 201
    engine = create_engine(database.url, poolclass=NullPool)  # the application's own role
    for sql in ("UPDATE statement_versions SET version = 7", "DELETE FROM statement_versions"):
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
            conn.execute(text(sql))
    engine.dispose()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": [{"question": "harm", "state": "answered"}]}, "answers.0.text"),
        ({"answers": [{"question": "harm", "state": "declined", "text": "no"}]}, "answers.0.text"),
        ({"answers": [{"question": "harm", "state": "refused"}]}, "answers.0.state"),
        ({"answers": [{"question": "Harm!", "state": "declined"}]}, "answers.0.question"),
        ({"answers": [{"question": "harm", "state": "declined"}] * 2}, "answers.1.question"),
        ({"text": "a\x00b"}, "text"),
        ({"text": 7}, "text"),
        ({"text": "   "}, "text"),
        ({"notes": "x"}, "body"),  # an unknown name is never echoed
    ],
    ids=["answered_empty", "declined_text", "unknown_state", "bad_question", "twice", "nul", "type", "blank", "extra"],
)
def test_bad_drafts_name_the_field_and_store_nothing(app: FastAPI, body: dict[str, Any], field: str) -> None:
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    r = _save(doc, iid, body)
    assert r.status_code == 422, r.text
    assert field in r.json()["fields"]
    assert "a\x00b" not in r.text
    assert _counts(app) == (0, 0)


def test_notes_need_the_notes_decision_and_an_interview_under_way(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    pid = consenting_person(doc, case, app)
    planned = new_interview(doc, pid, checklist=checklist())
    early = _save(doc, planned["id"], {"text": "too early"})
    assert (early.status_code, early.json()["fields"]) == (409, ["state"])
    without = _started(app, doc, case, decisions=WITHOUT_NOTES)
    refused = _save(doc, without["id"], {"text": "not allowed"})
    assert (refused.status_code, refused.json()["code"], refused.json()["decision"]) == (
        403,
        "consent_required",
        "notes",
    )
    assert "notes" in refused.json()["detail"]
    assert _confirm(doc, without["id"], 1, 1).json()["code"] == "consent_required"
    assert _confirm(doc, planned["id"], 1, 1).json()["fields"] == ["state"]
    assert _counts(app) == (0, 0)


def test_a_statement_needs_a_draft_and_the_interviewees_confirmation(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    assert _confirm(doc, iid, 1, 1).json()["code"] == "no_draft"
    assert _save(doc, iid, {"answers": ANSWERS}).status_code == 200
    unconfirmed = _confirm(doc, iid, 1, 1, confirmed_by_interviewee=False)
    assert unconfirmed.status_code == 422
    assert "confirmed_by_interviewee" in unconfirmed.json()["fields"]
    first_with_reason = _confirm(doc, iid, 1, 1, reason="nothing to correct")
    assert first_with_reason.json()["fields"] == ["reason"]
    skipped = _confirm(doc, iid, 3, 1)
    assert (skipped.status_code, skipped.json()["fields"]) == (409, ["version"])
    assert _counts(app) == (1, 0)


def test_canaries_in_drafts_statements_and_incidents_stay_sealed(
    app: FastAPI,
    database: ProvisionedDatabase,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with caplog.at_level(logging.DEBUG):
        doc, case = documenter_team(app)
        iid = _started(app, doc, case)["id"]
        body = {
            "text": canary("text"),
            "answers": [
                {"question": "events", "state": "answered", "text": canary("answer")},
                {"question": "harm", "state": "declined"},
            ],
        }
        assert _save(doc, iid, body).status_code == 200
        v1 = _confirm(doc, iid, 1, 1).json()
        body["text"] = canary("text2")
        assert _save(doc, iid, body).status_code == 200
        v2 = _confirm(doc, iid, 2, 2, reason=canary("reason")).json()
        assert doc.get(f"/api/v1/statements/{v2['id']}").json()["reason"] == canary("reason")
        assert doc.get(f"/api/v1/statements/{v1['id']}").json()["answers"][0]["text"] == canary("answer")
        assert MARK not in doc.get(f"/api/v1/interviews/{iid}/statements").text
        incident = {
            "date": {"from": "2023-09-19", "precision": "day"},
            "place": canary("place"),
            "violation_types": ["sexual_or_gender_based_violence"],
            "perpetrators": [canary("perpetrator")],
            "other_victims": {"count": 2, "description": canary("victims")},
            "witnesses": {"count": 1, "description": canary("witnesses")},
        }
        made = doc.post(f"/api/v1/interviews/{iid}/incidents", json=incident).json()
        read = doc.get(f"/api/v1/incidents/{made['id']}").json()
        assert (read["place"], read["perpetrators"]) == (canary("place"), [canary("perpetrator")])
        assert (read["other_victims_description"], read["witnesses_description"]) == (
            canary("victims"),
            canary("witnesses"),
        )
        listed = doc.get(f"/api/v1/interviews/{iid}/incidents").text
        assert MARK not in listed
        assert "sexual" not in listed
    needles = [
        MARK.encode(),
        "Հովհաննիսյան".encode(),
        "Հովհաննիսյան".encode("utf-16-le"),
        b"sexual_or_gender",
        b"2023-09-19",
    ]
    for blob in _raw_storage(database):
        assert not any(n in blob for n in needles)
    out, err = capfd.readouterr()
    for printed in (caplog.text, out, err):
        assert MARK not in printed


def test_a_statements_custody_proof_verifies_end_to_end(
    app: FastAPI, cli_env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    assert _save(doc, iid, {"text": "Ես տեսա ամեն ինչ", "answers": ANSWERS}).status_code == 200
    version = _confirm(doc, iid, 1, 1).json()
    runner = CliRunner()
    assert runner.invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0
    proof, statement = tmp_path / "proof.json", tmp_path / "statement.json"
    made = runner.invoke(
        cli,
        ["custody", "proof", version["id"], "--out", str(proof), "--statement-out", str(statement)],
        env=cli_env,
    )
    assert made.exit_code == 0, made.output
    assert "(a statement version)" in made.output
    assert hashlib.sha256(statement.read_bytes()).hexdigest() == version["sha256"]
    assert json.loads(statement.read_bytes())["text"] == "Ես տեսա ամեն ինչ"
    assert version["id"] not in proof.read_text()
    key = _vkey(key_file)
    good = _verify(proof, statement, key)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "kind: statement version" in good.stdout
    assert statement.stat().st_mode & 0o777 == 0o600  # it holds the statement's text
    statement.write_bytes(statement.read_bytes().replace("Ես".encode(), "Նա".encode()))
    assert _verify(proof, statement, key).returncode == 1
    changed = statement.read_bytes()
    again = ["custody", "proof", version["id"], "--out", str(tmp_path / "new.json"), "--statement-out", str(statement)]
    refused = runner.invoke(cli, again, env=cli_env)
    assert refused.exit_code == 2
    assert f"{statement} exists; choose another file, or give --force to replace it" in refused.output
    assert statement.read_bytes() == changed
    assert not (tmp_path / "new.json").exists()  # refused before anything was written
    assert list(tmp_path.glob(".*.tmp")) == []
    replaced = runner.invoke(cli, [*again, "--force"], env=cli_env)
    assert replaced.exit_code == 0, replaced.output
    assert hashlib.sha256(statement.read_bytes()).hexdigest() == version["sha256"]
    unknown = runner.invoke(
        cli,
        ["custody", "proof", str(uuid.uuid4()), "--out", str(proof), "--statement-out", str(statement), "--force"],
        env=cli_env,
    )
    assert unknown.exit_code == 2
    assert "no custody commitment for that record" in unknown.output


def test_the_standard_guide_is_served_with_its_pinned_hash_and_its_questions_in_three_languages(app: FastAPI) -> None:
    doc, _case = documenter_team(app)
    r = doc.get("/api/v1/interview-guides/standard/v1")
    assert r.status_code == 200, r.text
    guide = r.json()
    raw = (REPO / "interview_guides" / "standard" / "v1" / "guide.yaml").read_bytes()
    assert guide["sha256"] == hashlib.sha256(raw).hexdigest()
    assert (guide["review"], guide["languages"]) == ("unreviewed", ["en", "hy", "ru"])
    assert 8 <= len(guide["questions"]) <= 12
    assert all(set(q["text"]) == {"en", "hy", "ru"} for q in guide["questions"])
    assert doc.get("/api/v1/interview-guides/standard/v9").status_code == 404
    assert doc.get("/api/v1/interview-guides/..%2Fconsent_forms/v1").status_code == 404


def test_an_unreviewed_guide_is_served_in_development_mode_only(settings: Settings, keys: Keys) -> None:
    app = create_app(production(settings), keys)
    try:
        doc, _case = documenter_team(app)
        r = doc.get("/api/v1/interview-guides/standard/v1")
        assert (r.status_code, r.json()["code"]) == (409, "guide_unreviewed")
    finally:
        app.state.engine.dispose()


def test_answers_to_a_guide_name_its_questions_and_the_statement_keeps_the_guide(app: FastAPI) -> None:
    doc, case = documenter_team(app)
    iid = _started(app, doc, case)["id"]
    guide = {"id": "standard", "version": "v1"}
    unknown = _save(doc, iid, {"guide": guide, "answers": [{"question": "favourite_colour", "state": "not_asked"}]})
    assert (unknown.status_code, unknown.json()["fields"]) == (422, ["answers.0.question"])
    missing = _save(doc, iid, {"guide": {"id": "standard", "version": "v9"}, "answers": ANSWERS})
    assert (missing.status_code, missing.json()["fields"]) == (422, ["guide"])
    assert _counts(app) == (0, 0)
    assert _save(doc, iid, {"guide": guide, "answers": ANSWERS}).status_code == 200
    version = _confirm(doc, iid, 1, 1).json()
    assert version["guide"] == guide
    assert version["sha256"] == hashlib.sha256(_canonical(version)).hexdigest()
