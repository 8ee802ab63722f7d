"""Rendering the printable receipt: a plain page with no script, no style and no outside resource, so the
strict Content-Security-Policy the route sends holds, and it prints the same everywhere."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.consent.record_schemas import ReceiptPage

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'none'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def environment(folder: Path) -> Environment:
    """Templates of printable pages for the survivor: autoescaped, whitespace trimmed."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


_ENV = environment(Path(__file__).resolve().parent / "templates")


def render(page: ReceiptPage) -> str:
    return _ENV.get_template("receipt.html").render(view=page)
