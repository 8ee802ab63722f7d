"""Erasure through the real app, on SQLite and PostgreSQL: two custodians with a fresh second factor (never the
same one twice, never a bearer token); afterwards nothing of the person opens, their blobs, blind-index rows and
the bundles holding them are gone, exports are stale, a downloaded one has a recall notice, a tombstone and a
journal line say what happened, and the audit log still verifies."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.cli import cli
from app.core.db import unit_of_work
from app.core.errors import Conflict
from app.crypto import keyring as kr
from app.crypto.signing import fingerprint
from app.keys.sealed import Place, seal_json
from tests.erasure.support import WHY, ask, decide, export_state, journal_entries, remains
from tests.support.actors import Actor, login, shift_clock
from tests.support.attachments import interview_for, raw_upload, sample
from tests.support.consent import grant, identity, record_use_consent
from tests.support.exports import Desk, desk


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def with_attachment(app: FastAPI, d: Desk) -> tuple[str, str]:
    """A person with identity, a grant, and a photo attachment: (person id, attachment id)."""
    interview, person = interview_for(app, d.doc, d.case_id)
    assert d.doc.request("PATCH", f"/api/v1/people/{person}", json=identity("Anahit Petrosyan")).status_code == 200
    record_use_consent(d.doc, str(person), app, grants=[grant()])
    up = raw_upload(d.doc, interview, sample("jpeg", 5000))
    assert up.status_code == 201, up.text
    return str(person), up.json()["id"]


def audit_verifies(cli_env: dict[str, str], key_file: Path) -> None:
    pin = fingerprint(kr.loads(key_file.read_bytes(), None).signer.public_key)
    assert CliRunner().invoke(cli, ["audit", "checkpoint"], env=cli_env).exit_code == 0
    verified = CliRunner().invoke(cli, ["audit", "verify", "--key", pin, "--json"], env=cli_env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True


def test_two_custodians_erase_a_person_and_nothing_of_them_opens(
    app: FastAPI, d: Desk, cli_env: dict[str, str], key_file: Path
) -> None:
    person, _attachment = with_attachment(app, d)
    other, _ = with_attachment(app, d)
    downloaded, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{downloaded}/bundle").status_code == 200
    never, _ = d.ready()
    before = remains(app, person)
    assert (before.has_key, before.identity_opens, before.blobs) == (True, True, [True])
    assert before.blind_index_rows > 0
    first, second = d.custodians

    asked = ask(first, person)
    assert asked.status_code == 202, asked.text
    erasure = asked.json()
    assert (erasure["state"], erasure["origin"], erasure["asked_by"]) == (
        "awaiting_confirmation",
        "custodian",
        str(first.user_id),
    )
    assert WHY not in asked.text  # the reason is sealed, never read back
    # The one who asked cannot confirm; a bearer token never carries an erasure out.
    same = decide(first, erasure["id"])
    assert (same.status_code, same.json()["code"]) == (403, "same_person")
    token = second.post("/api/v1/auth/tokens", json={"name": "script", "scope": "write"}).json()["token"]
    by_token = Actor(second.user_id, second.username, None, second.client, bearer=token)
    refused = decide(by_token, erasure["id"])
    assert (refused.status_code, refused.json()["code"]) == (403, "step_up_required")
    assert ask(second, person).json()["code"] == "awaiting_confirmation"  # asked for once at a time
    assert remains(app, person).has_key

    done = decide(second, erasure["id"])
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["decided_by"]) == ("erased", str(second.user_id))

    after = remains(app, person)
    assert (after.has_key, after.identity_opens, after.blind_index_rows, after.blobs) == (False, False, 0, [False])
    assert after.tombstone is not None
    assert (after.tombstone.requested_by, after.tombstone.confirmed_by) == (first.user_id, second.user_id)
    assert after.tombstone.origin == "custodian"
    assert export_state(app, downloaded) == ("stale", False, 1)  # downloaded: a recall notice for the person
    assert export_state(app, never) == ("stale", False, 0)
    assert remains(app, other).identity_opens  # nobody else is touched
    # The person reads as erased to everyone, and cannot be erased, held or withdrawn again.
    gone = d.doc.get(f"/api/v1/people/{person}")
    assert (gone.status_code, gone.json()["code"]) == (409, "erased")
    assert ask(first, person).json()["code"] == "erased"
    with unit_of_work(app.state.sessionmaker) as s, pytest.raises(Conflict):  # no fresh key, by any route
        seal_json(s, app.state.runtime.keys, Place("people", "identity", uuid.UUID(person), uuid.UUID(person), {}), 1)
    [line] = [e for e in journal_entries(app) if e.event == "erasure"]
    assert (line.person_id, line.ref_id) == (uuid.UUID(person), uuid.UUID(erasure["id"]))
    journal_text = app.state.runtime.settings.journal_path.read_text()
    assert "Petrosyan" not in journal_text
    assert WHY not in journal_text
    audit_verifies(cli_env, key_file)


def test_a_survivors_erasure_request_waits_in_the_queue_until_carried_out_or_refused(app: FastAPI, d: Desk) -> None:
    person = d.person(grant())
    [record] = d.doc.get(f"/api/v1/people/{person}/consents").json()["items"]
    body = {"scope": "all", "mode": "withdraw_and_erase", "received_via": "phone"}
    assert d.doc.post(f"/api/v1/consents/{record['id']}/withdraw", json=body).status_code == 201
    first, second = d.custodians
    [queued] = first.get("/api/v1/erasures").json()["items"]
    assert (queued["person_id"], queued["person_code"], queued["origin"], queued["state"]) == (
        person,
        queued["person_code"],
        "withdrawal",
        "pending",
    )
    assert ask(first, person).json()["id"] == queued["id"]  # a custodian takes the survivor's request up
    # The wait for a second custodian expires: the request is back in the queue, never voided.
    shift_clock(app, timedelta(hours=25))
    first, second = (login(app, who.username, who.totp_secret) for who in (first, second))
    [again] = first.get("/api/v1/erasures").json()["items"]
    assert (again["id"], again["state"], again["confirmation_id"]) == (queued["id"], "pending", None)
    late = decide(second, queued["id"])
    assert (late.status_code, late.json()["code"]) == (409, "no_confirmation")
    # A second custodian's "no" also leaves it pending; a refusal with a reason closes it.
    assert ask(first, person).status_code == 202
    assert decide(second, queued["id"], confirm=False).json()["state"] == "pending"
    refused = first.post(f"/api/v1/erasures/{queued['id']}/refuse", json={"reason": "A court ordered it kept."})
    assert refused.status_code == 200, refused.text
    assert refused.json()["state"] == "refused"
    assert first.get("/api/v1/erasures").json()["items"] == []
    [closed] = first.get("/api/v1/erasures", params={"state": "refused"}).json()["items"]
    assert closed["id"] == queued["id"]
    assert remains(app, person).has_key  # nothing was erased
    assert remains(app, person).tombstone is None
    assert [e.event for e in journal_entries(app)] == ["withdrawal"]


def test_records_decided_to_be_the_same_person_are_erased_only_when_included(app: FastAPI, d: Desk) -> None:
    first, second = d.custodians
    person = d.person(grant())
    twin = d.person(grant())
    third = d.person(grant())
    for who in (person, twin, third):
        assert d.doc.request("PATCH", f"/api/v1/people/{who}", json=identity()).status_code == 200
    reviews = first.get("/api/v1/duplicate-reviews").json()["reviews"]
    for review in reviews:
        assert first.post(f"/api/v1/duplicate-reviews/{review['id']}", json={"decision": "duplicate"}).status_code in (
            200,
            409,
        )
    asked = ask(first, person, include_linked=[twin])
    assert asked.status_code == 202, asked.text
    shown = {r["person_id"] for r in asked.json()["linked_records"]}
    assert shown == {twin, third}
    assert asked.json()["include_linked"] == [twin]
    assert ask(second, person, include_linked=[str(uuid.uuid4())]).status_code == 422
    done = decide(second, asked.json()["id"])
    assert done.status_code == 200, done.text
    assert remains(app, person).tombstone is not None
    tomb = remains(app, twin).tombstone
    assert tomb is not None
    assert tomb.origin == "linked"
    assert remains(app, third).tombstone is None
    assert remains(app, third).identity_opens
