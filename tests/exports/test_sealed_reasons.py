"""What staff write about an export is sealed at rest, through the real app, on SQLite and PostgreSQL: a
custodian's reason for a decision (under the service key) and why a ledger row was submitted to proceedings
(under the person's key). A raw SELECT of the tables shows no canary; the API and the pages show it to those
who may read the export or its recall notices, and to nobody else; erasing the person makes the submission's
reason unreadable and says so calmly; reasons stored in the clear by an earlier version are sealed by
``testimony init``, once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.access.roles import Role
from app.cli import cli
from tests.erasure.support import erase
from tests.exports.test_recalls import _recalls, _withdraw_all
from tests.support.actors import Actor, actor
from tests.support.consent import grant
from tests.support.database import ProvisionedDatabase
from tests.support.exports import Desk, desk

DECIDED = "Canary-Decision-7f3a: the witness Anahit K. is named in the third account."
SUBMITTED = "Canary-Submitted-91bc: filed as exhibit 12 in the case of Anahit K."


@pytest.fixture
def d(app: FastAPI) -> Desk:
    return desk(app)


def _raw(database: ProvisionedDatabase, table: str) -> str:
    """Every row of a table, as the database holds it (bytes shown as they are)."""
    return repr(database.as_owner(f"SELECT * FROM {table}"))


def _page(who: Actor, path: str) -> Any:
    who.client.follow_redirects = False
    return who.client.get(path)


def _decided(d: Desk) -> str:
    d.person(grant())
    export = d.request()["id"]
    d.review(export)
    refused = d.custodians[0].post(f"/api/v1/exports/{export}/reject", json={"reason": DECIDED})
    assert refused.status_code == 200, refused.text
    return str(export)


def test_a_decisions_reason_is_sealed_and_shown_only_to_who_reads_the_export(
    app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    export = _decided(d)
    for table in ("export_approvals", "export_requests", "audit_events"):
        assert "Canary-Decision" not in _raw(database, table), table
    [row] = database.as_owner("SELECT reason, sealed_reason FROM export_approvals")
    clear, sealed = tuple(row)
    assert clear is None  # nothing in the clear
    assert sealed

    for who in (d.legal, *d.custodians):  # the requester and every custodian
        [decision] = who.get(f"/api/v1/exports/{export}").json()["approvals"]
        assert (decision["decision"], decision["reason"]) == ("reject", DECIDED)
        shown = _page(who, f"/exports/{export}")
        assert shown.status_code == 200
        assert "the witness Anahit K. is named in the third account" in shown.text
    other = actor(app, "lawyer2", [Role.LEGAL], cases=(uuid.UUID(d.case_id),))  # on the team, did not ask
    assert other.get(f"/api/v1/exports/{export}").status_code == 404
    assert "Canary-Decision" not in other.get("/api/v1/exports").text
    assert _page(other, f"/exports/{export}").status_code == 404
    assert d.doc.get(f"/api/v1/exports/{export}").status_code == 403


def test_a_decision_reason_moved_to_another_decision_does_not_open(
    app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    """Sealed bound to its export, custodian and decision: a writer of the database who turns a rejection into
    an approval cannot keep its reason."""
    export = _decided(d)
    database.as_owner("UPDATE export_approvals SET decision = 'approve'")
    tampered = d.custodians[0].get(f"/api/v1/exports/{export}")
    assert (tampered.status_code, tampered.json()["title"]) == (500, "Integrity check failed")
    assert "Canary" not in tampered.text
    database.as_owner("UPDATE export_approvals SET decision = 'reject'")
    assert d.custodians[0].get(f"/api/v1/exports/{export}").json()["approvals"][0]["reason"] == DECIDED


def _submitted(app: FastAPI, d: Desk) -> tuple[str, str, str]:
    """A person in a downloaded export, recalled after a withdrawal, whose ledger row a custodian marked submitted
    to proceedings: the person, the export and the ledger row."""
    person = d.person(grant())
    d.person(grant())
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    _withdraw_all(d, person)
    [notice] = _recalls(d.custodians[0])
    marked = d.custodians[0].post(
        f"/api/v1/exports/{export}/ledger/{notice['ledger_id']}/submitted", json={"reason": SUBMITTED}
    )
    assert marked.status_code == 200, marked.text
    assert SUBMITTED not in marked.text
    return person, export, notice["ledger_id"]


def test_a_submissions_reason_is_sealed_under_the_person_and_goes_with_their_erasure(
    app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    person, _export, ledger = _submitted(app, d)
    for table in ("disclosure_ledger", "recall_notices", "audit_events"):
        assert "Canary-Submitted" not in _raw(database, table), table
    [row] = database.as_owner(
        "SELECT submitted_reason, sealed_submitted_reason FROM disclosure_ledger WHERE id = :id", id=uuid.UUID(ledger)
    )
    clear, sealed = tuple(row)
    assert clear is None  # nothing in the clear
    assert sealed

    for who in (d.legal, *d.custodians):  # custodians, and the legal user who asked for the export
        [notice] = _recalls(who)
        assert (notice["submitted_reason"], notice["submitted_reason_erased"]) == (SUBMITTED, False)
        page = _page(who, "/recalls")
        assert page.status_code == 200
        assert "filed as exhibit 12 in the case of Anahit K." in page.text
    other = actor(app, "lawyer2", [Role.LEGAL], cases=(uuid.UUID(d.case_id),))
    assert _recalls(other) == []
    assert d.doc.get("/api/v1/recalls").status_code == 403

    erase(*d.custodians, person)
    for who in (d.legal, d.custodians[0]):
        [notice] = _recalls(who)
        assert (notice["submitted_reason"], notice["submitted_reason_erased"]) == (None, True)
        assert notice["kind"] == "request"  # still submitted: only the reason went
        page = _page(who, "/recalls")
        assert page.status_code == 200
        assert "The reason was erased with the person." in page.text
        assert "Anahit" not in page.text


def test_a_row_of_a_person_erased_already_is_marked_with_no_reason_kept(
    app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    person = d.person(grant())
    d.person(grant())
    export, _ = d.ready()
    assert d.legal.get(f"/api/v1/exports/{export}/bundle").status_code == 200
    erase(*d.custodians, person)
    [notice] = _recalls(d.custodians[0])  # the erasure recalled what was downloaded
    path = f"/api/v1/exports/{export}/ledger/{notice['ledger_id']}/submitted"
    marked = d.custodians[0].post(path, json={"reason": SUBMITTED})
    assert marked.status_code == 200, marked.text
    assert "Canary-Submitted" not in _raw(database, "disclosure_ledger")
    [notice] = _recalls(d.custodians[0])
    assert (notice["kind"], notice["submitted_reason"], notice["submitted_reason_erased"]) == ("request", None, True)


def _cli_env(cli_env: dict[str, str], database: ProvisionedDatabase) -> dict[str, str]:
    """`testimony init` as it is run: as the owner, naming the application role."""
    env = {**cli_env, "TESTIMONY_DATABASE__URL": database.owner_url}
    if database.app_role:
        env["TESTIMONY_DATABASE__APP_ROLE"] = database.app_role
    return env


def test_init_seals_the_reasons_an_earlier_version_stored_in_the_clear_once(
    app: FastAPI, d: Desk, database: ProvisionedDatabase, cli_env: dict[str, str]
) -> None:
    export = _decided(d)
    _person, _export, ledger = _submitted(app, d)
    # As an earlier version wrote them: in the clear, nothing sealed.
    database.as_owner("UPDATE export_approvals SET reason = :r, sealed_reason = NULL", r=DECIDED)
    database.as_owner(
        "UPDATE disclosure_ledger SET submitted_reason = :r, sealed_submitted_reason = NULL WHERE id = :id",
        r=SUBMITTED,
        id=uuid.UUID(ledger),
    )
    assert "Canary-Decision" in _raw(database, "export_approvals")
    # Read before init runs again: still shown, not lost.
    assert d.legal.get(f"/api/v1/exports/{export}").json()["approvals"][0]["reason"] == DECIDED

    first = CliRunner().invoke(cli, ["init"], env=_cli_env(cli_env, database))
    assert first.exit_code == 0, first.output
    assert "sealed 3 reasons stored in the clear" in first.output  # a rejection, an approval, a submission
    assert "Canary" not in first.output
    assert "Canary-Decision" not in _raw(database, "export_approvals")
    assert "Canary-Submitted" not in _raw(database, "disclosure_ledger")
    assert d.legal.get(f"/api/v1/exports/{export}").json()["approvals"][0]["reason"] == DECIDED
    [notice] = _recalls(d.custodians[0])
    assert notice["submitted_reason"] == SUBMITTED

    again = CliRunner().invoke(cli, ["init"], env=_cli_env(cli_env, database))
    assert again.exit_code == 0, again.output
    assert "sealed" not in again.output
    assert d.legal.get(f"/api/v1/exports/{export}").json()["approvals"][0]["reason"] == DECIDED


def test_a_key_missing_for_a_person_not_erased_is_an_integrity_failure_not_an_erasure(
    app: FastAPI, d: Desk, database: ProvisionedDatabase
) -> None:
    """Only an erasure reads calmly as "erased": a data key deleted behind the service's back is reported."""
    person, _export, _ledger = _submitted(app, d)
    database.as_owner("DELETE FROM data_keys WHERE subject_id = :p", p=uuid.UUID(person))
    broken = d.custodians[0].get("/api/v1/recalls")
    assert (broken.status_code, broken.json()["title"]) == (500, "Integrity check failed")
    assert "Canary" not in broken.text
