"""Rendering the survivor's printable data report: a plain page like the consent receipt (no script, no style,
no outside resource), sent with the receipt's strict headers."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.consent.receipt_page import HEADERS
from app.exports.report_schemas import DisclosureReport

__all__ = ["HEADERS", "render"]

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(report: DisclosureReport) -> str:
    return _ENV.get_template("disclosure_report.html").render(view=report)
