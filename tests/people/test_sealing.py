"""Canaries in every sealed field, in Latin and Armenian script, never reach disk or logs in clear."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.roles import Role
from tests.support.actors import actor
from tests.support.consent import identity, participation, person_in, recontact
from tests.support.database import ProvisionedDatabase

MARK = "q7Wc"


def canary(field: str) -> str:
    return f"{field}-Պետրոսյան-{MARK}"


def test_canaries_in_sealed_fields_stay_sealed(
    app: FastAPI,
    database: ProvisionedDatabase,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with caplog.at_level(logging.DEBUG):
        admin = actor(app, "adm", [Role.ADMIN])
        case = admin.post("/api/v1/cases", json={"code": "KB-1", "title": "Sealed"}).json()["id"]
        doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
        pid = person_in(doc, case)["id"]
        body = participation(
            app,
            place=canary("place"),
            witness={"name": canary("witness"), "role": canary("wrole")},
            withdrawal_code_word=canary("codeword"),
            notes=canary("notes"),
            interpreter={
                "name": canary("interp"),
                "accepted_by_interviewee": True,
                "confidentiality_signed": True,
                "conflict_check": "other",
                "conflict_note": canary("conflict"),
            },
            decisions={**participation(app)["decisions"], "re_contact": True},
            recontact={**recontact(), "if_someone_else_answers": canary("cover"), "safe_times": canary("times")},
        )
        assert doc.post(f"/api/v1/people/{pid}/participation", json=body).status_code == 201
        update = {
            "identity": {
                "full_name": canary("name"),
                "other_names": [canary("alias")],
                "place_of_origin": canary("origin"),
                "date_of_birth": "1970-05-01",
            },
            "contact": {**recontact(), "value": canary("phone"), "phone_owner": canary("owner")},
        }
        assert doc.request("PATCH", f"/api/v1/people/{pid}", json=update).status_code == 200
        read = doc.get(f"/api/v1/people/{pid}").json()
        assert read["identity"]["full_name"] == canary("name")
        assert read["contact"]["value"] == canary("phone")

    needles = [MARK.encode(), "Պետրոսյան".encode(), "Պետրոսյան".encode("utf-16-le")]
    for blob in _raw_storage(database):
        assert not any(n in blob for n in needles)
    out, err = capfd.readouterr()
    for printed in (caplog.text, out, err):
        assert MARK not in printed


def _raw_storage(database: ProvisionedDatabase) -> list[bytes]:
    if database.path is not None:
        files = [p for p in Path(database.path).parent.glob(Path(database.path).name + "*") if p.is_file()]
        assert len(files) >= 2, files  # the database and its WAL
        return [p.read_bytes() for p in files]
    dump = subprocess.run(
        ["pg_dump", database.owner_url.replace("+psycopg", "")],
        check=True,
        capture_output=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
    ).stdout
    assert b"participation_consents" in dump
    return [dump]


def test_forms_are_served_with_their_hashes(app: FastAPI) -> None:
    doc = actor(app, "reader", [Role.DOCUMENTER])
    forms = doc.get("/api/v1/consent-forms").json()["items"]
    assert [(f["form_id"], f["version"], f["languages"]) for f in forms] == [
        ("standard", "v1", ["en", "hy", "ru"]),
        ("standard", "v2", ["en", "hy", "ru"]),
    ]
    root = Path(__file__).resolve().parents[2] / "consent_forms" / "standard" / "v1"
    for language in ("en", "hy", "ru"):
        text = doc.get(f"/api/v1/consent-forms/standard/v1/{language}").json()
        raw = (root / f"{language}.md").read_bytes()
        assert text["sha256"] == hashlib.sha256(raw).hexdigest()
        assert text["content"].encode() == raw
    assert doc.get("/api/v1/consent-forms/standard/v1/fr").status_code == 404
    assert doc.get("/api/v1/consent-forms/standard/v7/en").status_code == 404


def _two_people_with_identity(app: FastAPI) -> tuple[Any, str, str]:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KB-9", "title": "Moves"}).json()["id"]
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
    ids = []
    for name in ("Narine Avetisyan", "Levon Harutyunyan"):
        pid = person_in(doc, case)["id"]
        assert doc.post(f"/api/v1/people/{pid}/participation", json=participation(app)).status_code == 201
        body = {"identity": {"full_name": name}, "contact": {**recontact(), "value": f"+374 {len(name)}"}}
        assert doc.request("PATCH", f"/api/v1/people/{pid}", json=body).status_code == 200
        ids.append(pid)
    return doc, ids[0], ids[1]


def _integrity_failure(doc: Any, pid: str) -> None:
    r = doc.get(f"/api/v1/people/{pid}")
    assert r.status_code == 500
    assert r.json()["title"] == "Integrity check failed"
    assert "Avetisyan" not in r.text
    assert "Harutyunyan" not in r.text


@pytest.mark.parametrize("move", ["row", "column", "data_key"])
def test_moved_ciphertexts_and_keys_fail_to_open(app: FastAPI, database: ProvisionedDatabase, move: str) -> None:
    doc, a, b = _two_people_with_identity(app)
    ids = {"a": uuid.UUID(a), "b": uuid.UUID(b)}
    if move == "row":
        database.as_owner(
            "UPDATE people SET identity = (SELECT identity FROM people WHERE id = :a) WHERE id = :b", **ids
        )
    elif move == "column":
        database.as_owner("UPDATE people SET identity = contact WHERE id = :b", b=ids["b"])
    else:
        database.as_owner(
            "UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE subject_id = :a) "
            "WHERE subject_id = :b",
            **ids,
        )
    _integrity_failure(doc, b)
    assert doc.get(f"/api/v1/people/{a}").json()["identity"]["full_name"] == "Narine Avetisyan"


def test_every_text_variant_is_served(app: FastAPI) -> None:
    doc = actor(app, "variants", [Role.DOCUMENTER])
    root = Path(__file__).resolve().parents[2] / "consent_forms" / "standard" / "v1"
    for variant, suffix in (("child", ".child"), ("guardian", ".guardian"), ("verbal_script", ".verbal-script")):
        r = doc.get(f"/api/v1/consent-forms/standard/v1/ru?variant={variant}").json()
        assert r["variant"] == variant
        assert r["sha256"] == hashlib.sha256((root / f"ru{suffix}.md").read_bytes()).hexdigest()
    assert doc.get("/api/v1/consent-forms/standard/v1/ru?variant=other").status_code == 422


def _integrity(r: Any) -> None:
    assert r.status_code == 500
    assert r.json()["title"] == "Integrity check failed"
    for name in ("Avetisyan", "Harutyunyan", "Grigoryan", "pomegranate"):
        assert name not in r.text


def test_a_refused_consent_edited_to_given_does_not_unlock_identity(
    app: FastAPI, database: ProvisionedDatabase
) -> None:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KB-7", "title": "Refusal"}).json()["id"]
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
    pid = person_in(doc, case)["id"]
    refused = participation(app, status="refused")
    assert doc.post(f"/api/v1/people/{pid}/participation", json=refused).status_code == 201
    assert doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()).json()["code"] == "consent_required"

    database.as_owner(
        "UPDATE participation_consents SET status = 'given', allows_collection = :yes WHERE person_id = :p",
        yes=True,
        p=uuid.UUID(pid),
    )
    _integrity(doc.request("PATCH", f"/api/v1/people/{pid}", json=identity()))
    assert database.as_owner("SELECT identity FROM people WHERE id = :p", p=uuid.UUID(pid)) == [(None,)]


@pytest.mark.parametrize(
    "edit",
    [
        "status = 'renewed'",
        "allows_collection = NOT allows_collection",
        "version = version + 1",
        "obtained_at = obtained_at - INTERVAL '1 day'",
    ],
    ids=["status", "allows_collection", "version", "obtained_at"],
)
def test_edited_consent_columns_fail_the_integrity_check(
    app: FastAPI, database: ProvisionedDatabase, edit: str
) -> None:
    doc, a, _ = _two_people_with_identity(app)
    if "INTERVAL" in edit and not database.is_postgres:
        edit = "obtained_at = datetime(obtained_at, '-1 day')"
    database.as_owner(f"UPDATE participation_consents SET {edit} WHERE person_id = :p", p=uuid.UUID(a))
    _integrity(doc.get(f"/api/v1/people/{a}/participation"))
    _integrity(doc.get(f"/api/v1/people/{a}"))
    _integrity(doc.request("PATCH", f"/api/v1/people/{a}", json={"contact": {**recontact(), "value": "+374 1"}}))


def test_swapped_codes_do_not_serve_one_person_under_the_other(app: FastAPI, database: ProvisionedDatabase) -> None:
    doc, a, b = _two_people_with_identity(app)
    code_a, code_b = (doc.get(f"/api/v1/people/{p}").json()["code"] for p in (a, b))
    for pid, code in ((a, "TMP-0000"), (b, code_a), (a, code_b)):
        database.as_owner("UPDATE people SET code = :code WHERE id = :p", code=code, p=uuid.UUID(pid))
    _integrity(doc.get(f"/api/v1/people/{a}"))
    _integrity(doc.get(f"/api/v1/people/{b}"))


def test_a_person_moved_to_another_case_is_not_readable_by_its_team(
    app: FastAPI, database: ProvisionedDatabase
) -> None:
    _, a, _ = _two_people_with_identity(app)
    admin = actor(app, "adm2", [Role.ADMIN])
    other = admin.post("/api/v1/cases", json={"code": "KB-10", "title": "Other"}).json()["id"]
    outsider = actor(app, "doc2", [Role.DOCUMENTER], cases=(uuid.UUID(other),))
    assert outsider.get(f"/api/v1/people/{a}").status_code == 404

    database.as_owner("UPDATE people SET case_id = :c WHERE id = :p", c=uuid.UUID(other), p=uuid.UUID(a))
    _integrity(outsider.get(f"/api/v1/people/{a}"))
    _integrity(outsider.get(f"/api/v1/people/{a}/participation"))
