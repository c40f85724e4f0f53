"""Every CLI command and every option has help text (a newcomer reads --help first)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from melious_impact.cli import build_parser, main

EXPECTED_COMMANDS = {
    "demo",
    "emulate",
    "path",
    "info",
    "import",
    "export",
    "compact",
    "retention",
    "intensity",
    "forecast",
    "budgets",
    "report",
    "dashboard",
    "export-focus",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_expected_commands_exist() -> None:
    missing = EXPECTED_COMMANDS - set(_subcommands(build_parser()))
    assert not missing, f"commands without a module: {sorted(missing)}"


def test_every_command_and_option_has_help() -> None:
    parser = build_parser()
    helps = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
    for name, sub in _subcommands(parser).items():
        assert helps.get(name), f"command {name!r} has no help text"
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help is not argparse.SUPPRESS, (
                f"option {action.option_strings or action.dest} of {name!r} has no help"
            )


@pytest.mark.parametrize("command", sorted(EXPECTED_COMMANDS))
def test_help_runs(command: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0


def test_no_command_prints_usage() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "melious_impact"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert "usage: melious-impact" in out.stdout


def test_a_reader_that_leaves_early_is_not_an_error() -> None:
    """`melious-impact ... | head` must end quietly, with no traceback and no error line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "melious_impact", "emulate", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "40"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # the reader leaves before the help text is written out
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "error" not in err.lower()
