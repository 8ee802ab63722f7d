"""The consent form registry: the shipped form, what the loader refuses, and immutability once published."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.consent.forms import FormError, TextVariant, list_forms, load_form
from app.consent.forms_cli import DEFAULT_ROOT, forms_cli
from app.consent.published import LOCK_FILE, check_published, publish, published_versions, read_lock
from app.consent.vocabulary import (
    DISCLOSURE_MOST_PROTECTIVE_FIRST,
    ConsentStatus,
    DataCategory,
    DisclosureLevel,
    FormSection,
    ParticipationDecision,
    Purpose,
    RecipientClass,
    TeachBackQuestion,
    is_more_protective,
    most_protective,
)

REPO_FORMS = Path(__file__).resolve().parents[2] / "consent_forms"
LANGUAGES = {"en", "hy", "ru"}


@pytest.fixture
def draft_root(tmp_path: Path) -> Path:
    """A forms root holding an unpublished copy of standard/v1 and no lock."""
    root = tmp_path / "forms"
    shutil.copytree(REPO_FORMS / "standard" / "v1", root / "standard" / "v1")
    return root


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the whole shipped consent_forms folder, lock included."""
    root = tmp_path / "repo_forms"
    shutil.copytree(REPO_FORMS, root)
    return root


def edit_form(folder: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = folder / "form.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


NEXT = "v90"
"""A version number no shipped version will reach soon, for a draft made from v1 in a copy of the forms."""


def make_next(root: Path) -> Path:
    folder = root / "standard" / NEXT
    shutil.copytree(root / "standard" / "v1", folder)
    edit_form(folder, lambda doc: doc.update(version=NEXT))
    return folder


# The vocabulary


def test_disclosure_levels_order_from_most_to_least_protective() -> None:
    assert [level.value for level in DISCLOSURE_MOST_PROTECTIVE_FIRST] == [
        "aggregate_only",
        "deidentified",
        "pseudonymous",
        "named_protected",
        "named_public",
    ]
    assert is_more_protective(DisclosureLevel.DEIDENTIFIED, DisclosureLevel.PSEUDONYMOUS)
    assert not is_more_protective(DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED)
    assert not is_more_protective(DisclosureLevel.PSEUDONYMOUS, DisclosureLevel.PSEUDONYMOUS)
    levels = [DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.DEIDENTIFIED, DisclosureLevel.NAMED_PROTECTED]
    assert most_protective(levels) is DisclosureLevel.DEIDENTIFIED
    with pytest.raises(ValueError, match="no disclosure levels"):
        most_protective([])


def test_consent_statuses_map_to_dpv() -> None:
    assert {status.value for status in ConsentStatus} == {
        "requested",
        "deferred",
        "given",
        "renewed",
        "refused",
        "withdrawn",
        "expired",
        "invalidated",
        "unknown",
    }
    assert ConsentStatus.DEFERRED.dpv_iri == "https://w3id.org/dpv#ConsentRequestDeferred"
    assert ConsentStatus.RENEWED.dpv_iri == "https://w3id.org/dpv#RenewedConsentGiven"
    assert {status for status in ConsentStatus if status.valid_for_processing} == {
        ConsentStatus.GIVEN,
        ConsentStatus.RENEWED,
    }


# The shipped form


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_shipped_form_loads_with_every_language_and_variant(version: str) -> None:
    form = load_form(REPO_FORMS, "standard", version)

    assert set(form.languages) == LANGUAGES
    assert form.source_language == "en"
    for language in form.languages.values():
        assert set(language.texts) == set(TextVariant)
    assert form.sections == tuple(FormSection)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_shipped_form_declares_the_whole_vocabulary_in_every_language(version: str) -> None:
    form = load_form(REPO_FORMS, "standard", version)

    assert set(form.purposes) == set(Purpose)
    assert set(form.recipient_classes) == set(RecipientClass)
    assert set(form.data_categories) == set(DataCategory)
    assert set(form.disclosure_levels) == set(DisclosureLevel)
    assert set(form.decisions) == set(ParticipationDecision)
    assert set(form.teach_back) == set(TeachBackQuestion)
    for entry in form.purposes.values():
        assert set(entry.label) == set(entry.example_recipient) == LANGUAGES
    for teach in form.teach_back.values():
        assert set(teach.question) == set(teach.listen_for) == LANGUAGES


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_translations_are_not_copies_of_the_source(version: str) -> None:
    form = load_form(REPO_FORMS, "standard", version)

    armenian = re.compile("[\u0531-\u058f]")
    cyrillic = re.compile("[\u0400-\u04ff]")
    for variant in TextVariant:
        assert len(armenian.findall(form.text("hy", variant).content)) > 500
        assert len(cyrillic.findall(form.text("ru", variant).content)) > 500
    for decision in form.decisions.values():
        assert armenian.search(decision.question["hy"])
        assert cyrillic.search(decision.question["ru"])


def test_shipped_texts_tell_the_hard_truths_in_every_language() -> None:
    form = load_form(REPO_FORMS, "standard", "v1")
    english = form.text("en").content

    for needle in ("defence", "cannot promise", "cannot be undone", "never contact me", "not a court"):
        assert needle in english


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_hashes_are_sha256_of_the_exact_bytes(version: str) -> None:
    """A text's hash is over the text as read (its parameters filled in); the lock's is over the file."""
    form = load_form(REPO_FORMS, "standard", version)
    folder = REPO_FORMS / "standard" / version

    for language in form.languages.values():
        for text in language.texts.values():
            assert text.sha256 == hashlib.sha256(text.content.encode()).hexdigest()
            assert text.file_sha256 == hashlib.sha256((folder / text.filename).read_bytes()).hexdigest()
            assert form.files[text.filename] == text.file_sha256
    assert form.files["form.yaml"] == hashlib.sha256((folder / "form.yaml").read_bytes()).hexdigest()
    manifest = "".join(f"{digest}  {name}\n" for name, digest in sorted(form.files.items()))
    assert form.digest == hashlib.sha256(manifest.encode()).hexdigest()


def test_list_forms_finds_every_version_in_order(draft_root: Path) -> None:
    make_next(draft_root)
    shutil.copytree(draft_root / "standard" / "v1", draft_root / "standard" / "v10")

    assert list_forms(REPO_FORMS) == [("standard", "v1"), ("standard", "v2")]
    assert list_forms(draft_root) == [("standard", "v1"), ("standard", "v10"), ("standard", NEXT)]


# What the loader refuses


def test_missing_translation_file_is_refused(draft_root: Path) -> None:
    (draft_root / "standard" / "v1" / "hy.child.md").unlink()

    with pytest.raises(FormError, match=r"standard/v1: language 'hy' child text: file hy\.child\.md is missing"):
        load_form(draft_root, "standard", "v1")


def test_missing_section_is_refused(draft_root: Path) -> None:
    path = draft_root / "standard" / "v1" / "ru.md"
    path.write_text(path.read_text(encoding="utf-8").replace("<!-- section: risks -->\n", ""), encoding="utf-8")

    with pytest.raises(FormError, match=r"language 'ru' main text ru\.md has no section 'risks'"):
        load_form(draft_root, "standard", "v1")


def test_sections_out_of_order_are_refused(draft_root: Path) -> None:
    path = draft_root / "standard" / "v1" / "en.guardian.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("section: courts", "section: @@").replace("section: risks", "section: courts")
    path.write_text(text.replace("section: @@", "section: risks"), encoding="utf-8")

    with pytest.raises(FormError, match=r"en\.guardian\.md: sections must appear once each, in this order"):
        load_form(draft_root, "standard", "v1")


def test_malformed_marker_is_refused(draft_root: Path) -> None:
    path = draft_root / "standard" / "v1" / "hy.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("<!-- section: courts -->", "<!-- section courts -->"), encoding="utf-8")

    with pytest.raises(FormError, match="malformed section marker"):
        load_form(draft_root, "standard", "v1")


def test_empty_section_is_refused(draft_root: Path) -> None:
    path = draft_root / "standard" / "v1" / "en.md"
    text = path.read_text(encoding="utf-8")
    start = text.index("<!-- section: interpreter -->")
    end = text.index("<!-- section: uses -->")
    path.write_text(
        text[:start] + "<!-- section: interpreter -->\n## 5. The interpreter\n\n" + text[end:], encoding="utf-8"
    )

    with pytest.raises(FormError, match="section 'interpreter' is empty"):
        load_form(draft_root, "standard", "v1")


def _drop(*keys: str) -> Callable[[dict[str, Any]], object]:
    def change(doc: dict[str, Any]) -> object:
        node = doc
        for key in keys[:-1]:
            node = node[key]
        return node.pop(keys[-1])

    return change


def _set(value: object, *keys: str) -> Callable[[dict[str, Any]], object]:
    def change(doc: dict[str, Any]) -> object:
        node = doc
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        return None

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            _drop("purposes", "media", "label", "hy"), r"purpose 'media' has no 'hy' text", id="purpose-label"
        ),
        pytest.param(
            _drop("purposes", "archive_memory", "example_recipient", "ru"),
            r"purpose 'archive_memory' example has no 'ru' text",
            id="example-recipient",
        ),
        pytest.param(
            _drop("recipient_classes", "victims_lawyer", "hy"),
            r"recipient class 'victims_lawyer' has no 'hy' text",
            id="recipient-label",
        ),
        pytest.param(
            _drop("data_categories", "health", "ru"), r"data category 'health' has no 'ru' text", id="category"
        ),
        pytest.param(
            _drop("disclosure_levels", "pseudonymous", "en"),
            r"disclosure level 'pseudonymous' has no 'en' text",
            id="level-label",
        ),
        pytest.param(
            _drop("teach_back", "risks", "question", "hy"),
            r"teach-back question 'risks' has no 'hy' text",
            id="teach-back-question",
        ),
        pytest.param(
            _drop("teach_back", "withdrawal_limits", "listen_for", "ru"),
            r"teach-back question 'withdrawal_limits' key point has no 'ru' text",
            id="teach-back-key-point",
        ),
        pytest.param(
            _drop("decisions", "storage", "question", "hy"),
            r"decision 'storage' question has no 'hy' text",
            id="decision-question",
        ),
        pytest.param(
            _drop("decisions", "storage"), r"decision 'storage' is not declared; every version must ask it", id="core"
        ),
        pytest.param(_set({}, "purposes"), r"no purpose is declared", id="no-purpose"),
        pytest.param(_set({"x": {"en": "a"}}, "parameters"), r"parameter 'x' has no 'hy' text", id="parameter"),
        pytest.param(_set({"Region": {}}, "parameters"), r"'Region' is not a lower-case name", id="parameter-name"),
        pytest.param(_set("someday", "languages", "hy", "changed"), r"changed: date must be an ISO date"),
        pytest.param(
            _set({"region": {"en": "Karabakh <b>", "hy": "x", "ru": "x"}}, "parameters"),
            r"parameter 'region' in 'en' must be a name or short phrase",
            id="parameter-markup",
        ),
        pytest.param(_set("Notes {{region}}", "decisions", "notes", "label", "en"), r"no \{\{parameters\}\}"),
        pytest.param(_set("REVIEW.md", "languages", "en", "texts", "main"), r"kept beside the texts, never one"),
        pytest.param(
            lambda doc: doc.update(child_teach_back=copy.deepcopy({"risks": doc["teach_back"]["risks"]})),
            r"child_teach_back must ask the same questions as teach_back",
            id="short-child-set",
        ),
        pytest.param(_set({"en": "x", "hy": "x", "ru": "x"}, "data_categories", "ethnicity"), r"unknown data cat"),
        pytest.param(
            _set("", "disclosure_levels", "named_public", "hy"), r"'named_public' in 'hy': expected non-empty"
        ),
        pytest.param(_set("v9", "version"), r"declares standard/v9, which does not match its folder", id="version"),
        pytest.param(_set(["who_we_are"], "sections"), r"sections must list exactly", id="sections"),
        pytest.param(_set("fr", "source_language"), r"source_language 'fr' is not among", id="source"),
        pytest.param(_set("../../etc/passwd", "languages", "en", "texts", "main"), r"must be a plain file name"),
        pytest.param(_set("hy.md", "languages", "hy", "texts", "child"), r"language 'hy': two variants name the same"),
        pytest.param(_set("2026-13-01", "languages", "hy", "signoff", "date"), r"signoff: date must be an ISO date"),
        pytest.param(_set({"P1M": {"en": "a", "hy": "a", "ru": "a"}}, "retention_options"), r"whole years"),
        pytest.param(_set("nobody", "organisation", "complaints_email"), r"not an email address", id="email"),
        pytest.param(_set(True, "decisions", "notes", "label", "en"), r"quote yes, no", id="yaml-boolean"),
        pytest.param(_set(1, "surprise"), r"unknown key 'surprise'", id="unknown-key"),
    ],
)
def test_inconsistent_form_yaml_is_refused(
    draft_root: Path, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    edit_form(draft_root / "standard" / "v1", change)

    with pytest.raises(FormError, match=r"consent form standard/v1: .*" + message):
        load_form(draft_root, "standard", "v1")


def test_a_version_declares_its_own_vocabulary(draft_root: Path) -> None:
    """A version need not declare every term the code knows: a term added later never stops it loading."""
    edit_form(draft_root / "standard" / "v1", _drop("recipient_classes", "public"))
    edit_form(draft_root / "standard" / "v1", _drop("teach_back", "re_contact"))

    form = load_form(draft_root, "standard", "v1")

    assert RecipientClass.PUBLIC not in form.recipient_classes
    assert TeachBackQuestion.RE_CONTACT not in form.teach_back
    assert form.child_teach_back == {}


def test_parameters_fill_the_texts_and_an_unknown_one_is_refused(draft_root: Path) -> None:
    folder = draft_root / "standard" / "v1"
    path = folder / "en.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Nagorno-Karabakh", "{{ region }}"), encoding="utf-8")
    edit_form(folder, _set({"region": {"en": "Artsakh", "hy": "Արցախ", "ru": "Арцах"}}, "parameters"))

    text = load_form(draft_root, "standard", "v1").text("en")
    assert "people who left Artsakh in 2023" in text.content
    assert "{{" not in text.content
    assert text.sha256 == hashlib.sha256(text.content.encode()).hexdigest() != text.file_sha256

    path.write_text(path.read_text(encoding="utf-8") + "\n{{place}}\n", encoding="utf-8")
    with pytest.raises(FormError, match=r"uses \{\{place\}\}, which is not a parameter; parameters: region"):
        load_form(draft_root, "standard", "v1")
    path.write_text(path.read_text(encoding="utf-8").replace("{{place}}", "{{ unclosed"), encoding="utf-8")
    with pytest.raises(FormError, match=r"has an unclosed \{\{"):
        load_form(draft_root, "standard", "v1")


def test_organisation_name_must_appear_in_every_text(draft_root: Path) -> None:
    path = draft_root / "standard" / "v1" / "ru.verbal-script.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("«Карабахские свидетельства»", "«Другое»"), encoding="utf-8")

    with pytest.raises(FormError, match=r"'ru' verbal_script text ru\.verbal-script\.md does not mention the organ"):
        load_form(draft_root, "standard", "v1")


def test_symlinked_text_is_refused(draft_root: Path, tmp_path: Path) -> None:
    folder = draft_root / "standard" / "v1"
    outside = tmp_path / "outside.md"
    shutil.move(folder / "hy.md", outside)
    (folder / "hy.md").symlink_to(outside)

    with pytest.raises(FormError, match=r"hy\.md is a symlink"):
        load_form(draft_root, "standard", "v1")


def test_oversized_text_is_refused(draft_root: Path) -> None:
    path = draft_root / "standard" / "v1" / "en.child.md"
    path.write_text(path.read_text(encoding="utf-8") + "Padding line.\n" * 20_000, encoding="utf-8")

    with pytest.raises(FormError, match=r"en\.child\.md is larger than 256 KiB"):
        load_form(draft_root, "standard", "v1")


def test_crlf_text_is_refused(draft_root: Path) -> None:
    path = draft_root / "standard" / "v1" / "hy.guardian.md"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    with pytest.raises(FormError, match="LF line endings"):
        load_form(draft_root, "standard", "v1")


def test_undeclared_file_in_version_folder_is_refused(draft_root: Path) -> None:
    (draft_root / "standard" / "v1" / "fr.md").write_text("draft\n", encoding="utf-8")

    with pytest.raises(FormError, match=r"fr\.md is in the version folder but not declared"):
        load_form(draft_root, "standard", "v1")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"form: [unclosed\n", r"form\.yaml is not valid YAML at line"),
        (b"a: &x [1]\nb: *x\n", "aliases are not allowed"),
        (b"form: standard\nform: other\n", r"line 2: duplicate key 'form'"),
        (b"- a list\n", "expected a mapping"),
        (b"when: 2026-13-01\n", "not valid YAML"),
        (b"[" * 5000, "not valid YAML"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_unreadable_form_yaml_raises_form_error(draft_root: Path, source: bytes, message: str) -> None:
    path = draft_root / "standard" / "v1" / "form.yaml"
    path.write_bytes(source)

    with pytest.raises(FormError, match=message):
        load_form(draft_root, "standard", "v1")


@pytest.mark.parametrize(("form_id", "version"), [("..", "v1"), ("standard", "../v1"), ("Standard", "v1"), ("s", "1")])
def test_bad_form_ids_are_refused(draft_root: Path, form_id: str, version: str) -> None:
    with pytest.raises(FormError, match="expected a lower-case form id and a version like v1"):
        load_form(draft_root, form_id, version)


def test_unknown_version_is_a_form_error(draft_root: Path) -> None:
    with pytest.raises(FormError, match=r"standard/v7: form\.yaml: file form\.yaml is missing"):
        load_form(draft_root, "standard", "v7")


# Published versions never change


def test_published_versions_are_unchanged() -> None:
    """Fails when any file of a published form version differs from consent_forms/published.lock."""
    assert {("standard", "v1"), ("standard", "v2")} <= published_versions(REPO_FORMS)
    assert check_published(REPO_FORMS) == []


def test_every_shipped_version_is_published() -> None:
    assert set(list_forms(REPO_FORMS)) <= published_versions(REPO_FORMS)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_lock_pins_every_file_of_the_shipped_version(version: str) -> None:
    form = load_form(REPO_FORMS, "standard", version)

    prefix = f"standard/{version}/"
    locked = {rel.removeprefix(prefix): d for rel, d in read_lock(REPO_FORMS).items() if rel.startswith(prefix)}
    assert locked == dict(form.files)


def test_a_changed_published_text_is_detected(repo_copy: Path) -> None:
    path = repo_copy / "standard" / "v1" / "hy.md"
    path.write_bytes(path.read_bytes().replace("Կարող եք".encode(), "Կարող էք".encode(), 1))

    assert [str(problem) for problem in check_published(repo_copy)] == [
        "published consent form standard/v1: hy.md changed after publication; publish a new version instead"
    ]


def test_added_and_removed_published_files_are_detected(repo_copy: Path) -> None:
    folder = repo_copy / "standard" / "v1"
    (folder / "ru.child.md").unlink()
    (folder / "notes.txt").write_text("x\n", encoding="utf-8")

    problems = [str(problem) for problem in check_published(repo_copy)]

    assert "published consent form standard/v1: notes.txt was added after publication" in problems
    assert "published consent form standard/v1: ru.child.md was removed after publication" in problems


def test_a_removed_published_version_is_detected(repo_copy: Path) -> None:
    shutil.rmtree(repo_copy / "standard" / "v1")

    assert [str(problem) for problem in check_published(repo_copy)] == [
        "published consent form standard/v1: the folder is missing or is a symlink"
    ]


def test_a_new_version_can_be_added_then_published_once(repo_copy: Path) -> None:
    make_next(repo_copy)
    before = (repo_copy / LOCK_FILE).read_bytes()

    assert check_published(repo_copy) == []
    assert ("standard", NEXT) not in published_versions(repo_copy)

    form = publish(repo_copy, "standard", NEXT)

    after = (repo_copy / LOCK_FILE).read_bytes()
    assert after.startswith(before)
    assert ("standard", NEXT) in published_versions(repo_copy)
    assert {rel for rel in read_lock(repo_copy) if rel.startswith(f"standard/{NEXT}/")} == {
        f"standard/{NEXT}/{name}" for name in form.files
    }
    assert check_published(repo_copy) == []
    with pytest.raises(FormError, match=f"standard/{NEXT} is already published"):
        publish(repo_copy, "standard", NEXT)
    with pytest.raises(FormError, match="standard/v1 is already published"):
        publish(repo_copy, "standard", "v1")
    assert (repo_copy / LOCK_FILE).read_bytes() == after


def test_sign_offs_and_review_notes_are_never_pinned(repo_copy: Path) -> None:
    """A published text can be signed off later: signoffs.yaml and REVIEW.md may come and go."""
    folder = make_next(repo_copy)
    (folder / "REVIEW.md").write_text("# What to check\n", encoding="utf-8")
    form = publish(repo_copy, "standard", NEXT)

    assert "REVIEW.md" not in form.files
    (folder / "signoffs.yaml").write_text("{}\n", encoding="utf-8")
    (folder / "REVIEW.md").unlink()
    assert check_published(repo_copy) == []


def test_publish_creates_the_lock_when_none_exists(draft_root: Path) -> None:
    publish(draft_root, "standard", "v1")

    assert (draft_root / LOCK_FILE).read_text(encoding="utf-8").startswith("# Published consent form versions")
    assert check_published(draft_root) == []


@pytest.mark.parametrize(
    "line",
    ["not a hash  standard/v1/en.md", f"{'0' * 64}  ../v1/en.md", f"{'0' * 64}  standard/v1/../../x", f"{'a' * 64} x"],
)
def test_malformed_lock_is_a_form_error(draft_root: Path, line: str) -> None:
    (draft_root / LOCK_FILE).write_text(line + "\n", encoding="utf-8")

    with pytest.raises(FormError, match=r"published\.lock line 1"):
        check_published(draft_root)


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs GNU sha256sum")
def test_lock_verifies_with_sha256sum() -> None:
    result = subprocess.run(
        ["sha256sum", "--check", "--strict", LOCK_FILE], cwd=REPO_FORMS, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


# The command line


runner = CliRunner()


def test_cli_defaults_to_the_repository_forms() -> None:
    assert DEFAULT_ROOT == REPO_FORMS


def test_cli_check_passes_on_the_shipped_forms_and_says_they_are_unreviewed() -> None:
    result = runner.invoke(forms_cli, ["check"], env={"COLUMNS": "240"})

    assert result.exit_code == 0, result.output
    assert "all consent forms are valid and unchanged since publication" in result.output
    assert "unreviewed, served in development mode only: standard/v1, standard/v2" in result.output


def test_cli_check_reports_a_changed_published_file(repo_copy: Path) -> None:
    with (repo_copy / "standard" / "v1" / "en.md").open("a", encoding="utf-8") as handle:
        handle.write("One more line.\n")

    result = runner.invoke(forms_cli, ["check", "--root", str(repo_copy)], env={"COLUMNS": "240"})

    assert result.exit_code == 1
    assert "standard/v1: en.md changed after publication" in result.output
    assert "valid, changed since publication" in result.output


def test_cli_check_fails_on_an_empty_root(tmp_path: Path) -> None:
    result = runner.invoke(forms_cli, ["check", "--root", str(tmp_path)])

    assert result.exit_code == 1
    assert "no consent forms found" in result.output


def test_cli_list_shows_status_and_digest(repo_copy: Path) -> None:
    make_next(repo_copy)
    digest = load_form(repo_copy, "standard", "v1").digest

    # A wide terminal keeps the full digest on one line of the table.
    result = runner.invoke(forms_cli, ["list", "--root", str(repo_copy)], env={"COLUMNS": "240"})

    assert result.exit_code == 0, result.output
    assert re.search(r"standard .*v1 .*published", result.output)
    assert re.search(rf"standard .*{NEXT} .*draft", result.output)
    assert digest in result.output


def test_cli_publish_then_refuses_to_publish_again(repo_copy: Path) -> None:
    make_next(repo_copy)

    first = runner.invoke(forms_cli, ["publish", "standard", NEXT, "--root", str(repo_copy)], env={"COLUMNS": "400"})
    second = runner.invoke(forms_cli, ["publish", "standard", NEXT, "--root", str(repo_copy)])

    assert first.exit_code == 0, first.output
    assert f"published standard/{NEXT} (13 files) in {repo_copy / LOCK_FILE}" in first.output
    assert f"Commit {repo_copy / LOCK_FILE} together with {repo_copy / 'standard' / NEXT}" in first.output
    assert second.exit_code == 1
    assert "already published" in second.output
