"""The auditor's pages through the real app: the event log's filters and pages agree with the API's; the log's
verification names what verified and says plainly when it does not; each downloaded checkpoint and proof is
checked, in a subprocess away from the app, by the exact command the page prints beside it; no other role sees
these pages; and no auditor page ever shows a word of testimony."""

from __future__ import annotations

import html
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from app.access.roles import Role
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.audit.note import vkey
from app.core.db import unit_of_work
from app.crypto.signing import Signer
from tests.support.actors import actor
from tests.support.world import DRAFT_REVISION, World
from tests.web.test_pages import assert_page_headers

REPO = Path(__file__).resolve().parents[2]
VERIFIER_FILES = (
    "app/__init__.py",
    "app/audit/__init__.py",
    "app/audit/verify.py",
    "app/audit/entries.py",
    "app/audit/merkle.py",
    "app/audit/note.py",
    "app/audit/custody_proof.py",
    "app/audit/log_proofs.py",
    "app/crypto/__init__.py",
    "app/crypto/signing.py",
)
"""The files docs/auditing.md tells an auditor to copy: the verifier runs with nothing else of the service."""
CANARY = "CANARY-Gohar-7f3a saw the soldiers at the Lachin checkpoint"
AUDITOR_PAGES = ("/audit/events", "/audit/status", "/audit/proofs", "/audit/pin", "/audit/disclosures")
ROW = re.compile(r"<tr>\s*<td>(\d+)</td>")


def _get(world: World, who: str, path: str, params: dict[str, Any] | None = None) -> Any:
    client = world.actors[who].client
    client.follow_redirects = False
    answer = client.get(path, params=params)
    assert_page_headers(answer)
    return answer


def _sign(app: FastAPI) -> int:
    """Sign a checkpoint of the log as it stands (as the checkpointer does); its size."""
    with unit_of_work(app.state.sessionmaker) as s:
        row = audit.make_checkpoint(s, app.state.keys.current.signer, app.state.settings.audit.origin)
        assert row is not None
        return row.size


def _shown_seqs(page: str) -> list[int]:
    return [int(seq) for seq in ROW.findall(page)]


def _walk(world: World, params: dict[str, str]) -> tuple[list[int], int]:
    """Every event the page lists for these filters, following its next-page links; and how many pages."""
    seqs: list[int] = []
    answer = _get(world, "auditor", "/audit/events", params)
    pages = 1
    while True:
        assert answer.status_code == 200, answer.text
        seqs += _shown_seqs(answer.text)
        found = re.search(r'<a href="([^"]+)" id="next-page">', answer.text)
        if not found:
            return seqs, pages
        link = urlsplit(html.unescape(found.group(1)))
        assert link.path == "/audit/events"
        answer = _get(world, "auditor", link.path, dict(parse_qsl(link.query)))
        pages += 1


def _api_seqs(world: World, params: dict[str, str]) -> list[int]:
    seqs: list[int] = []
    after: int | None = None
    while True:
        query = {**params, "limit": "500", **({"after": str(after)} if after is not None else {})}
        page = world.actors["auditor"].get("/api/v1/audit/events", params=query).json()
        seqs += [e["seq"] for e in page["events"]]
        if page["next_cursor"] is None:
            return seqs
        after = page["next_cursor"]


def test_the_log_pages_through_every_event_the_api_lists(world: World) -> None:
    before = _api_seqs(world, {})
    shown, pages = _walk(world, {})
    # Each page read is itself appended; the pages see the log as it grows, the API's earlier read did not.
    assert shown[: len(before)] == before
    assert shown == sorted(shown)
    assert len(set(shown)) == len(shown)
    assert pages > 1


def test_filters_by_action_actor_target_and_time(world: World) -> None:
    doc = world.actors["doc_in"]
    username = doc.get("/api/v1/me").json()["username"]
    actor_id = f"user:{doc.user_id}"
    assert _get(world, "doc_out", f"/cases/{world.case_id}").status_code == 404  # a denied event
    cases = {
        "action": ({"action": "interview.update"}, {"action": "interview.update"}),
        "actor by username": ({"actor": username}, {"actor": actor_id}),
        "actor by id": ({"actor": actor_id}, {"actor": actor_id}),
        "target": ({"resource_id": world.interview_id}, {"resource_id": world.interview_id}),
        "outcome": ({"outcome": "denied"}, {"outcome": "denied"}),
    }
    for name, (shown_filter, api_filter) in cases.items():
        expected = _api_seqs(world, api_filter)
        assert expected, name
        shown, _ = _walk(world, shown_filter)
        assert shown == expected, name
    # A time range: the events from one event's time until another's, as the API's since/until give them.
    listed = world.actors["auditor"].get("/api/v1/audit/events", params={"limit": "200"}).json()["events"]
    since, until = listed[len(listed) // 5]["at"], listed[len(listed) * 4 // 5]["at"]
    expected = _api_seqs(world, {"since": since, "until": until})
    assert 0 < len(expected) < len(listed)
    shown, _ = _walk(world, {"since": since.removesuffix("Z"), "until": until.removesuffix("Z")})
    assert shown == expected
    # A typed time without an offset is UTC, the log's clock.
    shown, _ = _walk(world, {"since": since, "until": until})
    assert shown == expected


def test_actors_are_shown_by_username(world: World) -> None:
    doc = world.actors["doc_in"]
    username = doc.get("/api/v1/me").json()["username"]
    page = _get(world, "auditor", "/audit/events", {"actor": username}).text
    assert f'<a href="/audit/events?actor=user%3A{doc.user_id}">{username}</a>' in page
    assert f"<code>user:{doc.user_id}</code>" not in page


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "no.such_action"}, "choose an action from the list"),
        ({"outcome": "maybe"}, "choose an outcome from the list"),
        ({"since": "yesterday"}, "give a date and time"),
        ({"actor": "nobody-here"}, "no account has that username"),
    ],
)
def test_a_bad_filter_shows_the_form_again_with_the_error(world: World, params: dict[str, str], field: str) -> None:
    answer = _get(world, "auditor", "/audit/events", params)
    assert answer.status_code == 422
    assert field in answer.text
    assert 'id="filters"' in answer.text
    assert _shown_seqs(answer.text) == []


def test_an_unknown_parameter_is_refused_not_ignored(world: World) -> None:
    assert _get(world, "auditor", "/audit/events", {"user": "x"}).status_code == 422


def test_the_verification_names_what_verified(world: World) -> None:
    size = _sign(world.app)
    page = _get(world, "auditor", "/audit/status").text
    key_id = world.app.state.keys.current.signer.key_id
    assert f"Log verified up to event {size - 1} at " in page
    assert f"signed by key {key_id}" in page
    assert re.search(rf'<dd id="covered">{size}</dd>', page)
    last = world.actors["auditor"].get("/api/v1/audit/events", params={"action": "audit.verify"}).json()["events"]
    assert last[-1]["actor"] == f"user:{world.actors['auditor'].user_id}"


def test_a_log_that_does_not_verify_says_so(world: World) -> None:
    _sign(world.app)
    engine = create_engine(world.database.owner_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER audit_events_no_update"))
            else:
                conn.execute(text("DROP TRIGGER audit_events_no_change ON audit_events"))
            entry = conn.execute(text("SELECT entry FROM audit_events WHERE seq = 3")).scalar_one()
            changed = bytes(entry).replace(b'"outcome":"allowed"', b'"outcome":"failed"')
            assert changed != bytes(entry)
            conn.execute(text("UPDATE audit_events SET entry = :e WHERE seq = 3"), {"e": changed})
    finally:
        engine.dispose()
    answer = _get(world, "auditor", "/audit/status")
    assert answer.status_code == 200
    assert "The log does NOT verify" in answer.text
    assert 'role="alert"' in answer.text
    assert "do not hash to the signed root" in answer.text
    assert "Log verified up to" not in answer.text


def test_before_the_first_checkpoint_the_pages_say_what_to_do(app: FastAPI) -> None:
    auditor = actor(app, "aud", [Role.AUDITOR])
    auditor.client.follow_redirects = False
    status = auditor.client.get("/audit/status")
    assert status.status_code == 200
    assert "The log does NOT verify" in status.text
    assert "no checkpoint given: nothing vouches for the dump" in status.text
    assert "testimony audit checkpoint" in status.text
    assert "testimony audit checkpoint" in auditor.client.get("/audit/proofs").text
    missing = auditor.client.get("/audit/downloads/checkpoint")
    assert missing.status_code == 404
    assert "testimony audit checkpoint" in missing.text


def _offline_folder(tmp_path: Path) -> Path:
    """The verifier's files alone, in a folder of their own, as an auditor keeps them."""
    folder = tmp_path / "offline"
    for name in VERIFIER_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, folder / name)
    return folder


def _command_in(page: str, element: str) -> str:
    found = re.search(rf'<pre id="{element}" class="command"><code>([^<]+)</code></pre>', page)
    assert found, element
    return html.unescape(found.group(1))


def _download(world: World, page: str, element: str, folder: Path) -> Path:
    found = re.search(rf'<a href="([^"]+)" download="([^"]+)" id="{element}">', page)
    assert found, element
    link, name = html.unescape(found.group(1)), found.group(2)
    answer = _get(world, "auditor", link)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}"'
    (folder / name).write_bytes(answer.content)
    return folder / name


def _run(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """The printed command as an auditor types it, `python` being their interpreter."""
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "app.audit.verify"]
    return subprocess.run(
        [sys.executable, *argv[1:]], cwd=folder, capture_output=True, text=True, check=False, env={"PATH": ""}
    )


def test_each_download_verifies_with_the_command_printed_beside_it(world: World, tmp_path: Path) -> None:
    folder = _offline_folder(tmp_path)
    first = _sign(world.app)
    _get(world, "doc_in", f"/interviews/{world.interview_id}")  # more events
    second = _sign(world.app)

    proofs = _get(world, "auditor", "/audit/proofs").text
    for size in (first, second):
        name = f"checkpoint-{size}.txt"
        found = re.search(
            rf'download="{name}">{name}</a></td>\s*<td><code class="secret command">([^<]+)</code>', proofs
        )
        assert found, name
        answer = _get(world, "auditor", "/audit/downloads/checkpoint", {"size": str(size)})
        (folder / name).write_bytes(answer.content)
        done = _run(html.unescape(found.group(1)), folder)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"OK: the checkpoint of {size} entries is signed by the pinned key" in done.stdout

    seq = 5
    page = _get(world, "auditor", "/audit/proofs", {"seq": str(seq), "size": str(second)}).text
    command = _command_in(page, "inclusion-command")
    assert command.startswith(f"python -m app.audit.verify inclusion inclusion-{seq}-in-{second}.json --key ")
    proof = _download(world, page, "inclusion-download", folder)
    done = _run(command, folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK: event {seq} is in the tree of {second} entries signed by the pinned key" in done.stdout

    page = _get(world, "auditor", "/audit/proofs", {"first": str(first), "second": str(second)}).text
    command = _command_in(page, "consistency-command")
    consistency = _download(world, page, "consistency-download", folder)
    done = _run(command, folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK: the signed tree of {second} entries extends the signed tree of {first}" in done.stdout

    # The same commands fail on a file that was changed, or with a key that is not the one pinned.
    proof.write_text(proof.read_text().replace(f'"leaf_index": {seq}', f'"leaf_index": {seq + 1}'))
    bad = _run(
        _command_in(
            _get(world, "auditor", "/audit/proofs", {"seq": str(seq), "size": str(second)}).text, "inclusion-command"
        ),
        folder,
    )
    assert bad.returncode == 1
    assert "PROBLEM:" in bad.stdout
    swapped = consistency.read_text()
    consistency.write_text(swapped.replace(f'"first_size": {first}', f'"first_size": {first - 1}'))
    assert _run(command, folder).returncode == 1
    stranger = vkey(world.app.state.settings.audit.origin, Signer.from_seed(bytes([7]) * 32).public_key)
    other = command.rsplit("--key ", 1)[0] + "--key " + shlex.quote(stranger)
    consistency.write_text(swapped)
    assert _run(command, folder).returncode == 0
    assert _run(other, folder).returncode == 1


def test_a_proof_of_a_checkpoint_that_does_not_exist_is_refused(world: World) -> None:
    size = _sign(world.app)
    assert _get(world, "auditor", "/audit/downloads/inclusion", {"seq": "1", "size": str(size + 1)}).status_code == 404
    assert (
        _get(world, "auditor", "/audit/downloads/inclusion", {"seq": str(size), "size": str(size)}).status_code == 422
    )
    assert (
        _get(world, "auditor", "/audit/downloads/consistency", {"first": "1", "second": str(size)}).status_code == 404
    )
    assert _get(world, "auditor", "/audit/downloads/checkpoint", {"size": str(size + 1)}).status_code == 404
    assert _get(world, "auditor", "/audit/proofs", {"seq": "x", "size": "1"}).status_code == 422


def test_the_values_to_pin_are_the_keyring_s(world: World) -> None:
    page = _get(world, "auditor", "/audit/pin").text
    [key] = world.actors["auditor"].get("/api/v1/audit/public-key").json()["items"]
    for value in (key["fingerprint"], key["vkey"], key["public_key"], key["key_id"]):
        assert value in page
    assert "testimony keys status" in page


def test_the_ledger_lists_ids_as_the_api_does(world: World) -> None:
    rows = world.actors["auditor"].get("/api/v1/disclosures").json()["items"]
    assert any(r["id"] == world.ledger_id for r in rows)
    page = _get(world, "auditor", "/audit/disclosures").text
    for row in rows:
        for value in (row["id"], row["export_id"], row["recipient_id"], row["person_code"]):
            assert value in page


def test_no_other_role_reaches_an_auditor_page(world: World) -> None:
    size = _sign(world.app)
    downloads = (
        "/audit/downloads/checkpoint",
        f"/audit/downloads/inclusion?seq=0&size={size}",
        f"/audit/downloads/consistency?first={size}&second={size}",
    )
    for who in ("doc_in", "doc_out", "legal_in", "custodian", "admin"):
        for path in (*AUDITOR_PAGES, *downloads):
            answer = _get(world, who, path)
            assert answer.status_code == 403, (who, path)
            assert 'href="/audit/events"' not in answer.text  # nor the auditor's menu
    assert 'href="/audit/events"' in _get(world, "auditor", "/").text


def test_no_auditor_page_shows_content(world: World) -> None:
    doc = world.actors["doc_in"]
    path = f"/api/v1/interviews/{world.interview_id}"
    first = _sign(world.app)
    saved = doc.request("PUT", f"{path}/draft", json={"text": CANARY, "answers": []})
    assert saved.status_code == 200, saved.text
    confirmed = doc.post(
        f"{path}/statements",
        json={
            "version": 2,
            "draft_revision": DRAFT_REVISION + 1,
            "confirmed_by_interviewee": True,
            "read_back_in": "hy",
            "reason": "The whole account",
        },
    )
    assert confirmed.status_code == 201, confirmed.text
    # The canary is held, and readable by the documenter: a test that could not see it would prove nothing.
    assert CANARY in doc.get(f"{path}/draft").text
    size = _sign(world.app)
    seen: list[str] = []
    shown, _ = _walk(world, {})
    assert len(shown) >= size
    for page in AUDITOR_PAGES:
        seen.append(_get(world, "auditor", page).text)
    seen.append(_get(world, "auditor", "/audit/proofs", {"seq": str(size - 1), "size": str(size)}).text)
    seen.append(_get(world, "auditor", "/audit/downloads/checkpoint").text)
    seen.append(_get(world, "auditor", "/audit/downloads/inclusion", {"seq": str(size - 1), "size": str(size)}).text)
    seen.append(_get(world, "auditor", "/audit/downloads/consistency", {"first": str(first), "second": str(size)}).text)
    for text_seen in seen:
        assert "CANARY" not in text_seen
        assert "Lachin" not in text_seen


def test_every_auditor_page_is_recorded_as_its_api_twin(world: World) -> None:
    size = _sign(world.app)
    expected = {
        "/audit/events": ("audit.read", "audit_log"),
        "/audit/status": ("audit.verify", "audit_log"),
        "/audit/proofs": ("audit.read", "audit_checkpoint"),
        "/audit/pin": ("audit.read", "audit_key"),
        "/audit/disclosures": ("ledger.read", "disclosure"),
        "/audit/downloads/checkpoint": ("audit.read", "audit_checkpoint"),
        f"/audit/downloads/inclusion?seq=0&size={size}": ("audit.read", "audit_proof"),
        "/audit/downloads/consistency": ("audit.read", "audit_proof"),
    }
    for path, (action, resource) in expected.items():
        for who, outcome in (("auditor", "allowed"), ("admin", "denied")):
            assert _get(world, who, path).status_code == (200 if who == "auditor" else 403), path
            with unit_of_work(world.app.state.sessionmaker) as s:
                last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
                got = (last.action, last.resource_type, last.outcome, last.actor)
            assert got == (action, resource, outcome, f"user:{world.actors[who].user_id}"), path
