"""`testimony forms` is part of the main command line."""

from typer.testing import CliRunner

from app.cli import cli


def test_forms_check_through_the_main_cli() -> None:
    result = CliRunner().invoke(cli, ["forms", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "standard" in result.output
    listing = CliRunner().invoke(cli, ["forms", "list"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    assert "v1" in listing.output
