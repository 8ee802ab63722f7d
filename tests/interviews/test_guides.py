"""Interview guides are checked whole when the service starts and by `testimony guides check`, and a new
version is pinned by `testimony guides publish`, which never rewrites what the lock already holds."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.consent.form_files import FormError
from app.core.config import Settings
from app.interviews.guides_cli import guides_cli
from app.keys.store import Keys
from app.main import create_app
from tests.support.consent import documenter_team

SHIPPED = Path(__file__).resolve().parents[2] / "interview_guides"
runner = CliRunner()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "guides"
    shutil.copytree(SHIPPED, copy)
    return copy


def _new_version(root: Path, version: str, edit: tuple[str, str] | None = None) -> Path:
    """standard/v1 copied to ``version``, with its id line changed and one optional text replaced."""
    folder = root / "standard" / version
    folder.mkdir()
    text = (root / "standard" / "v1" / "guide.yaml").read_text(encoding="utf-8")
    text = text.replace("version: v1", f"version: {version}", 1)
    if edit is not None:
        assert edit[0] in text
        text = text.replace(*edit)
    (folder / "guide.yaml").write_text(text, encoding="utf-8")
    return folder


def _app(settings: Settings, keys: Keys, root: Path) -> FastAPI:
    return create_app(settings.model_copy(update={"guides_dir": root}), keys)


def test_publish_pins_a_new_version_that_the_service_then_serves(root: Path, settings: Settings, keys: Keys) -> None:
    before = (root / "published.lock").read_bytes()
    folder = _new_version(root, "v2")
    result = runner.invoke(guides_cli, ["publish", "standard", "v2", "--root", str(root)])
    assert result.exit_code == 0, result.output
    lock = (root / "published.lock").read_bytes()
    digest = hashlib.sha256((folder / "guide.yaml").read_bytes()).hexdigest()
    assert lock == before + f"{digest}  standard/v2/guide.yaml\n".encode()  # earlier lines kept byte for byte
    assert "published standard/v2" in result.output

    again = runner.invoke(guides_cli, ["publish", "standard", "v2", "--root", str(root)])
    assert again.exit_code == 1
    assert "already published" in again.output
    assert (root / "published.lock").read_bytes() == lock

    checked = runner.invoke(guides_cli, ["check", "--root", str(root)])
    assert checked.exit_code == 0, checked.output
    assert "2 published guides intact" in checked.output

    app = _app(settings, keys, root)
    try:
        doc, _case = documenter_team(app)
        r = doc.get("/api/v1/interview-guides/standard/v2")
        assert r.status_code == 200, r.text
        assert r.json()["sha256"] == digest
    finally:
        app.state.engine.dispose()


def test_a_malformed_version_is_not_published(root: Path) -> None:
    before = (root / "published.lock").read_bytes()
    _new_version(root, "v2", ("  - id: background", "  - id: Background Story"))
    result = runner.invoke(guides_cli, ["publish", "standard", "v2", "--root", str(root)])
    assert result.exit_code == 1
    assert "question 1" in result.output
    assert (root / "published.lock").read_bytes() == before


@pytest.mark.parametrize("damage", ["changed", "malformed"])
def test_a_broken_published_guide_stops_the_start_and_fails_the_check(
    root: Path, settings: Settings, keys: Keys, damage: str
) -> None:
    """Found at start, with its reason, rather than as a server error for the first documenter to ask."""
    guide = root / "standard" / "v1" / "guide.yaml"
    if damage == "changed":
        guide.write_bytes(guide.read_bytes() + b"\n# edited after publication\n")
        reason = "differs from its hash"
    else:  # pinned as it is, but not a guide: a question without its texts
        text = guide.read_text(encoding="utf-8").replace("    text:", "    words:", 1)
        guide.write_text(text, encoding="utf-8")
        lock = root / "published.lock"
        digest = hashlib.sha256(guide.read_bytes()).hexdigest()
        kept = [ln for ln in lock.read_text(encoding="utf-8").splitlines() if not ln.endswith("v1/guide.yaml")]
        lock.write_text("\n".join([*kept, f"{digest}  standard/v1/guide.yaml"]) + "\n", encoding="utf-8")
        reason = "question 1"
    with pytest.raises(FormError, match=reason):
        _app(settings, keys, root)
    checked = runner.invoke(guides_cli, ["check", "--root", str(root)])
    assert checked.exit_code == 1
    assert reason in checked.output
