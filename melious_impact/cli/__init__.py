"""The ``melious-impact`` command: thin subcommands over the library.

Each group of subcommands lives in its own module of this package, whose
``register(subparsers)`` adds their ``argparse`` parsers (with help text: a test checks every
command has it) and sets ``func`` on each (``parser.set_defaults(func=run)``): the function
that does the work and returns the process exit code.

Modules are listed in :data:`COMMAND_MODULES`; a module whose optional dependencies
are missing still registers, and fails with a clear message only when run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from melious_impact.errors import MeliousImpactError

COMMAND_MODULES: tuple[str, ...] = (
    "melious_impact.cli.demo",  # demo
    "melious_impact.cli.emulate",  # emulate
    "melious_impact.cli.store_cmds",  # path, info, import, export, compact, retention
    "melious_impact.cli.model_cmds",  # intensity, scenario
    "melious_impact.cli.forecast_cmds",  # forecast, budgets
    "melious_impact.cli.report_cmds",  # report, dashboard
    "melious_impact.cli.export_cmds",  # export-focus
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="melious-impact",
        description="Capture, store, model, forecast and report Melious inference impact and billing.",
    )
    from melious_impact import __version__

    parser.add_argument("--version", action="version", version=f"melious-impact {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `melious-impact forecast ... | head`: the reader left; that is not an error.
        # Point stdout at devnull so the interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except BrokenPipeError:
        raise
    except (ValueError, OSError, MeliousImpactError) as exc:
        # Expected failures (bad arguments, unreadable files, empty stores) get one clear
        # line, not a traceback; anything else is a bug and keeps its traceback.
        print(f"melious-impact: error: {exc}", file=sys.stderr)
        return 1
