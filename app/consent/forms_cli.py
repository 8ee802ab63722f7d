"""`testimony forms`: check, list and publish consent form versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli_support import JsonOption, group, print_json
from app.consent.forms import ConsentForm, FormError, list_forms, load_form
from app.consent.published import check_published, publish, published_versions
from app.consent.registry import default_root
from app.core.config import get_settings

DEFAULT_ROOT = default_root()


def _root(given: Path | None) -> Path:
    """--root, else TESTIMONY_FORMS_DIR (the folder the service serves), else the shipped forms."""
    return given or get_settings().forms_dir or DEFAULT_ROOT


forms_cli = group("Consent forms: validate, list and publish versions.")

Root = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        help="The consent forms folder. Default: TESTIMONY_FORMS_DIR, else the forms shipped with the code.",
        file_okay=False,
        dir_okay=True,
        exists=False,
    ),
]


def _out() -> Console:
    # Built per call so the console follows whatever stdout is current (CliRunner swaps it in tests).
    return Console(soft_wrap=True, highlight=False)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _languages(form: ConsentForm) -> str:
    return ", ".join(form.languages)


@forms_cli.command("check")
def check(given_root: Root = None) -> None:
    """Validate form versions, translation sign-offs and the lock. Exits 1 on any problem."""
    root = _root(given_root)
    problems: list[str] = []
    table = Table(title=f"Consent forms in {escape(str(root))}")
    for column in ("form", "version", "languages", "status"):
        table.add_column(column)
    try:
        pairs = list_forms(root)
        published = published_versions(root)
        changes = check_published(root)
    except FormError as exc:
        _err().print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    problems.extend(str(change) for change in changes)
    changed = {(change.form_id, change.version) for change in changes}
    if not pairs:
        problems.append(f"no consent forms found under {root}")
    for form_id, version in pairs:
        state = "draft"
        if (form_id, version) in published:
            state = "[red]changed since publication[/red]" if (form_id, version) in changed else "published"
        try:
            form = load_form(root, form_id, version)
        except FormError as exc:
            problems.append(str(exc))
            table.add_row(form_id, version, "-", "[red]invalid[/red]")
            continue
        table.add_row(form_id, version, _languages(form), f"valid, {state}")
    _out().print(table)
    if problems:
        err = _err()
        for problem in problems:
            err.print(f"[red]error:[/red] {escape(problem)}")
        raise typer.Exit(1)
    _out().print("[green]all consent forms are valid, reviewed and unchanged since publication[/green]")


def form_json(form_id: str, version: str, state: str, form: ConsentForm | None) -> dict[str, object]:
    """The shape of one version in `forms list --json` (README: the command line)."""
    return {
        "form": form_id,
        "version": version,
        "status": state,
        "valid": form is not None,
        "languages": list(form.languages) if form else [],
        "digest": form.digest if form else None,
    }


@forms_cli.command("list")
def list_command(given_root: Root = None, as_json: JsonOption = False) -> None:
    """List form versions with their languages, status and digest."""
    root = _root(given_root)
    try:
        pairs = list_forms(root)
        published = published_versions(root)
    except FormError as exc:
        _err().print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    rows: list[tuple[str, str, str, ConsentForm | None]] = []
    for form_id, version in pairs:
        state = "published" if (form_id, version) in published else "draft"
        try:
            rows.append((form_id, version, state, load_form(root, form_id, version, strict=False)))
        except FormError:
            rows.append((form_id, version, state, None))
    if as_json:
        print_json({"root": str(root), "forms": [form_json(*row) for row in rows]})
        return
    table = Table(title="Consent forms")
    for column in ("form", "version", "status", "languages"):
        table.add_column(column)
    # Folded, never cut short: the digest is what records pin, so it must be copyable whole.
    table.add_column("digest (SHA-256)", overflow="fold")
    for form_id, version, state, form in rows:
        if form is None:
            table.add_row(form_id, version, f"{state}, [red]invalid[/red]", "-", "run `testimony forms check`")
        else:
            table.add_row(form_id, version, state, _languages(form), form.digest)
    _out().print(table)


@forms_cli.command("publish")
def publish_command(
    form_id: Annotated[str, typer.Argument(metavar="FORM", help="Form id, e.g. standard.")],
    version: Annotated[str, typer.Argument(metavar="VERSION", help="Version folder, e.g. v2.")],
    given_root: Root = None,
) -> None:
    """Pin a validated, reviewed version in published.lock. It can never change afterwards."""
    root = _root(given_root)
    try:
        form = publish(root, form_id, version)
    except FormError as exc:
        _err().print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    _out().print(f"published {form_id}/{version} ({len(form.files)} files), digest {form.digest}")
    _out().print("Commit consent_forms/published.lock together with the version folder.")
