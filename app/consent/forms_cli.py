"""`testimony forms`: check, list and publish consent form versions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli_support import JsonOption, group, print_json
from app.consent.form_files import SIGNOFF_FILE
from app.consent.forms import ConsentForm, FormError, check_ids, list_forms, load_form
from app.consent.published import LOCK_FILE, check_published, publish, published_versions
from app.consent.registry import default_root
from app.consent.review import Review, ReviewState, read_review
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


FormArgument = Annotated[str, typer.Argument(metavar="FORM", help="Form id, e.g. standard.")]
VersionArgument = Annotated[str, typer.Argument(metavar="VERSION", help="Version folder, e.g. v2.")]


def _out() -> Console:
    # Built per call so the console follows whatever stdout is current (CliRunner swaps it in tests).
    return Console(soft_wrap=True, highlight=False)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


@contextmanager
def _exit_on_form_error() -> Iterator[None]:
    """A FormError is the command's answer: printed, and exit code 1."""
    try:
        yield
    except FormError as exc:
        _err().print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


def _languages(form: ConsentForm) -> str:
    return ", ".join(form.languages)


def _today() -> datetime:
    return datetime.now(UTC)


def _review_cell(review: Review) -> str:
    if review.state is ReviewState.REVIEWED:
        return "reviewed"
    return f"[yellow]unreviewed[/yellow] ({', '.join(review.unreviewed)})"


@forms_cli.command("check")
def check(given_root: Root = None) -> None:
    """Validate form versions, translation sign-offs and the lock. Exits 1 on any problem.

    A version whose translations are not yet signed off is not a problem: it is listed as unreviewed,
    and only a development deployment serves it. A sign-off that cannot count is a problem.
    """
    root = _root(given_root)
    problems: list[str] = []
    unreviewed: list[str] = []
    table = Table(title=f"Consent forms in {escape(str(root))}")
    for column in ("form", "version", "languages", "status", "review"):
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
            table.add_row(form_id, version, "-", "[red]invalid[/red]", "-")
            continue
        try:
            review = read_review(root, form, _today().date())
        except FormError as exc:
            problems.append(str(exc))
            table.add_row(form_id, version, _languages(form), f"valid, {state}", "[red]sign-off refused[/red]")
            continue
        if review.state is ReviewState.UNREVIEWED:
            unreviewed.append(f"{form_id}/{version}")
        table.add_row(form_id, version, _languages(form), f"valid, {state}", _review_cell(review))
    _out().print(table)
    if problems:
        err = _err()
        for problem in problems:
            err.print(f"[red]error:[/red] {escape(problem)}")
        raise typer.Exit(1)
    _out().print("[green]all consent forms are valid and unchanged since publication[/green]")
    if unreviewed:
        _out().print(
            f"[yellow]unreviewed, served in development mode only:[/yellow] {', '.join(unreviewed)}. "
            f"A translation is reviewed once two reviewers sign it off in {SIGNOFF_FILE} "
            "(`testimony forms review FORM VERSION` shows what they sign)."
        )


def form_json(
    form_id: str, version: str, state: str, form: ConsentForm | None, review: Review | None
) -> dict[str, object]:
    """The shape of one version in `forms list --json` (README: the command line)."""
    return {
        "form": form_id,
        "version": version,
        "status": state,
        "valid": form is not None,
        "review": review.state.value if review else None,
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
    rows: list[tuple[str, str, str, ConsentForm | None, Review | None]] = []
    for form_id, version in pairs:
        state = "published" if (form_id, version) in published else "draft"
        form: ConsentForm | None = None
        review: Review | None = None
        try:
            form = load_form(root, form_id, version)
            review = read_review(root, form, _today().date())
        except FormError:
            pass
        rows.append((form_id, version, state, form, review))
    if as_json:
        print_json({"root": str(root), "forms": [form_json(*row) for row in rows]})
        return
    table = Table(title="Consent forms")
    for column in ("form", "version", "status", "review", "languages"):
        table.add_column(column)
    # Folded, never cut short: the digest is what records pin, so it must be copyable whole.
    table.add_column("digest (SHA-256)", overflow="fold")
    for form_id, version, state, form, review in rows:
        if form is None:
            table.add_row(form_id, version, f"{state}, [red]invalid[/red]", "-", "-", "run `testimony forms check`")
        else:
            cell = _review_cell(review) if review else "[red]sign-off refused[/red]"
            table.add_row(form_id, version, state, cell, _languages(form), form.digest)
    _out().print(table)


@forms_cli.command("review")
def review_command(
    form_id: FormArgument,
    version: VersionArgument,
    given_root: Root = None,
) -> None:
    """Show each translation's review, and the hash its reviewers sign."""
    root = _root(given_root)
    with _exit_on_form_error():
        check_ids(form_id, version)
        form = load_form(root, form_id, version)
        review = read_review(root, form, _today().date())
    out = _out()
    where = escape(str(root / form_id / version / SIGNOFF_FILE))
    out.print(f"{form_id}/{version}: {review.state.value}; sign-offs go in {where}")
    for code, language in review.languages.items():
        if language.is_source:
            out.print(f"{code}: source language, changed {_date(form, code)}; translations are reviewed against it")
            continue
        state = "reviewed by " + "; ".join(f"{r.name} ({r.role}, {r.date})" for r in language.reviewers)
        out.print(f"{code}: {escape(state) if language.reviewed else 'unreviewed'}")
        out.print(f"    text_sha256: {form.language_digest(code)}")
        out.print(f"    sign on or after: {_sign_from(form, code)}")


def _date(form: ConsentForm, code: str) -> str:
    changed = form.languages[code].changed
    return changed.isoformat() if changed else "not declared"


def _sign_from(form: ConsentForm, code: str) -> str:
    dates = [form.languages[c].changed for c in (form.source_language, code)]
    known = [d for d in dates if d is not None]
    if len(known) < len(dates):
        return "never: this version does not declare when its texts changed (publish a new version)"
    return max(known).isoformat()


@forms_cli.command("publish")
def publish_command(
    form_id: FormArgument,
    version: VersionArgument,
    given_root: Root = None,
) -> None:
    """Pin a validated version in published.lock. It can never change afterwards."""
    root = _root(given_root)
    with _exit_on_form_error():
        form = publish(root, form_id, version)
    out = _out()
    out.print(f"published {form_id}/{version} ({len(form.files)} files) in {escape(str(root / LOCK_FILE))}")
    out.print(f"digest {form.digest}")
    out.print(f"Commit {escape(str(root / LOCK_FILE))} together with {escape(str(root / form_id / version))}.")
    with _exit_on_form_error():
        review = read_review(root, form, _today().date())
    if review.state is ReviewState.UNREVIEWED:
        out.print(
            f"Unreviewed ({', '.join(review.unreviewed)}): only a development deployment serves it until its "
            f"translations are signed off (`testimony forms review {form_id} {version}`)."
        )
