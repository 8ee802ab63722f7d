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
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from app.access.roles import Role
from tests.support.actors import actor
from tests.support.consent import participation, person_in, recontact
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
        doc = actor(app, "doc", [Role.DOCUMENTER], with_totp=False, cases=(uuid.UUID(case),))
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
    doc = actor(app, "reader", [Role.DOCUMENTER], with_totp=False)
    forms = doc.get("/api/v1/consent-forms").json()
    assert [(f["form_id"], f["version"], f["languages"]) for f in forms] == [("standard", "v1", ["en", "hy", "ru"])]
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
    doc = actor(app, "doc", [Role.DOCUMENTER], with_totp=False, cases=(uuid.UUID(case),))
    ids = []
    for name in ("Narine Avetisyan", "Levon Harutyunyan"):
        pid = person_in(doc, case)["id"]
        assert doc.post(f"/api/v1/people/{pid}/participation", json=participation(app)).status_code == 201
        body = {"identity": {"full_name": name}, "contact": {**recontact(), "value": f"+374 {len(name)}"}}
        assert doc.request("PATCH", f"/api/v1/people/{pid}", json=body).status_code == 200
        ids.append(pid)
    return doc, ids[0], ids[1]


def _raw(database: ProvisionedDatabase, sql: str, **params: object) -> None:
    engine = create_engine(database.owner_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(sql), {k: _db_id(engine, v) for k, v in params.items()})
    engine.dispose()


def _db_id(engine: Engine, value: object) -> object:
    as_uuid = uuid.UUID(str(value))
    return as_uuid.hex if engine.dialect.name == "sqlite" else as_uuid


def _integrity_failure(doc: Any, pid: str) -> None:
    r = doc.get(f"/api/v1/people/{pid}")
    assert r.status_code == 500
    assert r.json()["title"] == "Integrity check failed"
    assert "Avetisyan" not in r.text
    assert "Harutyunyan" not in r.text


@pytest.mark.parametrize("move", ["row", "column", "data_key"])
def test_moved_ciphertexts_and_keys_fail_to_open(app: FastAPI, database: ProvisionedDatabase, move: str) -> None:
    doc, a, b = _two_people_with_identity(app)
    if move == "row":
        _raw(
            database, "UPDATE people SET identity = (SELECT identity FROM people WHERE id = :a) WHERE id = :b", a=a, b=b
        )
    elif move == "column":
        _raw(database, "UPDATE people SET identity = contact WHERE id = :b", b=b)
    else:
        _raw(
            database,
            "UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE subject_id = :a) "
            "WHERE subject_id = :b",
            a=a,
            b=b,
        )
    _integrity_failure(doc, b)
    assert doc.get(f"/api/v1/people/{a}").json()["identity"]["full_name"] == "Narine Avetisyan"


def test_every_text_variant_is_served(app: FastAPI) -> None:
    doc = actor(app, "variants", [Role.DOCUMENTER], with_totp=False)
    root = Path(__file__).resolve().parents[2] / "consent_forms" / "standard" / "v1"
    for variant, suffix in (("child", ".child"), ("guardian", ".guardian"), ("verbal_script", ".verbal-script")):
        r = doc.get(f"/api/v1/consent-forms/standard/v1/ru?variant={variant}").json()
        assert r["variant"] == variant
        assert r["sha256"] == hashlib.sha256((root / f"ru{suffix}.md").read_bytes()).hexdigest()
    assert doc.get("/api/v1/consent-forms/standard/v1/ru?variant=other").status_code == 422
