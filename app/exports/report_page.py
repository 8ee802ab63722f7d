"""Rendering the survivor's printable data report: a plain page like the consent receipt (no script, no style,
no outside resource), sent with the receipt's strict headers."""

from __future__ import annotations

from pathlib import Path

from app.consent.receipt_page import HEADERS, environment
from app.exports.report_schemas import DisclosureReport

__all__ = ["HEADERS", "render"]

_ENV = environment(Path(__file__).resolve().parent / "templates")


def render(report: DisclosureReport) -> str:
    return _ENV.get_template("disclosure_report.html").render(view=report)
