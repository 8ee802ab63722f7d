"""`testimony forms` is part of the main command line."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.consent.forms import FormError, load_form
from app.consent.registry import FormRegistry


def test_forms_check_through_the_main_cli() -> None:
    result = CliRunner().invoke(cli, ["forms", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "standard" in result.output
    listing = CliRunner().invoke(cli, ["forms", "list"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    assert "v1" in listing.output


def test_the_service_serves_published_versions_only_and_refuses_changed_ones(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "consent_forms"
    root = tmp_path / "forms"
    shutil.copytree(source, root)
    shutil.copytree(root / "standard" / "v1", root / "standard" / "v90")
    (root / "standard" / "v90" / "form.yaml").write_text(
        (root / "standard" / "v90" / "form.yaml").read_text().replace("version: v1", "version: v90")
    )
    registry = FormRegistry(root, development=True)
    served = [(s.form_id, s.version) for s in registry.summaries()]
    assert served == [("standard", "v1"), ("standard", "v2")]  # v90 is a draft
    text = root / "standard" / "v1" / "en.md"
    text.write_text(text.read_text() + "\nOne more sentence.\n")
    with pytest.raises(FormError, match="published consent forms changed"):
        FormRegistry(root, development=True).summaries()


def test_forms_list_as_json_gives_each_version_its_status_and_digest(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "consent_forms"
    root = tmp_path / "forms"
    shutil.copytree(source, root)
    shutil.copytree(root / "standard" / "v1", root / "standard" / "v90")
    (root / "standard" / "v90" / "form.yaml").write_text("not: [a form")
    result = CliRunner().invoke(cli, ["forms", "list", "--root", str(root), "--json"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["root"] == str(root)
    v1, _, draft = listed["forms"]
    published = load_form(root, "standard", "v1")
    assert v1 == {
        "form": "standard",
        "version": "v1",
        "status": "published",
        "valid": True,
        "review": "unreviewed",
        "languages": list(published.languages),
        "digest": published.digest,
    }
    assert draft == {
        "form": "standard",
        "version": "v90",
        "status": "draft",
        "valid": False,
        "review": None,
        "languages": [],
        "digest": None,
    }
