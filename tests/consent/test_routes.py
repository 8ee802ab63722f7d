"""Consent forms through the HTTP API: the whole form per language, and errors that list the form's own values."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI

from app.access.roles import Role
from app.core.errors import ValidationFailed
from tests.support.actors import Actor, actor
from tests.support.consent import documenter_team, participation, person_in, text_hash

FORMS = Path(__file__).resolve().parents[2] / "consent_forms" / "standard"
FORM_DIR = FORMS / "v1"
# Read independently of the loader under test: what the form's authors wrote.
DECLARED: dict[str, Any] = yaml.safe_load((FORM_DIR / "form.yaml").read_text(encoding="utf-8"))
DECLARED_BY_VERSION = {v: yaml.safe_load((FORMS / v / "form.yaml").read_text(encoding="utf-8")) for v in ("v1", "v2")}


def _as_read(version: str, code: str, name: str) -> str:
    """The SHA-256 of a text as read: the file with the version's parameters filled in."""
    text = (FORMS / version / name).read_text(encoding="utf-8")
    for parameter, values in DECLARED_BY_VERSION[version].get("parameters", {}).items():
        text = re.sub(r"\{\{\s*" + parameter + r"\s*\}\}", values[code], text)
    return hashlib.sha256(text.encode()).hexdigest()


LABELLED = ("recipient_classes", "data_categories", "disclosure_levels", "receipt_options", "retention_options")


@pytest.fixture
def reader(app: FastAPI) -> Actor:
    return actor(app, "reader", [Role.LEGAL])


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_form_is_served_whole_in_every_language(app: FastAPI, reader: Actor, version: str) -> None:
    """Decisions and teach-back questions (adult and child) exist in every language and match form.yaml."""
    declared = DECLARED_BY_VERSION[version]
    r = reader.get(f"/api/v1/consent-forms/standard/{version}")
    assert r.status_code == 200, r.text
    form = r.json()
    assert (form["form_id"], form["version"], form["source_language"]) == ("standard", version, "en")
    assert form["review"] == "unreviewed"
    summaries = {s["version"]: s for s in reader.get("/api/v1/consent-forms").json()["items"]}
    assert (summaries[version]["digest"], summaries[version]["review"]) == (form["digest"], "unreviewed")
    assert form["complaints_email"] == declared["organisation"]["complaints_email"]
    assert form["sections"] == declared["sections"]
    assert [lang["code"] for lang in form["languages"]] == ["en", "hy", "ru"]
    for lang in form["languages"]:
        code = lang["code"]
        assert lang["name"] == declared["languages"][code]["name"]
        assert lang["title"] == declared["title"][code]
        assert lang["organisation"] == declared["organisation"]["name"][code]
        assert (lang["review"], lang["reviewers"]) == ("source" if code == "en" else "unreviewed", [])
        files = declared["languages"][code]["texts"]
        assert {t["variant"]: t["sha256"] for t in lang["texts"]} == {
            variant: _as_read(version, code, name) for variant, name in files.items()
        }
        assert [(d["id"], d["label"], d["question"]) for d in lang["decisions"]] == [
            (key, entry["label"][code], entry["question"][code]) for key, entry in declared["decisions"].items()
        ]
        assert [(q["id"], q["question"], q["listen_for"]) for q in lang["teach_back"]] == [
            (key, entry["question"][code], entry["listen_for"][code]) for key, entry in declared["teach_back"].items()
        ]
        child = declared.get("child_teach_back", {})
        assert [(q["id"], q["question"], q["listen_for"]) for q in lang["child_teach_back"]] == [
            (key, entry["question"][code], entry["listen_for"][code]) for key, entry in child.items()
        ]
        assert (version == "v2") == bool(child)
        assert [(p["id"], p["label"], p["example_recipient"]) for p in lang["purposes"]] == [
            (key, entry["label"][code], entry["example_recipient"][code]) for key, entry in declared["purposes"].items()
        ]
        for kind in LABELLED:
            assert [(t["id"], t["label"]) for t in lang[kind]] == [
                (key, labels[code]) for key, labels in declared[kind].items()
            ], kind


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_whole_form_leaves_nothing_of_form_yaml_to_read(reader: Actor, version: str) -> None:
    """Every part of form.yaml a client shows has its place in the answer; the rest is the form's own bookkeeping."""
    form = reader.get(f"/api/v1/consent-forms/standard/{version}").json()
    language = form["languages"][0]
    served = set(form) | set(language) | {"form", "title", "organisation"}
    assert set(DECLARED_BY_VERSION[version]) - served == set()
    if version == "v2":
        assert language["parameters"] == {k: v["en"] for k, v in DECLARED_BY_VERSION["v2"]["parameters"].items()}


def test_the_texts_named_by_the_whole_form_are_the_ones_served(reader: Actor) -> None:
    form = reader.get("/api/v1/consent-forms/standard/v1").json()
    hy = next(lang for lang in form["languages"] if lang["code"] == "hy")
    for text in hy["texts"]:
        served = reader.get(f"/api/v1/consent-forms/standard/v1/hy?variant={text['variant']}").json()
        assert served["sha256"] == text["sha256"]


def _problem(r: Any, status: int, allowed: str, sent: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert sent not in r.text  # never echoes what was sent
    problem: dict[str, Any] = r.json()
    assert allowed in problem["detail"], problem["detail"]
    return problem


def test_form_errors_list_the_allowed_values_and_never_the_request(reader: Actor) -> None:
    unknown_version = reader.get("/api/v1/consent-forms/standard/v77")
    assert _problem(unknown_version, 404, "published: standard/v1", "v77")["fields"] == ["form_id", "version"]
    unknown_form = reader.get("/api/v1/consent-forms/zzqx/v1/en")
    _problem(unknown_form, 404, "published: standard/v1", "zzqx")
    unknown_language = reader.get("/api/v1/consent-forms/standard/v1/qqx")
    assert _problem(unknown_language, 404, "its languages: en, hy, ru", "qqx")["fields"] == ["language"]
    variant = reader.get("/api/v1/consent-forms/standard/v1/en?variant=zzqx")
    assert variant.status_code == 422
    assert "zzqx" not in variant.text
    assert variant.json()["errors"] == [
        {"field": "variant", "problem": "literal_error", "allowed": "'main', 'child', 'guardian' or 'verbal_script'"}
    ]


@pytest.mark.parametrize(
    ("change", "field", "allowed", "sent"),
    [
        ({"form_id": "zzqx"}, "form_id", "published: standard/v1", "zzqx"),
        ({"form_version": "v77"}, "form_version", "published: standard/v1", "v77"),
        ({"language": "qqx"}, "language", "its languages: en, hy, ru", "qqx"),
        ({"retention": "P77Y"}, "retention", "retention periods: P5Y, P10Y, P25Y", "P77Y"),
        ({"text_sha256": "7" * 64}, "text_sha256", "main ", "7" * 64),
    ],
    ids=lambda v: str(v)[:30],
)
def test_participation_errors_list_the_forms_values(
    app: FastAPI, change: dict[str, Any], field: str, allowed: str, sent: str
) -> None:
    doc, case_id = documenter_team(app)
    pid = person_in(doc, case_id)["id"]
    r = doc.post(f"/api/v1/people/{pid}/participation", json=participation(app, **change))
    problem = _problem(r, 422, allowed, sent)
    assert field in problem["fields"]
    if field == "text_sha256":
        # The hashes of the language's texts, to tell which text was meant.
        for variant in ("main", "child", "guardian", "verbal_script"):
            assert f"{variant} {text_hash(app, 'en', variant)}" in problem["detail"]


def test_an_unknown_teach_back_question_lists_the_questions(app: FastAPI) -> None:
    doc, case_id = documenter_team(app)
    pid = person_in(doc, case_id)["id"]
    body = participation(app, teach_back={"voluntariness": "pass", "zzqx_question": "pass"})
    r = doc.post(f"/api/v1/people/{pid}/participation", json=body)
    assert r.status_code == 422
    assert "zzqx" not in r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "teach_back"
    assert error["problem"] == "enum"
    for question in DECLARED["teach_back"]:
        assert f"'{question}'" in error["allowed"]


def test_the_registry_refuses_an_unknown_variant_listing_the_variants(app: FastAPI) -> None:
    """The route's own check answers first; the registry does not rely on it."""
    with pytest.raises(ValidationFailed) as refused:
        app.state.runtime.forms.text("standard", "v1", "en", "zzqx")
    assert refused.value.detail.endswith("the variants: main, child, guardian, verbal_script")
    assert "zzqx" not in refused.value.detail
