"""MkDocs hook: the command-line reference, generated from the argparse parsers at build time.

``docs/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces it with the
``--help`` text of ``melious-impact`` and of every subcommand, so the page cannot drift from
the code: a command added to ``melious_impact.cli.COMMAND_MODULES`` appears on the next build.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- cli-reference -->"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of every subcommand, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [(a.dest, a.help or "", action.choices[a.dest]) for a in action._choices_actions]
    return []


def _help(parser: argparse.ArgumentParser) -> str:
    # A fixed width, so the page does not depend on the terminal that built it.
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        return parser.format_help().rstrip()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def cli_reference() -> str:
    from melious_impact.cli import build_parser

    parser = build_parser()
    commands = _subcommands(parser)
    out = ["## `melious-impact`", "", "```text", _help(parser), "```", ""]
    out += ["| command | what it does |", "|---|---|"]
    for name, summary, _ in commands:
        out.append(f"| [`{name}`](#{name}) | {summary} |")
    out.append("")
    for name, _, sub in commands:
        out += [f"## `{name}` {{#{name}}}", "", "```text", _help(sub), "```", ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference())
    return markdown
