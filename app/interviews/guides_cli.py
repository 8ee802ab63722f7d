"""`testimony guides`: check and publish interview guide versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_support import counted, group
from app.consent.form_files import FormError
from app.consent.published import LOCK_FILE
from app.core.config import get_settings
from app.interviews import guides

guides_cli = group("Interview guides: check and publish versions.")

Root = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        help="The interview guides folder. Default: TESTIMONY_GUIDES_DIR, else the guides shipped with the code.",
        file_okay=False,
        dir_okay=True,
    ),
]


def _root(given: Path | None) -> Path:
    return given or get_settings().guides_dir or guides.default_root()


@guides_cli.command("check")
def check(given_root: Root = None) -> None:
    """Read every published guide, as the service does at start.

    Exit status 1 on the first broken one, with its reason.
    """
    root = _root(given_root)
    try:
        checked = guides.load_published(root)
    except FormError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for guide in checked:
        typer.echo(f"{guide.id}/{guide.version}: {counted(len(guide.questions), 'question')}, {guide.review}")
    typer.echo(f"{counted(len(checked), 'published guide')} intact in {root / LOCK_FILE}")


@guides_cli.command("publish")
def publish(
    guide_id: Annotated[str, typer.Argument(metavar="GUIDE", help="Guide id, e.g. standard.")],
    version: Annotated[str, typer.Argument(metavar="VERSION", help="Version folder, e.g. v2.")],
    given_root: Root = None,
) -> None:
    """Validate a guide version and pin it in published.lock. It can never change afterwards."""
    root = _root(given_root)
    try:
        guide = guides.publish(root, guide_id, version)
    except FormError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"published {guide.id}/{guide.version} ({guide.review}) in {root / LOCK_FILE}")
    typer.echo(f"sha256 {guide.sha256}. Commit the lock together with the version's folder.")
