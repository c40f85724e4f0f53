"""Every CLI command and every option has help text (a newcomer reads --help first)."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

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
    "scenario",
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


def test_a_reader_that_leaves_early_is_not_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`melious-impact path | head -0`: writing to a closed pipe ends quietly with status 0."""
    with open(tmp_path / "stdout", "w") as real:

        class ClosedPipe(io.TextIOBase):
            def write(self, text: str) -> int:
                raise BrokenPipeError(32, "Broken pipe")

            def fileno(self) -> int:
                return real.fileno()

        monkeypatch.setattr(sys, "stdout", ClosedPipe())
        assert main(["path"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["info", "--store", "{p}"],
        ["intensity", "--store", "{p}"],
        ["scenario", "--store", "{p}", "--flavor", "eco"],
        ["forecast", "--store", "{p}", "--metric", "cost_eur"],
        ["report", "--store", "{p}", "--out", "{p}.html"],
        ["dashboard", "--store", "{p}", "--out", "{p}-pages"],
        ["export-focus", "--store", "{p}", "{p}.csv"],
    ],
)
def test_read_commands_on_a_missing_store_fail_clearly(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in --store is an error, not an empty report, and creates no folder."""
    missing = tmp_path / "no-such-store"
    assert main([a.format(p=missing) for a in argv]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists()
