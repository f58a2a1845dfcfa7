"""The `mignet` command line: every subcommand listed in --help resolves to a real command with its own help."""

from click.testing import CliRunner

from mignet.cli import COMMANDS, main


def test_help_lists_every_subcommand():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output


def test_every_subcommand_imports_and_explains_itself():
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, f"mignet {name} --help failed:\n{result.output}\n{result.exception!r}"
        assert "Usage: " in result.output and len(result.output.splitlines()) > 3, result.output


def test_unknown_subcommand_is_refused():
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code != 0
    assert "No such command" in result.output
