"""Translation review: sign-offs outside the pinned files, what `forms check` refuses, and what the service
serves in and outside development mode."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.access.roles import Role
from app.consent.forms import FormError, load_form
from app.consent.forms_cli import forms_cli
from app.consent.published import publish
from app.consent.registry import FormRegistry
from app.consent.review import ReviewState, read_review
from app.core.config import Settings, get_settings
from app.keys.store import Keys
from app.main import create_app
from tests.conftest import production
from tests.consent.test_forms import REPO_FORMS, edit_form
from tests.support.actors import actor

TEXT_DATE = date(2026, 11, 20)
TODAY = date(2026, 11, 30)
TEMPLATE_EMAIL = "complaints@independent-panel.example"
REAL_EMAIL = "complaints@karabakh-testimony-panel.org"


def make_version(root: Path, version: str, *, email: str = REAL_EMAIL, publish_it: bool = True) -> Path:
    """A copy of v1 as another version that dates its texts, with a real-looking complaints contact."""
    folder = root / "standard" / version
    shutil.copytree(REPO_FORMS / "standard" / "v1", folder)
    for text in folder.glob("*.md"):
        text.write_text(text.read_text(encoding="utf-8").replace(TEMPLATE_EMAIL, email), encoding="utf-8")

    def change(doc: dict[str, Any]) -> None:
        doc["version"] = version
        doc["organisation"]["complaints_email"] = email
        for language in doc["languages"].values():
            language["changed"] = TEXT_DATE.isoformat()

    edit_form(folder, change)
    if publish_it:
        publish(root, "standard", version)
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A forms root with one published version, v7, that dates its texts and names a real contact."""
    root = tmp_path / "forms"
    make_version(root, "v7")
    return root


def reviewers(*people: tuple[str, str, date]) -> list[dict[str, str]]:
    return [{"name": n, "role": r, "date": d.isoformat()} for n, r, d in people]


HY_TEAM = reviewers(
    ("Anahit Hovhannisyan", "court interpreter, native Eastern Armenian speaker from Stepanakert", date(2026, 11, 24)),
    ("Gevorg Sargsyan", "psychologist working with displaced families", date(2026, 11, 25)),
)
RU_TEAM = reviewers(
    ("Elena Morozova", "sworn translator, native Russian speaker", date(2026, 11, 26)),
    ("Arsen Grigoryan", "lawyer, native Russian speaker", date(2026, 11, 27)),
)


def sign(root: Path, **teams: list[dict[str, str]]) -> None:
    form = load_form(root, "standard", "v7")
    doc = {code: {"text_sha256": form.language_digest(code), "reviewers": team} for code, team in teams.items()}
    (root / "standard" / "v7" / "signoffs.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def review_of(root: Path) -> ReviewState:
    return read_review(root, load_form(root, "standard", "v7"), TODAY).state


def test_a_version_is_reviewed_once_every_translation_has_two_reviewers(root: Path) -> None:
    assert review_of(root) is ReviewState.UNREVIEWED  # v1's sign-offs inside form.yaml do not count
    sign(root, hy=HY_TEAM)
    review = read_review(root, load_form(root, "standard", "v7"), TODAY)
    assert (review.state, review.unreviewed) == (ReviewState.UNREVIEWED, ["ru"])
    sign(root, hy=HY_TEAM, ru=RU_TEAM)
    assert review_of(root) is ReviewState.REVIEWED


def _first_role(value: str) -> list[dict[str, str]]:
    return [{**HY_TEAM[0], "role": value}, HY_TEAM[1]]


@pytest.mark.parametrize(
    ("team", "message"),
    [
        pytest.param(_first_role("certified translator (fictional template reviewer)"), "role is a placeholder"),
        pytest.param(_first_role("TBD"), "role is a placeholder", id="tbd"),
        pytest.param([{**HY_TEAM[0], "name": "<reviewer name>"}, HY_TEAM[1]], "name is a placeholder", id="name"),
        pytest.param(HY_TEAM[:1], "a translation needs 2 reviewers", id="one-reviewer"),
        pytest.param([HY_TEAM[0], {**HY_TEAM[1], "name": " anahit  HOVHANNISYAN"}], "2 different people", id="twice"),
        pytest.param(
            [HY_TEAM[0], {**HY_TEAM[1], "date": (TEXT_DATE - timedelta(days=1)).isoformat()}],
            "signed on 2026-11-19, before the text last changed on 2026-11-20",
            id="older-than-text",
        ),
        pytest.param(
            [HY_TEAM[0], {**HY_TEAM[1], "date": (TODAY + timedelta(days=9)).isoformat()}],
            "which is in the future",
            id="future",
        ),
        pytest.param([HY_TEAM[0], {**HY_TEAM[1], "date": "soon"}], "date must be an ISO date", id="not-a-date"),
        pytest.param(_first_role("full name"), "role is a placeholder", id="full-name"),
        pytest.param(_first_role("role, e.g. certified translator"), "role is a placeholder", id="eg"),
        pytest.param([{**HY_TEAM[0], "name": "Reviewer 1"}, HY_TEAM[1]], "name is a placeholder", id="numbered"),
        pytest.param([{**HY_TEAM[0], "name": "Имя Фамилия"}, HY_TEAM[1]], "name is a placeholder", id="ru-name"),
        pytest.param(_first_role("шаблон"), "role is a placeholder", id="ru-template"),
        pytest.param(_first_role("օրինակ թարգմանիչ"), "role is a placeholder", id="hy-example"),
        pytest.param([{**HY_TEAM[0], "name": "Անուն Ազգանուն"}, HY_TEAM[1]], "name is a placeholder", id="hy-name"),
        pytest.param(_first_role("\u0435xample"), "mixes letters of different alphabets", id="look-alike"),
        pytest.param(_first_role("exa\u200bmple"), "invisible or control characters", id="invisible"),
        pytest.param(
            _first_role("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45"), "role is a placeholder", id="fullwidth"
        ),
        pytest.param(
            [HY_TEAM[0], {**HY_TEAM[1], "name": "Hovhannisyan, Anahit."}], "2 different people", id="reordered"
        ),
        pytest.param([HY_TEAM[0], {**HY_TEAM[1], "name": "A. Hovhannisyan"}], "2 different people", id="initial"),
        pytest.param(_first_role("\ud800"), "not valid Unicode", id="lone-surrogate"),
    ],
)
def test_a_sign_off_that_cannot_count_is_refused(root: Path, team: list[dict[str, str]], message: str) -> None:
    sign(root, hy=team, ru=RU_TEAM)

    with pytest.raises(FormError, match=r"standard/v7: signoffs\.yaml: language 'hy'.*" + message):
        review_of(root)


def test_a_changed_source_text_undoes_the_translations_sign_off(tmp_path: Path) -> None:
    """A translation is reviewed against the source: what it signs covers the source texts too."""
    root = tmp_path / "forms"
    folder = make_version(root, "v7", publish_it=False)
    sign(root, hy=HY_TEAM, ru=RU_TEAM)
    english = folder / "en.md"
    english.write_text(english.read_text(encoding="utf-8") + "\nNobody outside our team will see it.\n", "utf-8")

    with pytest.raises(FormError, match=r"language 'hy': the sign-off is for another text"):
        review_of(root)


def test_a_sign_off_file_that_is_not_a_regular_file_is_refused(root: Path) -> None:
    path = root / "standard" / "v7" / "signoffs.yaml"
    path.mkdir()
    with pytest.raises(FormError, match=r"signoffs\.yaml is not a regular file"):
        review_of(root)
    path.rmdir()
    os.mkfifo(path)  # a read would wait for a writer for ever
    with pytest.raises(FormError, match=r"signoffs\.yaml is not a regular file"):
        review_of(root)


def test_merge_keys_are_refused(root: Path) -> None:
    (root / "standard" / "v7" / "signoffs.yaml").write_text("hy: {}\n<<: {ru: {}}\n", encoding="utf-8")
    with pytest.raises(FormError, match=r"merge keys \(<<\) are not allowed"):
        review_of(root)


def test_a_sign_off_for_other_text_is_refused(root: Path) -> None:
    sign(root, hy=HY_TEAM, ru=RU_TEAM)
    doc = yaml.safe_load((root / "standard" / "v7" / "signoffs.yaml").read_text(encoding="utf-8"))
    doc["ru"]["text_sha256"] = "0" * 64
    (root / "standard" / "v7" / "signoffs.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    with pytest.raises(FormError, match=r"language 'ru': the sign-off is for another text"):
        review_of(root)


def test_the_source_language_and_unknown_languages_take_no_sign_off(root: Path) -> None:
    sign(root, en=HY_TEAM)
    with pytest.raises(FormError, match=r"language 'en' is the source language"):
        review_of(root)
    (root / "standard" / "v7" / "signoffs.yaml").write_text("fr: {}\n", encoding="utf-8")
    with pytest.raises(FormError, match=r"language 'fr' is not a language of this version; its languages: en, hy"):
        review_of(root)


def test_a_version_that_does_not_date_its_texts_cannot_be_signed_off(tmp_path: Path) -> None:
    """v1 declares no date for its texts: a sign-off cannot be checked against them, so none counts."""
    root = tmp_path / "forms"
    shutil.copytree(REPO_FORMS, root)
    form = load_form(root, "standard", "v1")
    doc = {"hy": {"text_sha256": form.language_digest("hy"), "reviewers": HY_TEAM}}
    (root / "standard" / "v1" / "signoffs.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    with pytest.raises(FormError, match=r"does not say when its texts last changed"):
        read_review(root, form, TODAY)


def test_a_published_text_is_signed_off_later_without_changing_it(root: Path) -> None:
    before = {p.name: p.read_bytes() for p in (root / "standard" / "v7").iterdir()}
    sign(root, hy=HY_TEAM, ru=RU_TEAM)

    assert {p.name: p.read_bytes() for p in (root / "standard" / "v7").iterdir() if p.name in before} == before
    assert CliRunner().invoke(forms_cli, ["check", "--root", str(root)]).exit_code == 0


# The command line


runner = CliRunner()


@pytest.mark.parametrize(
    ("team", "message"),
    [
        pytest.param(_first_role("fictional template reviewer"), "the role is a placeholder", id="placeholder"),
        pytest.param(HY_TEAM[:1], "a translation needs 2 reviewers", id="single-reviewer"),
        pytest.param(
            [HY_TEAM[0], {**HY_TEAM[1], "date": "2026-11-01"}], "before the text last changed", id="older-than-text"
        ),
    ],
)
def test_forms_check_refuses_a_sign_off_that_cannot_count(root: Path, team: list[dict[str, str]], message: str) -> None:
    sign(root, hy=team, ru=RU_TEAM)

    result = runner.invoke(forms_cli, ["check", "--root", str(root)], env={"COLUMNS": "300"})

    assert result.exit_code == 1
    assert "standard/v7: signoffs.yaml: language 'hy'" in result.output
    assert message in result.output
    assert "sign-off refused" in result.output


def test_forms_check_and_review_show_what_is_unreviewed_and_what_to_sign(root: Path) -> None:
    sign(root, hy=HY_TEAM)
    digest = load_form(root, "standard", "v7").language_digest("ru")

    checked = runner.invoke(forms_cli, ["check", "--root", str(root)], env={"COLUMNS": "300"})
    shown = runner.invoke(forms_cli, ["review", "standard", "v7", "--root", str(root)], env={"COLUMNS": "300"})

    assert checked.exit_code == 0, checked.output
    assert "unreviewed (ru)" in checked.output
    assert "unreviewed, served in development mode only: standard/v7" in checked.output
    assert shown.exit_code == 0, shown.output
    assert "hy: reviewed by Anahit Hovhannisyan" in shown.output
    assert f"ru: unreviewed\n    text_sha256: {digest}\n    sign on or after: 2026-11-20" in shown.output


def test_publish_writes_the_lock_of_the_folder_it_was_given(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--root, and else TESTIMONY_FORMS_DIR: the lock written is that folder's, and the messages name it."""
    other = tmp_path / "other"
    shutil.copytree(root, other)
    shutil.copytree(other / "standard" / "v7", other / "standard" / "v8")
    edit_form(other / "standard" / "v8", lambda doc: doc.update(version="v8"))
    before = (root / "published.lock").read_bytes()

    monkeypatch.setenv("TESTIMONY_FORMS_DIR", str(other))
    get_settings.cache_clear()
    try:
        result = runner.invoke(forms_cli, ["publish", "standard", "v8"], env={"COLUMNS": "400"})
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert "standard/v8/form.yaml" in (other / "published.lock").read_text(encoding="utf-8")
    assert (root / "published.lock").read_bytes() == before
    assert f"published standard/v8 (13 files) in {other / 'published.lock'}" in result.output


def test_a_translation_cannot_become_the_source_of_a_later_version(root: Path) -> None:
    """Relabelling a translation as the source would make it need no review."""
    folder = make_version(root, "v8", publish_it=False)
    edit_form(folder, lambda doc: doc.update(source_language="hy"))

    with pytest.raises(FormError, match=r"source_language 'hy' differs from the 'en' of the form's earlier versions"):
        publish(root, "standard", "v8")


# The service


def test_outside_development_a_signed_off_template_is_not_served(
    tmp_path: Path, settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """A version whose complaints contact is on a domain reserved for examples is a template, whoever signs it."""
    root = tmp_path / "forms"
    make_version(root, "v7", email=TEMPLATE_EMAIL)
    sign(root, hy=HY_TEAM, ru=RU_TEAM)

    assert review_of(root) is ReviewState.REVIEWED
    assert FormRegistry(root, development=False).summaries() == []
    assert [s.version for s in FormRegistry(root, development=True).summaries()] == ["v7"]
    assert "standard/v7 is not served: it is a template" in caplog.text


def test_outside_development_an_unreviewed_version_is_not_served(
    root: Path, settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(production(settings, forms_dir=root), keys)
    try:
        with TestClient(app):
            reader = actor(app, "reader", [Role.LEGAL])
            assert reader.get("/api/v1/consent-forms").json()["items"] == []
            r = reader.get("/api/v1/consent-forms/standard/v7")
            assert r.status_code == 404
            assert r.json()["detail"].endswith("published: none")
            assert reader.get("/api/v1/consent-forms/standard/v7/en").status_code == 404
    finally:
        app.state.engine.dispose()
    assert "consent form standard/v7 is not served: translations hy, ru are not signed off" in caplog.text


def test_outside_development_a_reviewed_version_is_served_as_reviewed(
    root: Path, settings: Settings, keys: Keys
) -> None:
    sign(root, hy=HY_TEAM, ru=RU_TEAM)
    app = create_app(production(settings, forms_dir=root), keys)
    try:
        with TestClient(app):
            reader = actor(app, "reader", [Role.LEGAL])
            summary = reader.get("/api/v1/consent-forms").json()["items"]
            assert [(s["version"], s["review"]) for s in summary] == [("v7", "reviewed")]
            whole = reader.get("/api/v1/consent-forms/standard/v7").json()
            assert [(lang["code"], lang["review"]) for lang in whole["languages"]] == [
                ("en", "source"),
                ("hy", "reviewed"),
                ("ru", "reviewed"),
            ]
            assert [r["name"] for r in whole["languages"][1]["reviewers"]] == [r["name"] for r in HY_TEAM]
    finally:
        app.state.engine.dispose()


def test_in_development_an_unreviewed_version_is_served_marked_unreviewed(root: Path, settings: Settings) -> None:
    registry = FormRegistry(root, development=True)

    assert [s.review for s in registry.summaries()] == [ReviewState.UNREVIEWED]
    assert registry.text("standard", "v7", "hy").review is ReviewState.UNREVIEWED
    whole = registry.whole("standard", "v7")
    assert whole.review is ReviewState.UNREVIEWED
    assert [(lang.code, lang.review, lang.reviewers) for lang in whole.languages] == [
        ("en", "source", []),
        ("hy", "unreviewed", []),
        ("ru", "unreviewed", []),
    ]
    assert FormRegistry(root, development=False).summaries() == []


def test_a_sign_off_that_cannot_count_stops_the_start(root: Path, settings: Settings, keys: Keys) -> None:
    sign(root, hy=HY_TEAM[:1], ru=RU_TEAM)

    with pytest.raises(FormError, match="a translation needs 2 reviewers"):
        FormRegistry(root, development=True).summaries()
